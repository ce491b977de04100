"""Filters reach the index, the target task is kept out of its own set, bad filters fail clearly."""

from __future__ import annotations

import pytest
from recross.errors import DataError
from recross.index.filters import TaskFilter
from recross.retrieval import DenseRetrieval, RandomRetrieval


def dagger(pool, index, encoder, **kwargs) -> DenseRetrieval:
    return DenseRetrieval("recross-dagger", pool=pool, index=index, encoder=encoder, **kwargs)


def test_excluded_task_never_appears(hand_pool, hand_index, axis_encoder, make_queries):
    retrieved = dagger(hand_pool, hand_index, axis_encoder).retrieve(
        make_queries(), size=6, filters=TaskFilter(exclude_tasks=("alpha", "beta")))
    assert len(retrieved) == 6
    assert {it.task for it in retrieved.items} == {"gamma", "delta"}


def test_include_only_returns_only_those_tasks(hand_pool, hand_index, axis_encoder,
                                               make_queries):
    retrieved = dagger(hand_pool, hand_index, axis_encoder).retrieve(
        make_queries(), size=4, filters=TaskFilter(include_tasks=("gamma",)))
    assert {it.task for it in retrieved.items} == {"gamma"}
    # query 1 owns the gamma examples; the other queries score them all 0, so whatever their
    # order, every item is a gamma example and |R| is respected.
    assert len(retrieved) == 4


def test_template_filters_are_applied(hand_pool, hand_index, axis_encoder, make_queries):
    retrieved = dagger(hand_pool, hand_index, axis_encoder).retrieve(
        make_queries(), size=6, filters=TaskFilter(include_templates=("t2",)))
    assert {it.example.template for it in retrieved.items} == {"t2"}
    assert retrieved.example_ids[:3] == ["x0-3", "x1-3", "x2-3"]


def test_target_task_in_the_pool_is_excluded_by_default(hand_pool, hand_index, axis_encoder,
                                                        make_queries):
    retrieved = dagger(hand_pool, hand_index, axis_encoder).retrieve(
        make_queries(task="alpha"), size=6)
    assert "alpha" not in {it.task for it in retrieved.items}
    assert retrieved.filters.exclude_tasks == ("alpha",)
    kept = dagger(hand_pool, hand_index, axis_encoder, exclude_target_task=False).retrieve(
        make_queries(task="alpha"), size=6)
    assert kept.example_ids[:3] == ["shared"] * 3


def test_unknown_task_name_lists_close_matches(hand_pool):
    with pytest.raises(DataError, match="'gama'.*Did you mean gamma"):
        RandomRetrieval(hand_pool).catalog.resolve(TaskFilter(exclude_tasks=("gama",)),
                                                   target_task="target")


def test_unknown_template_name_is_refused(hand_pool, make_queries):
    with pytest.raises(DataError, match="template 't3'"):
        RandomRetrieval(hand_pool).retrieve(make_queries(), size=1,
                                            filters=TaskFilter(include_templates=("t3",)))


def test_filter_that_excludes_everything_is_refused(hand_pool, make_queries):
    everything = TaskFilter(exclude_tasks=("alpha", "beta", "gamma", "delta"))
    with pytest.raises(DataError, match="leaves no upstream example"):
        RandomRetrieval(hand_pool).retrieve(make_queries(), size=1, filters=everything)
