"""An exclusive, process-level lock on a folder, so two processes never open one Edge shard.

Qdrant Edge is an embedded engine with no coordination between processes; a second writer
would corrupt the shard. ``flock`` is released by the kernel when the holder dies, so a killed
build never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from recross.errors import IndexStoreError

LOCK_FILE = ".lock"


class FolderLock:
    """Held from construction until :meth:`release`; raises when another holder exists."""

    def __init__(self, folder: Path, *, what: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / LOCK_FILE
        handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 (held until release)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise IndexStoreError(
                f"{what} at {folder} is already open in another process or handle (pid "
                f"{holder}); Qdrant Edge allows one process per shard. Fix: close the other "
                "process (or the other ExampleIndex), or use a Qdrant server (QDRANT_URL) for "
                "concurrent access.") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle.closed:
            return
        fcntl.flock(self._handle, fcntl.LOCK_UN)
        self._handle.close()
