"""Filling a file system, for the full-disk tests: from a process they start (sitecustomize.py, at a
write point) and from the test itself (tests/reliability/faults.py)."""

import errno
import os


def fill_file_system(filler: str | os.PathLike[str]) -> None:
    """Allocate every free block of the file system holding `filler` to it."""
    with open(filler, "ab") as out:
        chunk = _free_bytes(filler)
        while chunk >= 4096:
            try:
                os.posix_fallocate(out.fileno(), os.fstat(out.fileno()).st_size, chunk)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                chunk //= 2
            else:
                chunk = _free_bytes(filler)


def _free_bytes(path: str | os.PathLike[str]) -> int:
    stat = os.statvfs(path)
    return stat.f_bavail * stat.f_frsize
