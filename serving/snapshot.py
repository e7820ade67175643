"""Reads from the published snapshot (ANALYTICS_DB). Every read opens the file read-only and closes
it before returning: DuckDB caches a database per path in a process and would keep serving the old
file after the publisher replaced it for as long as any connection to the path stays open."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa

from ml import registry
from ml.duckdb_limits import connect
from ml.registry import RegisteredVersion
from serving.features import PaymentEvent

EVENT_COLUMNS = (
    "payment_id",
    "paid_at",
    "customer_id",
    "card_fingerprint",
    "device_id",
    "cast(amount_usd as double) as amount_usd",
    "channel",
    "merchant_category_code",
    "ip_country",
    "is_authorized",
)


def read_champion(snapshot: Path, model_name: str) -> RegisteredVersion:
    with connect(snapshot, read_only=True) as con:
        return registry.resolve(con, model_name)


def latest_payments(snapshot: Path, limit: int) -> list[PaymentEvent]:
    """The snapshot's latest authorized payments (the rows the model scores), newest first."""
    with connect(snapshot, read_only=True) as con:
        rows = con.execute(
            f"select {', '.join(EVENT_COLUMNS)} from marts.fct_payments where is_authorized "
            "order by paid_at desc, payment_id limit ?",
            [limit],
        ).fetchall()
    return [PaymentEvent(*row) for row in rows]


def payment_ids_held(snapshot: Path, payment_ids: Sequence[str]) -> set[str]:
    """Which of these payments the snapshot's marts.fct_payments holds."""
    wanted = pa.table({"payment_id": pa.array(list(payment_ids), pa.string())})
    with connect(snapshot, read_only=True) as con:
        con.register("_wanted", wanted)
        rows = con.execute(
            "select payment_id from marts.fct_payments where payment_id in (select payment_id from _wanted)"
        ).fetchall()
    return {payment_id for (payment_id,) in rows}
