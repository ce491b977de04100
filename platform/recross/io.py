"""Crash-safe writes: nothing half-written is ever read as complete.

Files are written to a temporary sibling and renamed into place (atomic on POSIX); directories
(checkpoints, tables) are built in a temporary sibling, given a completion marker, then renamed.
A failed write (disk full, kill) leaves the previous complete artifact untouched. Temporaries
are named ``.<name>.~<pid>@<host>~<random>`` after their writer, so the next write of the same
target on that host removes those a killed writer left behind (a live writer's, or another
host's on a shared disk, are never touched).
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

COMPLETE_MARKER = ".complete"
_RUST_OS_ERROR = re.compile(r"\(os error (\d+)\)")


def _temporary_prefix(target: Path) -> str:
    return f".{target.name}.~{os.getpid()}@{socket.gethostname()}~"


def _writer_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def remove_orphans(target: Path) -> list[Path]:
    """Delete the temporaries of ``target`` whose writer process (on this host) is gone."""
    removed = []
    for orphan in target.parent.glob(f".{glob.escape(target.name)}.~*@*~*"):
        pid, _, host = orphan.name[len(target.name) + 3:].split("~", 1)[0].partition("@")
        if pid.isdigit() and host == socket.gethostname() and not _writer_alive(int(pid)):
            if orphan.is_dir():
                shutil.rmtree(orphan, ignore_errors=True)
            else:
                orphan.unlink(missing_ok=True)
            removed.append(orphan)
    return removed


def atomic_write_bytes(path: Path, data: bytes) -> None:
    with atomic_file(path) as tmp:
        tmp.write_bytes(data)


def _name_the_file(exc: BaseException, path: Path) -> None:
    """A failed flush (disk full) names no file; name the one that could not be written."""
    if isinstance(exc, OSError) and exc.filename is None:
        exc.filename = str(path)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, value: Any) -> None:
    atomic_write_text(path, json.dumps(value, indent=2, sort_keys=True, default=str))


@contextmanager
def atomic_file(path: Path) -> Iterator[Path]:
    """Yield a temporary sibling of ``path`` for a library to write; rename it onto ``path``.

    For streamed writes (parquet writers) that cannot hand over their bytes at once.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_orphans(path)
    fd, tmp = tempfile.mkstemp(prefix=_temporary_prefix(path), suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        _name_the_file(exc, path)
        raise


def is_complete(directory: Path) -> bool:
    """True when ``directory`` was published by :func:`atomic_directory`."""
    return (directory / COMPLETE_MARKER).is_file()


@contextmanager
def atomic_directory(target: Path) -> Iterator[Path]:
    """Yield a temporary directory; on success it replaces ``target`` with a completion marker.

    On any error the temporary directory is removed and ``target`` (if any) is left as it was.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_orphans(target)
    staging = Path(tempfile.mkdtemp(prefix=_temporary_prefix(target), suffix=".partial",
                                    dir=target.parent))
    retired = target.with_name(f"{_temporary_prefix(target)}old")
    try:
        yield staging
        (staging / COMPLETE_MARKER).write_text("ok\n", encoding="utf-8")
        if target.exists():
            os.replace(target, retired)
        os.replace(staging, target)
        shutil.rmtree(retired, ignore_errors=True)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if retired.exists() and not target.exists():
            os.replace(retired, target)
        os_error = _as_os_error(exc, target)
        if os_error is exc:
            raise
        raise os_error from exc


def _as_os_error(exc: BaseException, target: Path) -> BaseException:
    """Rust writers (safetensors, tokenizers) wrap an I/O failure such as a full disk in their
    own exception type ("... (os error 28)"); give it back its OSError so callers catch one type."""
    match = None if isinstance(exc, OSError) else _RUST_OS_ERROR.search(str(exc))
    if match is None:
        return exc
    code = int(match.group(1))
    return OSError(code, os.strerror(code), str(target))
