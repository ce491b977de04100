"""Building the index from the real (tiny) upstream pool: durable, resumable, checked."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from index_helpers import HashingEncoder
from recross.config import IndexSettings
from recross.errors import IndexStoreError
from recross.index import TaskFilter, build_index, open_index

DIM = 24


def test_build_from_the_pool_retrieves_an_example_by_its_own_text(tmp_path, tiny_pool):
    encoder = HashingEncoder(DIM)
    with open_index(IndexSettings(), collection="pool", dimension=DIM,
                    encoder_name=encoder.name, home=tmp_path) as index:
        report = build_index(index, tiny_pool.examples, encoder.encode, batch_size=20,
                             progress=False)
        probe = tiny_pool.examples[5]
        hits = index.search(encoder.encode([probe.input]), k=3)

    assert (report.total, report.written, report.skipped) == (len(tiny_pool), len(tiny_pool), 0)
    assert probe.example_id in {h.example_id for h in hits[0]}


def test_build_killed_mid_way_resumes_from_the_flushed_points(tmp_path, tiny_pool, data_dir):
    """A SIGKILL (no cleanup at all) between batches loses nothing that upsert acknowledged."""
    home = tmp_path / "home"
    script = textwrap.dedent(f"""
        import os, signal, sys
        from pathlib import Path
        sys.path.insert(0, {str(__file__.rsplit('/', 1)[0])!r})
        from index_helpers import HashingEncoder
        from recross.config import IndexSettings, load_settings
        from recross.data import load_upstream_pool
        from recross.index import build_index, open_index

        settings = load_settings("tiny", environ={{}})
        pool = load_upstream_pool(Path({str(data_dir)!r}), tasks=settings.data.upstream_tasks,
                                  cap_per_task=settings.data.upstream_cap_per_task)
        encoder = HashingEncoder({DIM})

        def encode_until_killed(texts):
            if len(encoder.calls) == 3:
                os.kill(os.getpid(), signal.SIGKILL)
            return encoder.encode(texts)

        index = open_index(IndexSettings(), collection="pool", dimension={DIM},
                           encoder_name=encoder.name, home=Path({str(home)!r}))
        build_index(index, pool.examples, encode_until_killed, batch_size=10, progress=False)
    """)
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                           check=False, timeout=120)
    assert child.returncode == -9, child.stderr

    encoder = HashingEncoder(DIM)
    with open_index(IndexSettings(), collection="pool", dimension=DIM,
                    encoder_name=encoder.name, home=home) as index:
        assert index.count() == 30
        report = build_index(index, tiny_pool.examples, encoder.encode, batch_size=10,
                             progress=False)
        assert (report.skipped, report.written) == (30, len(tiny_pool) - 30)
        assert index.count() == len(tiny_pool)


def test_one_partition_builds_into_a_collection_holding_others(tmp_path, tiny_pool):
    """A collection holds several upstream partitions: the final check counts the examples
    built, not the collection (the union is checked against the pool by the asset check)."""
    encoder = HashingEncoder(DIM)
    with open_index(IndexSettings(), collection="pool", dimension=DIM,
                    encoder_name=encoder.name, home=tmp_path) as index:
        build_index(index, tiny_pool.examples, encoder.encode, batch_size=32, progress=False)
        report = build_index(index, tiny_pool.examples[:10], encoder.encode, batch_size=32,
                             progress=False)
        assert (report.skipped, report.written) == (10, 0)
        assert index.count() == len(tiny_pool)


def test_final_check_fails_when_an_example_of_the_build_has_no_point(tmp_path, tiny_pool):
    from recross.index.build import check_all_stored

    encoder = HashingEncoder(DIM)
    with open_index(IndexSettings(), collection="pool", dimension=DIM,
                    encoder_name=encoder.name, home=tmp_path) as index:
        build_index(index, tiny_pool.examples[:10], encoder.encode, batch_size=32,
                    progress=False)
        ids = [e.example_id for e in tiny_pool.examples[:11]]
        with pytest.raises(IndexStoreError, match="holds 10 of the 11 examples"):
            check_all_stored(index, ids)


def test_encoder_of_the_wrong_dimension_is_stopped_before_writing(tmp_path, tiny_pool):
    wrong = HashingEncoder(DIM + 8, name="test:hashing-24")
    with open_index(IndexSettings(), collection="pool", dimension=DIM,
                    encoder_name=wrong.name, home=tmp_path) as index:
        with pytest.raises(IndexStoreError, match="dimension mismatch"):
            build_index(index, tiny_pool.examples, wrong.encode, batch_size=32, progress=False)
        assert index.count() == 0


def test_non_finite_vectors_are_rejected(tmp_path, tiny_pool):
    with open_index(IndexSettings(), collection="pool", dimension=4, encoder_name="e",
                    home=tmp_path) as index, pytest.raises(IndexStoreError, match="NaN"):
        index.upsert(tiny_pool.examples[:2], np.array([[0, 1, 2, np.nan]] * 2))


def test_pool_task_excluded_for_a_target_that_sits_in_the_pool(tmp_path, tiny_pool):
    encoder = HashingEncoder(DIM)
    target = tiny_pool.tasks[0]
    queries = [e.input for e in tiny_pool.examples if e.task == target][:4]
    with open_index(IndexSettings(), collection="pool", dimension=DIM,
                    encoder_name=encoder.name, home=tmp_path) as index:
        build_index(index, tiny_pool.examples, encoder.encode, batch_size=32, progress=False)
        hits = index.search(encoder.encode(queries), k=16,
                            filters=TaskFilter(exclude_tasks=(target,)))
    assert all(len(row) == 16 and all(h.task != target for h in row) for row in hits)
