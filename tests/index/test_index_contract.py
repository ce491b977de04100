"""The contract every index backend honours (Edge, qdrant-client local mode, Qdrant server)."""

from __future__ import annotations

import itertools
import uuid

import numpy as np
import pytest
from index_helpers import HashingEncoder, exact_top_k, random_vectors, synthetic_examples
from recross.errors import IndexStoreError
from recross.index import TaskFilter, build_index, point_id
from recross.index.base import POINT_ID_NAMESPACE

DIM = 16


def test_search_returns_exact_dot_product_ranking_with_payload(open_test_index):
    examples = synthetic_examples(120)
    vectors = random_vectors(120, DIM)
    index = open_test_index(dimension=DIM)
    index.upsert(examples, vectors)
    queries = random_vectors(4, DIM, seed=1)

    hits = index.search(queries, k=10, exact=True)

    expected = exact_top_k(vectors, queries, 10)
    assert [[h.example_id for h in row] for row in hits] == \
        [[examples[j].example_id for j in row] for row in expected]
    first = hits[0][0]
    source = next(e for e in examples if e.example_id == first.example_id)
    assert (first.task, first.template, first.split, first.source_index) == \
        (source.task, source.template, source.split, source.source_index)
    assert first.score == pytest.approx(float(queries[0] @ vectors[examples.index(source)]),
                                        rel=1e-4)
    assert all(a.score >= b.score for row in hits for a, b in itertools.pairwise(row))


def test_reupsert_overwrites_points_instead_of_duplicating(open_test_index):
    examples = synthetic_examples(50)
    vectors = random_vectors(50, DIM)
    index = open_test_index(dimension=DIM)
    index.upsert(examples, vectors)
    index.upsert(examples, vectors)
    assert index.count() == 50

    moved = vectors.copy()
    moved[7] = 100.0 * np.ones(DIM, dtype=np.float32)
    index.upsert(examples[7:8], moved[7:8])

    assert index.count() == 50
    top = index.search(np.ones((1, DIM), dtype=np.float32), k=1, exact=True)[0][0]
    assert top.example_id == examples[7].example_id


def test_point_ids_are_uuid5_of_the_example_id():
    for example_id in ("ag_news|train|t|#1", "ag_news|train|t|#2", "é|x|y|#0", ""):
        assert point_id(example_id) == str(uuid.uuid5(POINT_ID_NAMESPACE, example_id))
    assert point_id("ag_news|train|t|#1") != point_id("ag_news|train|t|#2")


def test_existing_ids_reports_only_stored_examples(open_test_index):
    examples = synthetic_examples(30)
    index = open_test_index(dimension=DIM)
    index.upsert(examples[:20], random_vectors(20, DIM))

    asked = [e.example_id for e in examples[15:25]] + ["no-such|train|t|#0"]

    assert index.existing_ids(asked) == {e.example_id for e in examples[15:20]}


def test_interrupted_build_resumes_with_only_the_missing_examples(open_test_index, tiny_pool):
    examples = tiny_pool.examples
    encoder = HashingEncoder(DIM)
    batch = 16

    def encode_then_crash(texts):
        if len(encoder.calls) == 2:
            raise KeyboardInterrupt("simulated interruption during the third batch")
        return encoder.encode(texts)

    index = open_test_index(dimension=DIM, encoder_name=encoder.name, reopen=True)
    with pytest.raises(KeyboardInterrupt):
        build_index(index, examples, encode_then_crash, batch_size=batch, progress=False)
    assert index.count() == 2 * batch
    index.close()

    resumed_encoder = HashingEncoder(DIM)
    index = open_test_index(dimension=DIM, encoder_name=encoder.name, reopen=True)
    report = build_index(index, examples, resumed_encoder.encode, batch_size=batch,
                         progress=False)

    assert (report.total, report.skipped, report.written) == \
        (len(examples), 2 * batch, len(examples) - 2 * batch)
    assert sum(resumed_encoder.calls) == len(examples) - 2 * batch
    assert index.count() == len(examples)
    again = build_index(index, examples, resumed_encoder.encode, batch_size=batch,
                        progress=False)
    assert (again.written, again.skipped) == (0, len(examples))


