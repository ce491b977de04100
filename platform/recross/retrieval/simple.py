"""The two baselines that do not look at Q: no retrieval, and uniform random retrieval."""

from __future__ import annotations

import random
from collections.abc import Sequence

from recross.data import QuerySet, UpstreamPool
from recross.index.filters import TaskFilter
from recross.retrieval.base import RetrievedItem, RetrievedSet
from recross.retrieval.pooled import PoolRetriever


class NoRetrieval:
    """``none``: the upstream model as it is; the retrieved set is empty whatever |R| is."""

    name = "none"

    def retrieve(self, query_set: QuerySet, *, size: int,
                 filters: TaskFilter | None = None) -> RetrievedSet:
        return RetrievedSet(retriever=self.name, query_task=query_set.task,
                            query_seed=query_set.seed, target_size=0,
                            filters=filters or TaskFilter(), items=())


class RandomRetrieval(PoolRetriever):
    """``random``: |R| distinct examples drawn uniformly from the filtered pool, ignoring Q's inputs.

    The draw depends only on ``seed`` and the query set's seed, so the five query-set rounds of
    a target draw five different samples, and a rerun draws the same ones.
    """

    name = "random"

    def __init__(self, pool: UpstreamPool, *, seed: int = 0, exclude_target_task: bool = True
                 ) -> None:
        super().__init__(pool, exclude_target_task=exclude_target_task)
        self.seed = seed

    def _select(self, query_set: QuerySet, *, size: int, filters: TaskFilter
                ) -> tuple[Sequence[RetrievedItem], Sequence[RetrievedItem]]:
        allowed = [ex for ex in self.pool.examples if filters.allows(ex.task, ex.template)]
        rng = random.Random(f"random-retrieval:{self.seed}:{query_set.seed}")
        drawn = rng.sample(allowed, size)
        return [RetrievedItem(example=ex, score=0.0, query_index=None, rank=None)
                for ex in drawn], ()
