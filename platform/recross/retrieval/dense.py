"""Dense retrieval over an example index: ``sbert`` and ``recross-dagger`` (METHOD.md step 2).

Each query input is encoded with the encoder that built the index, the index returns each
query's top K = ceil(|R'| / |Q|) neighbours (filters applied inside the index), and the lists are
pooled with duplicates kept, in rank order across queries (:mod:`recross.retrieval.aggregation`).
:class:`RankedRetrieval` is that pooling for any per-query search (dense, BM25, hybrid).
With ``retrieval.mmr`` on, each query's K come from Qdrant's maximal-marginal-relevance query.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from recross.data import QuerySet, UpstreamPool
from recross.errors import IndexStoreError
from recross.index import ExampleIndex, Hit, QdrantCollection
from recross.index.filters import TaskFilter
from recross.models.encoder_interface import ExampleEncoder
from recross.retrieval.aggregation import interleave_ranked, per_query_k
from recross.retrieval.base import RetrievedItem
from recross.retrieval.pooled import PoolRetriever


class RankedRetrieval(PoolRetriever):
    """Each query's own ranked list from :meth:`search`, K per query, pooled with duplicates."""

    name: str
    index: QdrantCollection[Any]  # the collection :meth:`search` asks

    @abstractmethod
    def search(self, inputs: Sequence[str], *, k: int, filters: TaskFilter) -> list[list[Hit]]:
        """The top-``k`` hits of every input, best first."""

    def candidates(self, inputs: Sequence[str], *, size: int,
                   filters: TaskFilter) -> list[RetrievedItem]:
        """The pooled top-``size`` list for ``inputs`` (K per query, duplicates kept)."""
        hits = self.search(inputs, k=per_query_k(size, len(inputs)), filters=filters)
        ranked = [[RetrievedItem(example=self.pool.get(hit.example_id), score=float(hit.score),
                                 query_index=q, rank=r + 1) for r, hit in enumerate(per_query)]
                  for q, per_query in enumerate(hits)]
        return interleave_ranked(ranked, size=size)

    def _select(self, query_set: QuerySet, *, size: int, filters: TaskFilter
                ) -> tuple[Sequence[RetrievedItem], Sequence[RetrievedItem]]:
        items = self.candidates(query_set.inputs, size=size, filters=filters)
        require_count(items, size, index=self.index)
        return items, ()


@dataclass(frozen=True)
class Diversity:
    """MMR for a dense retriever: ``diversity`` in [0, 1], ``candidates`` per kept neighbour."""

    diversity: float
    candidates: int


class DenseRetrieval(RankedRetrieval):
    """Nearest neighbours of every query in ``index``, pooled; ``name`` tells SBERT from dagger."""

    index: ExampleIndex

    def __init__(self, name: str, *, pool: UpstreamPool, index: ExampleIndex,
                 encoder: ExampleEncoder, exclude_target_task: bool = True,
                 exact: bool | None = None, mmr: Diversity | None = None) -> None:
        if encoder.name != index.encoder_name:
            raise IndexStoreError(
                f"index {index.where} was built with encoder "
                f"{index.encoder_name!r}, but queries would be encoded with {encoder.name!r}; "
                "their vectors are not comparable. Fix: search it with the encoder that built it, "
                "or rebuild the index with this encoder.")
        super().__init__(pool, exclude_target_task=exclude_target_task)
        self.name = name
        self.index = index
        self.encoder = encoder
        self.exact = exact
        self.mmr = mmr

    def search(self, inputs: Sequence[str], *, k: int, filters: TaskFilter) -> list[list[Hit]]:
        vectors = self.encoder.encode(list(inputs))
        if self.mmr is not None:
            return self.index.search_diverse(vectors, k=k, diversity=self.mmr.diversity,
                                             candidates=self.mmr.candidates * k, filters=filters)
        return self.index.search(vectors, k=k, filters=filters, exact=self.exact)


def require_count(items: Sequence[RetrievedItem], size: int, *,
                  index: QdrantCollection[Any]) -> None:
    """The filtered pool holds >= ``size`` examples (checked before); fewer hits mean a short index."""
    if len(items) < size:
        raise IndexStoreError(
            f"retrieval returned {len(items)} examples, fewer than the {size} needed, "
            f"although the filtered pool holds enough: index {index.where} "
            f"({index.count()} points) is missing examples of the pool. "
            "Fix: rebuild the index from the current pool.")
