"""A warehouse built over stream micro-batch files equals one built over the daily landing files.

One tiny world, two landing zones: the daily exports as generated, and a copy in which the last
landing days hold the same payments as micro-batch files only (streaming/landing.py). Each of those
days is replayed as the producer publishes it (every part file of the day, late files and re-sends
included, in file and row order: streaming/producer.py), each event turned into its landing row
(streaming/events.py) and landed by one consumer in several files, as it would from a stream.

dbt builds both from scratch: the models on the payments source, with their parents, but not those
on the ML layer's scores. Every table and view built from the payments source (staging,
intermediate, features, marts, the quarantine of rejected rows, the reconciliation) must hold the
same rows in both, compared row by row in both directions (EXCEPT ALL). Only lineage may differ:
the file a row was read from and its row number in it (left out), and the same two inside the
landing row kept as JSON (compared without them).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path

import duckdb
import pytest

from streaming.events import landing_message
from streaming.landing import PREFIX, folder, write_micro_batch
from streaming.producer import events_for_days
from tests.conftest import NO_DATA_TESTS, DbtEnv, generate_world
from tests.pipeline import TINY_PIPELINE

# two dbt builds: 18-30 s alone on two cores, 49 s beside another busy process
pytestmark = [pytest.mark.streaming, pytest.mark.slow]

# a month of orders, payments and chargebacks, with enough defects to quarantine streamed rows
WORLD = {**TINY_PIPELINE, "days": 30, "payments_per_day": 100, "defect_rate": 0.03}
STREAMED_DAYS = 3
BATCH_SIZE = 50
CONSUMER = "lander-1"
PAYMENTS_SOURCE = "source.warehouse.payments.payments"
# the models on the payments source and every model they need, but none on the ML layer's scores
SELECTION = ("--select", "@source:payments.payments", "--exclude", "source:ml+")
# Where a row was read from (the landing file, the row's number in it, and the quarantine's id made
# of the two): necessarily different for the rows a micro-batch file holds.
LINEAGE_COLUMNS = frozenset(
    {"_source_file", "_source_row_number", "source_file", "source_row_number", "rejected_row_id"}
)
# The landing row as read (a Parquet row as JSON) holds the reader's lineage columns too, the file's
# absolute path included: compared without them.
ROW_COLUMNS = frozenset({"_source_row", "source_row"})
READER_LINEAGE = json.dumps({"filename": None, "file_row_number": None})


@dataclass(frozen=True)
class Warehouses:
    daily: DbtEnv
    stream: DbtEnv
    streamed_days: list[date]


def _landing_days(landing: Path) -> list[date]:
    return sorted(date.fromisoformat(path.name.removeprefix("date=")) for path in folder(landing).iterdir())


def _day_folder(landing: Path, day: date) -> Path:
    return folder(landing) / f"date={day.isoformat()}"


def _land_as_micro_batches(daily_landing: Path, stream_landing: Path, day: date) -> None:
    """The day's daily payment files replaced by the micro-batch files of the same events."""
    for path in _day_folder(stream_landing, day).glob("*.parquet"):
        path.unlink()
    first_ms = int(datetime.combine(day, time(), UTC).timestamp() * 1000)
    bodies = events_for_days(daily_landing, [day])
    messages = [landing_message(f"{first_ms}-{number}", body) for number, body in enumerate(bodies)]
    for start in range(0, len(messages), BATCH_SIZE):
        write_micro_batch(stream_landing, CONSUMER, messages[start : start + BATCH_SIZE])


def _build(env: DbtEnv) -> None:
    env.database.parent.mkdir(parents=True, exist_ok=True)
    env.dbt("build", *SELECTION, *NO_DATA_TESTS.split())


@pytest.fixture(scope="module")
def warehouses(tmp_path_factory: pytest.TempPathFactory) -> Warehouses:
    root = tmp_path_factory.mktemp("micro-batch-warehouse")
    landing, oracle = generate_world(root / "world", **WORLD)
    shutil.rmtree(oracle)
    streamed_days = _landing_days(landing)[-STREAMED_DAYS:]
    stream_landing = root / "stream" / "landing"
    # hard links: the copy's files are only removed or added, never rewritten
    shutil.copytree(landing, stream_landing, copy_function=os.link)
    for day in streamed_days:
        _land_as_micro_batches(landing, stream_landing, day)
    # distinct file names: each file's catalog (its views' qualifier) keeps its own name when attached
    daily = DbtEnv(landing, root / "daily" / "daily.duckdb", root / "daily")
    stream = DbtEnv(stream_landing, root / "stream" / "stream.duckdb", root / "stream")
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(_build, (daily, stream)))
    return Warehouses(daily, stream, streamed_days)


def _descendants(child_map: dict[str, list[str]], roots: Iterable[str]) -> set[str]:
    found, todo = set(), list(roots)
    while todo:
        for child in child_map.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _relations_built_from_payments(target_dir: Path) -> list[str]:
    """schema.name of every model built from the payments source and not from the ML layer."""
    manifest = json.loads((target_dir / "manifest.json").read_text())
    ml_sources = [key for key, source in manifest["sources"].items() if source["source_name"] == "ml"]
    child_map = manifest["child_map"]
    built = _descendants(child_map, [PAYMENTS_SOURCE]) - _descendants(child_map, ml_sources)
    nodes = [manifest["nodes"][key] for key in built if key.startswith(("model.", "snapshot."))]
    return sorted(f"{node['schema']}.{node['alias']}" for node in nodes)


