"""Encode one table into one landing file (parquet or CSV). Deterministic: same table, same bytes."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

RAW = "__raw__"  # CSV only: when set, the row is written as this text verbatim (malformed lines)
PARQUET_OPTIONS = {"compression": "zstd", "write_statistics": True, "use_dictionary": False}


def csv_lines(table: pa.Table) -> list[str]:
    """Rows as CSV text lines (no header): ',' separated, '"' quoting only where needed, null = empty."""
    if table.num_rows == 0:
        return []
    cells = []
    for column in table.columns:
        text = pc.cast(column, pa.string()).fill_null("")
        needs_quotes = pc.match_substring_regex(text, '[,"\\r\\n]')
        quoted = pc.binary_join_element_wise('"', pc.replace_substring(text, '"', '""'), '"', "")
        cells.append(pc.if_else(needs_quotes, quoted, text))
    return pc.binary_join_element_wise(*cells, ",").to_pylist()


def write_csv(table: pa.Table, path: Path) -> None:
    """Header + one line per row, '\\n' line ends, UTF-8; RAW rows are written verbatim."""
    raw = table.column(RAW).to_pylist() if RAW in table.column_names else [None] * table.num_rows
    data = table.drop_columns([RAW]) if RAW in table.column_names else table
    body = [text if text is not None else line for line, text in zip(csv_lines(data), raw, strict=True)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([",".join(data.column_names), *body]) + "\n", encoding="utf-8", newline="")


def write_parquet(table: pa.Table, path: Path) -> None:
    """zstd parquet, encoded in memory and written with one system call."""
    buffer = pa.BufferOutputStream()
    pq.write_table(table, buffer, **PARQUET_OPTIONS)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        handle.write(memoryview(buffer.getvalue()))


WRITERS = {"parquet": write_parquet, "csv": write_csv}
