"""DSIR: hashed n-gram importance weights match a hand computation; draws are seeded; filters."""

from __future__ import annotations

import math

import numpy as np
import pytest
from recross.data import Example, QuerySet, UpstreamPool
from recross.index.filters import TaskFilter
from recross.retrieval.dsir import DsirRetrieval, hashed_counts, log_importance_weights

BUCKETS = 1000


def _toy_pool() -> UpstreamPool:
    texts = {"p0": ("left", "a b"), "p1": ("left", "a c"), "p2": ("right", "c c")}
    return UpstreamPool(examples=[
        Example(example_id=i, input=text, answers=("x",), task=task, split="train", template="t",
                source_index=n, source_task=task) for n, (i, (task, text)) in enumerate(texts.items())])


def test_log_weights_of_a_toy_pool_match_the_hand_computation():
    """Features (uni+bigrams): p0 {a, b, "a b"}, p1 {a, c, "a c"}, p2 {c, c, "c c"}; Q = "a b".
    Add-one smoothing over 1000 buckets: pool counts a 2, b 1, c 3, ab 1, ac 1, cc 1 (total 9),
    query counts a 1, b 1, ab 1 (total 3)."""
    pool_texts = ["a b", "a c", "c c"]
    counts = hashed_counts(pool_texts, buckets=BUCKETS, max_ngram=2)
    assert counts.nnz == 8 and counts.sum() == 9  # six distinct buckets, c twice in p2: no clash
    queries = hashed_counts(["a b"], buckets=BUCKETS, max_ngram=2)

    log_w = log_importance_weights(counts, queries, allowed=np.ones(3, dtype=bool),
                                   smoothing=1.0)

    def ratio(q: int, d: int) -> float:  # log p_Q / p_pool of a feature with these raw counts
        return math.log(((q + 1) / 1003) / ((d + 1) / 1009))

    expected = [ratio(1, 2) + ratio(1, 1) + ratio(1, 1),      # p0: a, b, "a b"
                ratio(1, 2) + ratio(0, 3) + ratio(0, 1),      # p1: a, c, "a c"
                2 * ratio(0, 3) + ratio(0, 1)]                # p2: c twice, "c c"
    assert log_w == pytest.approx(expected, rel=1e-9)
    assert log_w[0] > log_w[1] > log_w[2]


def test_dsir_sample_is_reproducible_per_seed_and_differs_across_seeds(tiny_pool):
    def draw(seed: int, query_seed: int = 0) -> list[str]:
        retriever = DsirRetrieval(tiny_pool, buckets=BUCKETS, max_ngram=2, smoothing=1.0,
                                  seed=seed)
        return retriever.retrieve(QuerySet(task="piqa", seed=query_seed,
                                           inputs=("What is the capital of France?",)),
                                  size=20).example_ids

    assert draw(3) == draw(3)
    assert draw(3) != draw(4)
    assert draw(3, query_seed=1) != draw(3)
    assert len(set(draw(3))) == 20  # without replacement


def test_dsir_prefers_examples_like_the_queries(tiny_pool):
    """Queries made of one task's inputs draw that task far above its share of the pool."""
    task = "samsum"
    inputs = tuple(e.input for e in tiny_pool.examples if e.task == task)[:4]
    retrieved = DsirRetrieval(tiny_pool, buckets=BUCKETS, max_ngram=2, smoothing=1.0).retrieve(
        QuerySet(task="piqa", seed=0, inputs=inputs), size=10)
    share = sum(it.task == task for it in retrieved.items) / len(retrieved)
    assert share > 2 * tiny_pool.task_counts()[task] / len(tiny_pool)


def test_dsir_respects_filters_and_excludes_the_target(tiny_pool):
    retrieved = DsirRetrieval(tiny_pool, buckets=BUCKETS, max_ngram=2, smoothing=1.0).retrieve(
        QuerySet(task="sciq", seed=0, inputs=("a science question",)), size=20,
        filters=TaskFilter(exclude_tasks=("ag_news",)))
    assert {it.task for it in retrieved.items}.isdisjoint({"ag_news", "sciq"})


def test_dsir_pool_counts_are_cached_and_reused(tmp_path):
    cache = tmp_path / "dsir" / "pool.npz"
    pool = _toy_pool()
    first = DsirRetrieval(pool, buckets=BUCKETS, max_ngram=2, smoothing=1.0, cache=cache)
    counts = first.pool_counts()
    assert cache.is_file()

    again = DsirRetrieval(pool, buckets=BUCKETS, max_ngram=2, smoothing=1.0, cache=cache)
    again._compute_and_cache = None  # a recompute would fail: the cache must serve
    assert (again.pool_counts() != counts).nnz == 0
