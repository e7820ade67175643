"""A child process that encodes and writes landing files while the parent simulates the next days.

Parquet encoding and file-system calls are about a third of the work; a separate process (unlike a
thread) runs them in parallel without contending for the GIL. The parent sends each table as an Arrow
IPC stream over the child's stdin; file contents do not depend on timing, so output stays
deterministic. Run as `python -m simulator.sink` (started by FileSink, not by hand).
"""

from __future__ import annotations

import os
import queue
import struct
import subprocess
import sys
import threading
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa

from simulator.files import WRITERS

_HEADER = struct.Struct("<BIQ")  # writer kind, path length, payload length
_KINDS = list(WRITERS)
_PACKAGE_PARENT = Path(__file__).resolve().parent.parent


def _ipc(table: pa.Table) -> pa.Buffer:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as stream:
        stream.write_table(table)
    return sink.getvalue()


class FileSink:
    """Parent side: queue files for the writer process; `close` waits and reports failures."""

    def __init__(self, max_queued: int = 256):
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_PACKAGE_PARENT), env.get("PYTHONPATH")) if p)
        self._process = subprocess.Popen(
            [sys.executable, "-m", "simulator.sink"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            env=env,
        )
        self._queue: queue.Queue[tuple[bytes, pa.Buffer] | None] = queue.Queue(maxsize=max_queued)
        self._error: BaseException | None = None
        self._feeder = threading.Thread(target=self._feed, name="simulator-file-sink", daemon=True)
        self._feeder.start()

    def _feed(self) -> None:
        stdin = self._process.stdin
        assert stdin is not None
        try:
            while (item := self._queue.get()) is not None:
                stdin.write(item[0])
                stdin.write(memoryview(item[1]))
            stdin.close()
        except BaseException as exc:  # a dead child: remember, keep draining so producers never block
            self._error = exc
            while self._queue.get() is not None:
                pass

    def submit(self, file_format: str, table: pa.Table, path: Path) -> None:
        if self._error is not None:
            raise RuntimeError("the file writer process failed") from self._error
        encoded_path = str(path).encode()
        payload = _ipc(table)
        header = _HEADER.pack(_KINDS.index(file_format), len(encoded_path), payload.size)
        self._queue.put((header + encoded_path, payload))

    def close(self) -> None:
        """Flush everything and wait for the writer process; raise if any file was not written."""
        self._queue.put(None)
        self._feeder.join()
        code = self._process.wait()
        if self._error is not None or code != 0:
            raise RuntimeError(f"the file writer process failed (exit code {code})") from self._error

    def abort(self) -> None:
        """Stop the writer process without waiting for queued files (after a failure in the parent)."""
        self._process.kill()
        self._process.wait()
        self._queue.put(None)


def serve(stream: BinaryIO) -> None:
    """Child side: write every file received until end of input."""
    while head := stream.read(_HEADER.size):
        if len(head) != _HEADER.size:
            raise EOFError("truncated file header")
        kind, path_length, payload_length = _HEADER.unpack(head)
        path = Path(stream.read(path_length).decode())
        payload = stream.read(payload_length)
        if len(payload) != payload_length:
            raise EOFError(f"truncated payload for {path}")
        table = pa.ipc.open_stream(pa.py_buffer(payload)).read_all()
        WRITERS[_KINDS[kind]](table, path)


if __name__ == "__main__":
    serve(sys.stdin.buffer)
