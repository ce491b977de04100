"""The baselines that ignore Q: random is seeded and respects filters; none retrieves nothing."""

from __future__ import annotations

from recross.data import QuerySet
from recross.index.filters import TaskFilter
from recross.retrieval import NoRetrieval, RandomRetrieval


def test_random_is_reproducible_by_seed_and_ignores_queries(tiny_pool):
    first = RandomRetrieval(tiny_pool, seed=7).retrieve(
        QuerySet(task="super_glue-cb", seed=0, inputs=("a question", "another")), size=20)
    other_queries = RandomRetrieval(tiny_pool, seed=7).retrieve(
        QuerySet(task="super_glue-cb", seed=0, inputs=("something else entirely",)), size=20)
    other_seed = RandomRetrieval(tiny_pool, seed=8).retrieve(
        QuerySet(task="super_glue-cb", seed=0, inputs=("a question", "another")), size=20)
    assert first.example_ids == other_queries.example_ids
    assert first.example_ids != other_seed.example_ids
    assert len(set(first.example_ids)) == 20


def test_random_rounds_differ_by_query_set_seed(tiny_pool):
    retriever = RandomRetrieval(tiny_pool, seed=7)
    round0 = retriever.retrieve(QuerySet(task="piqa", seed=0, inputs=("q",)), size=20)
    round1 = retriever.retrieve(QuerySet(task="piqa", seed=1, inputs=("q",)), size=20)
    assert round0.example_ids != round1.example_ids


def test_random_respects_filters_and_target_exclusion(tiny_pool):
    retrieved = RandomRetrieval(tiny_pool, seed=1).retrieve(
        QuerySet(task="sciq", seed=0, inputs=("q",)), size=30,
        filters=TaskFilter(exclude_tasks=("ag_news",)))
    tasks = {it.task for it in retrieved.items}
    assert "ag_news" not in tasks and "sciq" not in tasks  # sciq: the target sits in the pool
    only = RandomRetrieval(tiny_pool, seed=1).retrieve(
        QuerySet(task="piqa", seed=0, inputs=("q",)), size=12,
        filters=TaskFilter(include_tasks=("samsum",)))
    assert {it.task for it in only.items} == {"samsum"}


def test_none_retrieves_nothing():
    retrieved = NoRetrieval().retrieve(QuerySet(task="piqa", seed=0, inputs=("q",)), size=512)
    assert len(retrieved) == 0 and retrieved.retriever == "none"