def _connect(warehouses: Warehouses) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for env in (warehouses.daily, warehouses.stream):
        con.execute(f"attach '{env.database}' as {env.database.stem} (read_only)")
    return con


def _columns(con: duckdb.DuckDBPyConnection, relation: str) -> list[tuple[str, str]]:
    return [(row[0], row[1]) for row in con.execute(f"describe {relation}").fetchall()]


def _compared(column: str) -> str:
    if column not in ROW_COLUMNS:
        return f'"{column}"'
    value = f'cast("{column}" as string)'
    without_lineage = f"cast(json_merge_patch({value}, '{READER_LINEAGE}') as string)"
    # a CSV file's row is its line of text, not a JSON object
    is_object = f"json_type(try_cast({value} as json)) = 'OBJECT'"
    return f'case when {is_object} then {without_lineage} else {value} end as "{column}"'


def _count(con: duckdb.DuckDBPyConnection, query: str) -> int:
    (rows,) = con.execute(f"select count(*) from ({query})").fetchone()
    return int(rows)


@dataclass(frozen=True)
class Difference:
    daily_rows: int
    stream_rows: int
    only_daily: int
    only_stream: int
    sample: list[tuple]

    @property
    def same(self) -> bool:
        return self.daily_rows == self.stream_rows and self.only_daily == self.only_stream == 0


def _difference(con: duckdb.DuckDBPyConnection, relation: str, columns: list[str]) -> Difference:
    select = ", ".join(_compared(column) for column in columns)
    daily, stream = f"select {select} from daily.{relation}", f"select {select} from stream.{relation}"
    return Difference(
        _count(con, daily),
        _count(con, stream),
        _count(con, f"{daily} except all {stream}"),
        _count(con, f"{stream} except all {daily}"),
        con.execute(f"({daily} except all {stream}) limit 3").fetchall(),
    )


def test_the_streamed_days_hold_micro_batch_files_only(warehouses: Warehouses) -> None:
    """Each streamed day was a daily export with late files or re-sends, and is now several
    micro-batch files and nothing else."""
    for day in warehouses.streamed_days:
        daily_files = sorted(_day_folder(warehouses.daily.landing_dir, day).glob("*.parquet"))
        stream_files = sorted(_day_folder(warehouses.stream.landing_dir, day).iterdir())
        assert len(daily_files) > 1, f"{day}: no late file or re-send to replay"
        assert len(stream_files) > 1 and all(path.name.startswith(PREFIX) for path in stream_files), (
            day,
            [path.name for path in stream_files],
        )


def test_the_warehouses_hold_the_same_rows(warehouses: Warehouses) -> None:
    relations = _relations_built_from_payments(warehouses.stream.target_dir)
    expected = {
        "staging.base_payments__payments",
        "staging.stg_payments__payments",
        "marts.fct_payments",
        "features.feat_payment_fraud",
        "quarantine.rejected_rows",
    }
    assert expected <= set(relations), relations
    report, excluded = {}, set()
    with _connect(warehouses) as con:
        for relation in relations:
            columns = _columns(con, f"daily.{relation}")
            assert columns == _columns(con, f"stream.{relation}"), relation
            names = [name for name, _type in columns]
            excluded |= LINEAGE_COLUMNS.intersection(names)
            difference = _difference(con, relation, [name for name in names if name not in LINEAGE_COLUMNS])
            if not difference.same or difference.daily_rows == 0:
                report[relation] = difference
    print(f"compared {relations}, without the lineage columns {sorted(excluded)}")
    assert not report, "\n".join(f"{relation}: {difference}" for relation, difference in report.items())
    assert excluded == LINEAGE_COLUMNS


# each relation's landing files of the streamed days' payment rows
STREAMED_FILES = {
    "staging.base_payments__payments": "select _source_file from {relation} where _loaded_on in ({days})",
    "quarantine.rejected_rows": (
        "select source_file from {relation} where source_table = 'payments' and loaded_on in ({days})"
    ),
}


def _streamed_files(warehouses: Warehouses, env: DbtEnv, relation: str) -> list[str]:
    days = ", ".join(f"date '{day.isoformat()}'" for day in warehouses.streamed_days)
    with duckdb.connect(str(env.database), read_only=True) as con:
        rows = con.execute(STREAMED_FILES[relation].format(relation=relation, days=days)).fetchall()
    return [Path(file).name for (file,) in rows]


@pytest.mark.parametrize("relation", sorted(STREAMED_FILES))
def test_the_streamed_rows_were_read_from_micro_batch_files(warehouses: Warehouses, relation: str) -> None:
    """The stream warehouse read the streamed days from the micro-batch files, the daily one from the
    daily files, and both quarantined some of them (the simulator's defects): the comparison above
    compares rows that took each path."""
    daily = _streamed_files(warehouses, warehouses.daily, relation)
    stream = _streamed_files(warehouses, warehouses.stream, relation)
    assert daily and len(stream) == len(daily)
    assert not [name for name in daily if name.startswith(PREFIX)]
    assert all(name.startswith(PREFIX) for name in stream)
