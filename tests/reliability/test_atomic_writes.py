"""A writer killed inside an atomic write: the previous artifact stays, the next write tidies up.

The kill/resume trials land inside a publish only by chance; here the child is killed at a
known point (files half-written into the staging directory or temporary file).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

from recross.io import atomic_directory, atomic_write_bytes, is_complete, remove_orphans

HALF_WRITE = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from recross.io import atomic_directory, atomic_file

    model, table = Path(sys.argv[1]), Path(sys.argv[2])
    with atomic_directory(model) as staging, atomic_file(table) as tmp:
        (staging / "weights.bin").write_bytes(b"new, half")
        tmp.write_bytes(b"new, half")
        print("half-written", flush=True)
        time.sleep(60)
""")


def _kill_mid_write(model: Path, table: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", HALF_WRITE, str(model), str(table)],
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdout.readline().strip() == "half-written"
    os.kill(child.pid, signal.SIGKILL)
    assert child.wait(timeout=30) == -signal.SIGKILL


def _publish(model: Path, content: bytes) -> None:
    with atomic_directory(model) as staging:
        (staging / "weights.bin").write_bytes(content)


def test_killed_writer_leaves_the_previous_artifacts_and_the_next_write_removes_its_orphans(
        tmp_path: Path):
    model, table = tmp_path / "model", tmp_path / "table.parquet"
    _publish(model, b"old, complete")
    atomic_write_bytes(table, b"old, complete")

    _kill_mid_write(model, table)

    assert is_complete(model) and (model / "weights.bin").read_bytes() == b"old, complete"
    assert table.read_bytes() == b"old, complete"
    orphans = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("."))
    assert len(orphans) == 2 and orphans[0].endswith(".partial") and orphans[1].endswith(".tmp")

    _publish(model, b"new, complete")
    atomic_write_bytes(table, b"new, complete")

    assert (model / "weights.bin").read_bytes() == table.read_bytes() == b"new, complete"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model", "table.parquet"]


def test_temporaries_of_live_or_remote_writers_are_never_removed(tmp_path: Path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    kept = [tmp_path / f".table.parquet.~{os.getpid()}@{socket.gethostname()}~abc.tmp",
            tmp_path / f".table.parquet.~{dead}@another-host~abc.tmp",  # shared disk
            tmp_path / ".table.parquet.~old~"]  # not a writer's name
    orphan = tmp_path / f".table.parquet.~{dead}@{socket.gethostname()}~abc.tmp"
    for path in (*kept, orphan):
        path.write_bytes(b"")

    assert remove_orphans(tmp_path / "table.parquet") == [orphan]
    assert all(path.exists() for path in kept) and not orphan.exists()
