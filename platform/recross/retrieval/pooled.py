"""The part every pool-backed retriever shares: checking the request, then selecting.

Subclasses implement :meth:`PoolRetriever._select`; the checks (filter names, target-task
exclusion, |R| against the filtered pool) happen once, here, before any model or index runs.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from recross.data import QuerySet, UpstreamPool
from recross.index.filters import TaskFilter
from recross.retrieval.base import RetrievedItem, RetrievedSet
from recross.retrieval.catalog import PoolCatalog


class PoolRetriever(ABC):
    """A retriever over the upstream pool D (random, dense, reranked)."""

    name: str

    def __init__(self, pool: UpstreamPool, *, exclude_target_task: bool = True,
                 catalog: PoolCatalog | None = None) -> None:
        self.pool = pool
        self.exclude_target_task = exclude_target_task
        self.catalog = catalog or PoolCatalog.from_pool(pool)

    def retrieve(self, query_set: QuerySet, *, size: int,
                 filters: TaskFilter | None = None) -> RetrievedSet:
        """Retrieve ``size`` examples for ``query_set``; see :class:`recross.retrieval.Retriever`."""
        resolved = self.catalog.resolve(filters, target_task=query_set.task,
                                        exclude_target_task=self.exclude_target_task)
        self.catalog.check_size(size, resolved)
        items, candidates = self._select(query_set, size=size, filters=resolved)
        return RetrievedSet(retriever=self.name, query_task=query_set.task,
                            query_seed=query_set.seed, target_size=size, filters=resolved,
                            items=tuple(items), candidates=tuple(candidates))

    @abstractmethod
    def _select(self, query_set: QuerySet, *, size: int, filters: TaskFilter
                ) -> tuple[Sequence[RetrievedItem], Sequence[RetrievedItem]]:
        """Return (retrieved items, reranking candidates or ``()``) for a checked request."""
