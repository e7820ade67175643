"""Dagster's SQLite storage with the event log's database connections kept open.

Dagster's `SqliteEventLogStorage` (one database per run plus a cross-run index) builds a new
SQLAlchemy engine, opens a connection, commits, closes and disposes the engine for every database
write, and an asset check's result is three such writes (the run's database, the index twice).
Profiled with `py-spy record --subprocesses` on a one-day `daily_refresh`: 15.2 s of the run
process went to storing events, 9.2 s of it to opening and closing connections (closing the last
connection to a WAL database also checkpoints it).

`PooledSqliteEventLogStorage` keeps one engine per database, the most recently used few, and is
otherwise Dagster's storage: same files, same schema, same migrations, same locking (SQLite in WAL
mode lets the UI, the daemon and a run read and write the same files at once, as before).
`orchestration/dagster.yaml` selects it through `WarehouseInstance`, whose only change to Dagster's
instance is that default storage, laid out in the instance's directory as Dagster lays it out.

It also stores a batch of events in one transaction per database. Dagster hands a step's
per-partition materializations over as one batch when DAGSTER_EVENT_BATCH_SIZE is set (the Makefile
sets it): a run over 425 landing days records 1,275 of them, one commit each before.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager

import yaml
from dagster import DagsterInstance
from dagster import _check as check
from dagster._core.events.log import EventLogEntry
from dagster._core.instance.ref import InstanceRef, _event_logs_directory
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._core.storage.sqlite_storage import DagsterSqliteStorage
from dagster._serdes import ConfigurableClassData
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import QueuePool

# A run writes its own database and the index; the UI reads a few runs at a time.
OPEN_DATABASES = 8


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    """`SqliteEventLogStorage` that reuses one engine (one open connection) per database."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._engines_lock = threading.Lock()
        self._batch = threading.local()  # the open transactions of a batch, on the thread storing it
        super().__init__(base_dir, inst_data)

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping
    ) -> PooledSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> Engine:
        """The open engine of `shard`'s database, created on first use; the least recently used
        engine beyond OPEN_DATABASES is closed."""
        with self._engines_lock:
            engine = self._engines.pop(shard, None)
            if engine is None:
                engine = create_engine(
                    self.conn_string_for_shard(shard),
                    poolclass=QueuePool,
                    pool_size=1,
                    max_overflow=2,  # _initdb opens a second connection inside the first
                    # the connection is used under the storage's lock, from whichever thread holds it
                    connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
                )
            self._engines[shard] = engine
            while len(self._engines) > OPEN_DATABASES:
                _, oldest = self._engines.popitem(last=False)
                oldest.dispose()
            return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        batch: _Batch | None = getattr(self._batch, "open", None)
        if batch is not None:  # inside store_event_batch, which holds the lock
            if shard not in batch.connections:
                batch.connections[shard] = batch.stack.enter_context(self._transaction(shard))
            yield batch.connections[shard]
            return
        with self._db_lock, self._transaction(shard) as conn:
            yield conn

    @contextmanager
    def _transaction(self, shard: str) -> Iterator[Connection]:
        check.str_param(shard, "shard")
        engine = self._engine(shard)
        if shard not in self._initialized_dbs:
            self._initdb(engine)
            self._initialized_dbs.add(shard)
        with engine.connect() as conn, conn.begin():
            yield conn

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        """Every event as `store_event` stores it, in one transaction per database: all of them
        or, on an error, none (Dagster then stores them one by one)."""
        with self._db_lock, ExitStack() as stack:
            self._batch.open = _Batch(stack)
            try:
                for event in events:
                    self.store_event(event)
            finally:
                self._batch.open = None

    def close_databases(self) -> None:
        """Close every open database (before files are removed, and on dispose)."""
        with self._engines_lock:
            while self._engines:
                _, engine = self._engines.popitem()
                engine.dispose()

    def wipe(self) -> None:
        self.close_databases()
        super().wipe()

    def dispose(self) -> None:
        self.close_databases()
        super().dispose()


class _Batch:
    """The transactions a batch has opened, by database, committed when `stack` closes."""

    def __init__(self, stack: ExitStack) -> None:
        self.stack = stack
        self.connections: dict[str, Connection] = {}


class PooledSqliteStorage(DagsterSqliteStorage):
    """Dagster's SQLite storage (runs, event log, schedules in `base_dir`) with the pooled event log."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        super().__init__(base_dir, inst_data)
        self._event_log_storage = PooledSqliteEventLogStorage(_event_logs_directory(base_dir))

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData, config_value: Mapping
    ) -> PooledSqliteStorage:
        return cls.from_local(inst_data=inst_data, **config_value)


class WarehouseInstance(DagsterInstance):
    """Dagster's instance whose default storage is `PooledSqliteStorage` in the instance's directory
    (a `storage:` entry in dagster.yaml still wins, as for Dagster's own instance)."""

    @classmethod
    def config_schema(cls) -> dict:
        return {}

    @staticmethod
    def config_defaults(base_dir: str) -> Mapping[str, ConfigurableClassData | None]:
        defaults = dict(InstanceRef.config_defaults(base_dir))
        defaults["storage"] = ConfigurableClassData(
            __name__,
            PooledSqliteStorage.__name__,
            yaml.dump({"base_dir": base_dir}, default_flow_style=False),
        )
        return defaults
