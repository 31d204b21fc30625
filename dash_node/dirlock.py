"""One engine per replica directory: an exclusive lock on ``<dir>/LOCK`` for as long as it is open.

Two engines on one directory (two nodes given the same ``--data-dir``, or an embedded client opened
beside a running node) would both append to the WAL and both apply to LMDB, whose own lock lets several
processes in: records would interleave and acknowledged writes could be lost. ``flock`` is released by
the kernel when its holder dies, so a crash never leaves a stale lock behind; it is held per open file,
so a second engine in the same process is refused as well.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from dash_node.errors import FailedPrecondition


class DirLock:
    """Held from construction until ``release``; the file names the holder's pid."""

    def __init__(self, directory: Path) -> None:
        path = directory / "LOCK"
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self._fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(self._fd)
            raise FailedPrecondition(
                f"data_dir: {directory} is already open (pid {holder} holds {path}); "
                "one engine per replica directory"
            ) from None
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"{os.getpid()}\n".encode("ascii"), 0)

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # closing the only descriptor drops the lock
            self._fd = -1
