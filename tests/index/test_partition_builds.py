"""Upstream partitions of one collection built by separate processes, and a killed one resumed.

The partitions are the tiny pool's tasks in its BM25 collection (no model, so each process starts
in seconds; ``partition_driver.py`` builds one partition per process). qdrant-client local mode
locks its folder to one process, so there the processes run one after the other (and a second
concurrent opener is refused with a clear message); a Qdrant server takes them at once.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from partition_driver import driver_settings
from recross.errors import IndexStoreError
from recross.pipeline.lexical import open_lexical_collection
from recross.pipeline.upstream import read_pool, write_pool_table

pytestmark = pytest.mark.slow  # a Python process per partition: ~2 min on two cores
DRIVER = Path(__file__).with_name("partition_driver.py")
TASKS = ("ag_news", "sciq")


def _start(home: Path, data_dir: Path, backend: str, task: str, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(DRIVER), str(home), str(data_dir), backend, task,
                             *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(process: subprocess.Popen) -> dict:
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def _stored(settings) -> tuple[set[str], int]:
    """(which pool examples have a point, how many points the collection holds)."""
    pool = read_pool(settings)
    with open_lexical_collection(settings, pool) as index:
        return index.existing_ids([e.example_id for e in pool.examples]), index.count()


def _expected(settings, tasks) -> set[str]:
    return {e.example_id for e in read_pool(settings).examples if e.task in tasks}


def _prepared(tmp_path: Path, data_dir: Path, backend: str, url: str | None = None):
    settings = driver_settings(str(tmp_path / "home"), str(data_dir), backend, url)
    write_pool_table(settings)  # the pool tables exist before any builder starts
    return settings


def test_two_partitions_from_two_processes_in_local_mode_union_exactly(tmp_path, data_dir):
    settings = _prepared(tmp_path, data_dir, "local")
    reports = [_finish(_start(tmp_path / "home", data_dir, "local", task)) for task in TASKS]
    assert [r["partitions"] for r in reports] == [{"ag_news": 12}, {"sciq": 12}]
    ids, points = _stored(settings)
    assert ids == _expected(settings, TASKS) and points == len(ids)  # exact, no duplicates


def test_local_mode_refuses_a_second_process_with_a_clear_message(tmp_path, data_dir):
    """Why local-mode partitions build one after another: its folder is one process's."""
    settings = _prepared(tmp_path, data_dir, "local")
    with open_lexical_collection(settings, read_pool(settings)):
        second = _start(tmp_path / "home", data_dir, "local", "sciq")
        _, err = second.communicate(timeout=300)
    assert second.returncode != 0
    assert "already open in another process" in err


def test_two_partitions_build_at_once_on_a_server(tmp_path, data_dir, qdrant_server_url):
    settings = _prepared(tmp_path, data_dir, "server", qdrant_server_url)
    from qdrant_client import QdrantClient

    with open_lexical_collection(settings, read_pool(settings)) as index:
        name = index.collection
    QdrantClient(url=qdrant_server_url).delete_collection(name)  # a fresh one for this test
    running = [_start(tmp_path / "home", data_dir, "server", task, "--url", qdrant_server_url)
               for task in TASKS]
    reports = [_finish(p) for p in running]
    assert sorted(next(iter(r["partitions"])) for r in reports) == sorted(TASKS)
    ids, points = _stored(settings)
    assert ids == _expected(settings, TASKS) and points == len(ids)


@pytest.mark.parametrize("backend", ["edge", "local"])
def test_a_killed_partition_build_resumes_where_it_stopped(tmp_path, data_dir, backend):
    settings = _prepared(tmp_path, data_dir, backend)
    _finish(_start(tmp_path / "home", data_dir, backend, "sciq"))  # another partition, complete
    killed = _start(tmp_path / "home", data_dir, backend, "ag_news", "--die-after-batches", "2")
    _, err = killed.communicate(timeout=300)
    assert killed.returncode == -signal.SIGKILL, err[-3000:]
    resumed = _finish(_start(tmp_path / "home", data_dir, backend, "ag_news"))
    assert (resumed["skipped"], resumed["written"]) == (8, 4), resumed  # 2 batches were durable
    ids, points = _stored(settings)
    assert ids == _expected(settings, TASKS) and points == len(ids)


def test_a_partition_missing_points_fails_its_own_check(tmp_path, data_dir):
    """The per-partition count check: every example of the partition has its point."""
    from recross.index.build import check_all_stored

    settings = _prepared(tmp_path, data_dir, "edge")
    _finish(_start(tmp_path / "home", data_dir, "edge", "sciq"))
    with open_lexical_collection(settings, read_pool(settings)) as index:
        check_all_stored(index, sorted(_expected(settings, {"sciq"})))
        with pytest.raises(IndexStoreError, match="holds 12 of the 24 examples"):
            check_all_stored(index, sorted(_expected(settings, TASKS)))