@pytest.mark.parametrize("filters", [
    TaskFilter(include_tasks=("sciq",)),
    TaskFilter(exclude_tasks=("ag_news",)),
    TaskFilter(include_tasks=("sciq", "samsum"), exclude_templates=("t_b",)),
    TaskFilter(exclude_tasks=("samsum",), include_templates=("t_a",)),
], ids=["include", "exclude", "include-and-exclude", "exclude-task-include-template"])
def test_filters_keep_exactly_the_allowed_examples(open_test_index, filters):
    examples = synthetic_examples(150)
    vectors = random_vectors(150, DIM)
    index = open_test_index(dimension=DIM)
    index.upsert(examples, vectors)
    queries = random_vectors(3, DIM, seed=2)
    allowed = np.array([filters.allows(e.task, e.template) for e in examples])

    hits = index.search(queries, k=12, filters=filters, exact=True)

    assert all(filters.allows(h.task, h.template) for row in hits for h in row)
    expected = exact_top_k(vectors, queries, 12, allowed)
    assert [[h.example_id for h in row] for row in hits] == \
        [[examples[j].example_id for j in row] for row in expected]


def test_target_task_is_kept_out_of_its_own_retrieved_set(open_test_index):
    examples = synthetic_examples(60)
    vectors = random_vectors(60, DIM)
    index = open_test_index(dimension=DIM)
    index.upsert(examples, vectors)
    target = examples[0].task

    hits = index.search(vectors[:1], k=60, filters=TaskFilter().excluding_task(target))

    assert hits[0] and all(h.task != target for h in hits[0])


def test_hnsw_search_agrees_with_exact_search_on_a_small_set(open_test_index, backend):
    n = 600
    examples = synthetic_examples(n)
    vectors = random_vectors(n, DIM, seed=3)
    index = open_test_index(dimension=DIM, full_scan_threshold_kb=1, hnsw_ef=64)
    index.upsert(examples, vectors)
    index.optimize()
    if backend == "edge":
        assert index.info().indexed_vectors == n  # the graph exists and is used
    queries = random_vectors(8, DIM, seed=4)

    approx = index.search(queries, k=10, exact=False)
    exact = index.search(queries, k=10, exact=True)

    overlap = np.mean([len({h.example_id for h in a} & {h.example_id for h in e}) / 10
                       for a, e in zip(approx, exact)])
    assert overlap >= 0.95


def test_index_persists_across_reopen(open_test_index):
    examples = synthetic_examples(80)
    vectors = random_vectors(80, DIM)
    index = open_test_index(dimension=DIM, reopen=True)
    index.upsert(examples, vectors)
    queries = random_vectors(2, DIM, seed=5)
    before = index.search(queries, k=5, exact=True)
    index.close()

    reopened = open_test_index(dimension=DIM, reopen=True)

    assert reopened.count() == 80
    assert reopened.search(queries, k=5, exact=True) == before


def test_reopening_with_another_dimension_is_a_clear_error(open_test_index):
    open_test_index(dimension=DIM, reopen=True).close()
    with pytest.raises(IndexStoreError, match="dimension mismatch.*16.*8"):
        open_test_index(dimension=8, reopen=True)


def test_reopening_with_another_encoder_is_a_clear_error(open_test_index):
    open_test_index(dimension=DIM, encoder_name="encoder-a", reopen=True).close()
    with pytest.raises(IndexStoreError, match="built by encoder 'encoder-a', not 'encoder-b'"):
        open_test_index(dimension=DIM, encoder_name="encoder-b", reopen=True)


def test_vectors_of_the_wrong_dimension_are_rejected(open_test_index):
    index = open_test_index(dimension=DIM)
    with pytest.raises(IndexStoreError, match="dimension mismatch"):
        index.upsert(synthetic_examples(2), random_vectors(2, DIM + 1))
    with pytest.raises(IndexStoreError, match="dimension mismatch"):
        index.search(random_vectors(1, DIM - 1), k=3)


def test_large_pool_options_keep_search_results(open_test_index):
    """On-disk vectors and int8 scalar quantization (with rescoring) still rank correctly."""
    examples = synthetic_examples(300)
    vectors = random_vectors(300, DIM, seed=6)
    index = open_test_index(dimension=DIM, on_disk_vectors=True, scalar_quantization=True,
                            full_scan_threshold_kb=1)
    index.upsert(examples, vectors)
    index.optimize()
    queries = random_vectors(4, DIM, seed=7)

    hits = index.search(queries, k=5)

    expected = exact_top_k(vectors, queries, 5)
    assert [row[0].example_id for row in hits] == [examples[r[0]].example_id for r in expected]
