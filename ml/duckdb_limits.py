"""DuckDB's resource limits: one definition for dbt (warehouse/plugins/duckdb_limits.py) and for every
Python connection to the warehouse (`connect`).

By default a DuckDB database takes 80% of the machine's memory for its buffers and every core. Beside
LightGBM, Dagster and an analyst's session on one laptop that is too much, and at the L scale (10M
payments) the build peaked at 21.5 GiB. Past its memory limit DuckDB spills operators (sorts, joins,
aggregates, uncommitted rows) to its temporary directory instead of growing.

- WAREHOUSE_MEMORY_LIMIT: DuckDB's memory_limit (e.g. 3GB, 512MB; default: DuckDB's, 80% of RAM);
- WAREHOUSE_THREADS: DuckDB's threads (default: every core);
- WAREHOUSE_TEMP_DIR: where it spills (default: beside the database file, `<file>.tmp`).

Unset, each is DuckDB's own default, as before these settings existed.

Always on: `allocator_background_threads`, a thread that hands memory DuckDB has freed back to the
operating system. Without it a query's working memory stays in the process after the query: after
loading ~1M labelled rows the training process kept ~170 MiB that neither DuckDB nor LightGBM used,
on top of which the training matrices were then built.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import duckdb

_SIZE = re.compile(r"^\d+(\.\d+)?\s*([KMGT]i?B|B)$", re.IGNORECASE)


def limits() -> dict[str, str]:
    """The settings to apply, checked: a value that is not a size, a count or a path is refused."""
    settings = {"allocator_background_threads": "true"}
    memory = os.environ.get("WAREHOUSE_MEMORY_LIMIT", "").strip()
    if memory:
        if not _SIZE.match(memory):
            raise ValueError(f"WAREHOUSE_MEMORY_LIMIT must be a size such as 3GB or 512MB, got {memory!r}")
        settings["memory_limit"] = memory
    threads = os.environ.get("WAREHOUSE_THREADS")
    if threads:
        if not threads.isdigit() or int(threads) < 1:
            raise ValueError(f"WAREHOUSE_THREADS must be a positive integer, got {threads!r}")
        settings["threads"] = threads
    temp = os.environ.get("WAREHOUSE_TEMP_DIR")
    if temp:
        settings["temp_directory"] = str(Path(temp).resolve())
    return settings


def set_statements() -> list[str]:
    """The limits as SET statements, for a connection that is already open (dbt's)."""
    return [f"set {name} = '{value.replace(chr(39), chr(39) * 2)}'" for name, value in limits().items()]


def connect(path: Path | str, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A connection to a warehouse file with the limits applied."""
    return duckdb.connect(str(path), read_only=read_only, config=limits())


def release_cache(con: duckdb.DuckDBPyConnection) -> None:
    """Hand DuckDB's cached table blocks and its freed memory back to the operating system, before
    the process builds large arrays of its own (training). DuckDB has no statement for this: its
    memory limit is lowered for a moment, which evicts every unpinned block, then put back. Best
    effort: when pinned memory (a result still being read) exceeds the low limit, DuckDB refuses
    the change and nothing is released. Only for a connection no other thread is using at the time.
    Measured on ~1M labelled rows with a 500MB limit: the training process went from 496 to 333 MiB
    after loading."""
    # `reset memory_limit` restores the setting's value but leaves the buffer pool at 1MB (DuckDB
    # 1.5), so the limit is always set back explicitly: the configured one, or DuckDB's default as
    # it reports it (rounded to 0.1 of its unit)
    configured = limits().get("memory_limit")
    if configured is None:
        (configured,) = con.execute("select current_setting('memory_limit')").fetchone()
    try:
        con.execute("set memory_limit = '1MB'")
    except duckdb.OutOfMemoryException:
        pass
    finally:
        con.execute(f"set memory_limit = '{configured}'")
