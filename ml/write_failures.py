"""A failed write reported as the operator needs it: which step, which file, what the OS said.

Below a step, a full disk or a failing device surfaces as a bare `OSError: [Errno 28] No space left
on device` (no file named when Python wrote it) or as a DuckDB error; several layers up, in a
Dagster step or a command's traceback, nobody can tell which write of which step it was. The steps
that write in stages wrap those writes in `reported(step, path)`; the cleanup the stages already do
(staging files removed, transactions rolled back) runs first, because it sits inside.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from ml.errors import WriteFailedError

# the DuckDB errors a failing file system raises: the write itself, a commit whose log write
# failed, and every later statement on a database invalidated by such a failure
_DUCKDB_WRITE_ERRORS = (duckdb.IOException, duckdb.TransactionException, duckdb.FatalException)


@contextmanager
def reported(step: str, path: Path) -> Iterator[None]:
    """Re-raise an OS or DuckDB write failure inside as a WriteFailedError naming `step` and the
    file (the one the OS names, else `path`)."""
    try:
        yield
    except WriteFailedError:
        raise
    except OSError as exc:
        code = errno.errorcode.get(exc.errno or 0, "")
        cause = f"{exc.strerror} ({code})" if exc.strerror else str(exc)
        where = exc.filename or path
        if exc.filename2:  # a rename
            where = f"{where} -> {exc.filename2}"
        raise WriteFailedError(f"{step} failed on {where}: {cause}") from exc
    except _DUCKDB_WRITE_ERRORS as exc:
        raise WriteFailedError(f"{step} failed on {path}: {exc}") from exc


def database_file(con: duckdb.DuckDBPyConnection) -> Path:
    """The file of the connection's current database (what a failed commit was writing to)."""
    (path,) = con.execute(
        "select path from duckdb_databases() where database_name = current_database()"
    ).fetchone()
    return Path(path)
