"""The online scoring API on a really trained warehouse: it gives the batch scores, and it swaps
in a new champion when the snapshot is republished, without failing a request."""

from __future__ import annotations

import hashlib
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from ml import registry
from orchestration.defs.publish.publishing import publish
from serving.app import create_app
from serving.schemas import Payment
from serving.scorer import to_event
from serving.settings import ServingSettings
from tests.serving.fakes import send_case, wait_ready
from tests.trained import TrainedWarehouse

pytestmark = pytest.mark.slow

SCORE_PATH = "/v1/models/payment_fraud/score"
SAMPLE = 300
REQUEST_FIELDS = (
    "payment_id",
    "paid_at",
    "customer_id",
    "card_fingerprint",
    "device_id",
    "amount_usd",
    "channel",
    "merchant_category_code",
    "ip_country",
    "is_authorized",
)
BATCH_SCORES = f"""
    select {", ".join(f"p.{field}" for field in REQUEST_FIELDS)},
        s.fraud_score, s.is_flagged, s.model_version, s.reason_codes
    from ml.payment_fraud_scores as s
    inner join marts.fct_payments as p on s.payment_id = p.payment_id
    where p.paid_at >= ?
"""


def request_payment(row: dict[str, Any]) -> dict[str, Any]:
    body = {field: row[field] for field in REQUEST_FIELDS}
    body["paid_at"] = row["paid_at"].isoformat() + "Z"  # the warehouse's naive UTC
    body["amount_usd"] = float(row["amount_usd"])
    return body


def served_settings(snapshot: Path, models_dir: Path, root: Path) -> ServingSettings:
    return ServingSettings(
        snapshot=snapshot, models_dir=models_dir, log_dir=root / "serving_log", poll_seconds=0.1
    )


@pytest.fixture(scope="module")
def published(
    trained_warehouse: TrainedWarehouse, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("serving")
    target = root / "analytics.duckdb"
    publish(trained_warehouse.env.database, target)
    yield target
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def client(published: Path, trained_warehouse: TrainedWarehouse) -> Iterator[TestClient]:
    app = create_app(served_settings(published, trained_warehouse.env.models_dir, published.parent))
    with TestClient(app) as client:
        wait_ready(client, timeout=180)
        yield client


@pytest.fixture(scope="module")
def batch_sample(client: TestClient, published: Path) -> list[dict[str, Any]]:
    """Up to SAMPLE payments scored by the batch path, every flagged one among them, from the
    span where the online windows are complete (the store keeps the longest window plus a day)."""
    complete_from = client.app.state.holder.current.store.complete_from
    with duckdb.connect(str(published), read_only=True) as con:
        rows = con.execute(BATCH_SCORES, [complete_from]).pl().to_dicts()
    # deterministic: flagged first, then by a hash of the id
    rows.sort(key=lambda r: (not r["is_flagged"], hashlib.sha256(r["payment_id"].encode()).hexdigest()))
    return rows[:SAMPLE]


def test_the_api_gives_the_batch_scores(client: TestClient, batch_sample: list[dict[str, Any]]) -> None:
    assert len(batch_sample) >= 200
    flagged = sum(row["is_flagged"] for row in batch_sample)
    assert flagged >= 5, "the sample should hold flagged payments, whose reason codes are compared"
    results = {}
    singles, rest = batch_sample[:50], batch_sample[50:]
    for row in singles:  # one payment per request...
        response = client.post(SCORE_PATH, json=request_payment(row))
        assert response.status_code == 200, response.text
        results.update({r["payment_id"]: r for r in response.json()["results"]})
    for start in range(0, len(rest), 100):  # ...and batches of 100
        batch = {"payments": [request_payment(row) for row in rest[start : start + 100]]}
        response = client.post(SCORE_PATH, json=batch)
        assert response.status_code == 200, response.text
        results.update({r["payment_id"]: r for r in response.json()["results"]})

    differences = []
    for row in batch_sample:
        online = results[row["payment_id"]]
        differences.append(abs(online["score"] - row["fraud_score"]))
        assert online["is_flagged"] == row["is_flagged"], row["payment_id"]
        assert online["model_version"] == row["model_version"]
        assert online["reason_codes"] == (list(row["reason_codes"]) if row["is_flagged"] else None)
    # the API predicts with the compiled forest (batch, below 1M rows, with LightGBM): equal within
    # the 1e-9 the compiled forest is checked to, not bit for bit
    assert max(differences) <= 1e-9


def test_the_champion_is_compiled_and_reported(client: TestClient) -> None:
    model = client.app.state.holder.current
    assert model.info.engine == "lleaves"
    metrics = client.get("/metrics").text
    assert 'scoring_api_model_version{model_name="payment_fraud"} 1.0' in metrics


def test_the_real_model_never_fails_on_generated_input(client: TestClient) -> None:
    """A short schemathesis fuzz of the app serving the real model: odd but valid payments (a
    year-2000 timestamp, far outside the state's windows; a million dollars; categories never seen
    in training) reach the real feature store and model, and invalid ones are refused."""
    operation = schemathesis.openapi.from_asgi("/openapi.json", client.app)[SCORE_PATH]["POST"]
    cases = st.one_of(*(operation.as_strategy(mode) for mode in GenerationMode))

    @given(case=cases)
    @settings(
        max_examples=100,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case) -> None:
        case.validate_response(
            send_case(client, case), checks=[not_a_server_error, response_schema_conformance]
        )

    fuzz()


def new_champion_build(snapshot: Path, build: Path, models_dir: Path) -> None:
    """A build file where the fraud champion moved to version 2 (a copy of version 1's artifact),
    recorded through ml.registry as the pipeline does."""
    shutil.copy(snapshot, build)
    with duckdb.connect(str(build)) as con:
        con.execute("drop table ml.model_aliases")  # published as a table; the build has the view
        registry.ensure_schema(con)
        row = (
            con.execute("select * from ml.model_registry where model_name = 'payment_fraud' and version = 1")
            .pl()
            .to_dicts()[0]
        )
        row.update(version=2, artifact_path="payment_fraud/2")
        registry.register(con, row)
        registry.record_alias(
            con, "payment_fraud", "champion", 2, "set", "test: hot swap", datetime(2030, 1, 1)
        )


def test_a_republished_champion_is_swapped_in_without_failing_a_request(
    trained_warehouse: TrainedWarehouse, published: Path, tmp_path: Path
) -> None:
    models_dir = tmp_path / "models"
    source = trained_warehouse.env.models_dir
    for version in ("1", "2"):
        shutil.copytree(source / "payment_fraud" / "1", models_dir / "payment_fraud" / version)
    if (source / ".compiled").is_dir():
        shutil.copytree(source / ".compiled", models_dir / ".compiled")
    snapshot = tmp_path / "analytics.duckdb"
    shutil.copy(published, snapshot)
    build = tmp_path / "next_build.duckdb"
    new_champion_build(snapshot, build, models_dir)

    with duckdb.connect(str(snapshot), read_only=True) as con:
        latest = (
            con.execute(
                f"select {', '.join(REQUEST_FIELDS)} from marts.fct_payments where is_authorized "
                "and channel = 'online' order by paid_at desc, payment_id limit 20"
            )
            .pl()
            .to_dicts()
        )
    online_only = request_payment(latest[0]) | {
        "payment_id": "pay_online_only_1",
        "paid_at": (latest[0]["paid_at"] + timedelta(minutes=1)).isoformat() + "Z",
    }

    app = create_app(served_settings(snapshot, models_dir, tmp_path))
    with TestClient(app) as client:
        wait_ready(client, timeout=180)
        # a payment the snapshots never hold: the new state must get it by replay
        assert client.post(SCORE_PATH, json=online_only).status_code == 200
        old_store = app.state.holder.current.store
        publisher = threading.Thread(target=publish, args=(build, snapshot))
        publisher.start()
        statuses, versions, deadline = [], [], time.monotonic() + 180
        while time.monotonic() < deadline and (publisher.is_alive() or not versions or versions[-1] != 2):
            row = latest[1 + len(statuses) % (len(latest) - 1)]
            response = client.post(SCORE_PATH, json=request_payment(row))
            statuses.append(response.status_code)
            if response.status_code == 200:
                versions.append(response.json()["results"][0]["model_version"])
        publisher.join()
        new_store = app.state.holder.current.store
        # features of a later payment on the same card, in the old state and in the replayed new one
        first = to_event(Payment.model_validate(online_only))
        later = replace(first, payment_id="pay_online_only_2", paid_at=first.paid_at + timedelta(minutes=1))
        before_swap, after_swap = old_store.features([later]), new_store.features([later])

    assert set(statuses) == {200}, statuses
    assert versions[0] == 1 and versions[-1] == 2 and versions == sorted(versions)
    assert new_store is not old_store
    assert after_swap.equals(before_swap)
    assert after_swap["card_payments_1h"][0] >= 2  # the replayed payment counts
