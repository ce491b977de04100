"""Dense retrieval over an example index: ``sbert`` and ``recross-dagger`` (METHOD.md step 2).

Each query input is encoded with the encoder that built the index, the index returns each
query's top K = ceil(|R'| / |Q|) neighbours (filters applied inside the index), and the lists are
pooled with duplicates kept, in rank order across queries (:mod:`recross.retrieval.aggregation`).
"""

from __future__ import annotations

from collections.abc import Sequence

from recross.data import QuerySet, UpstreamPool
from recross.errors import IndexStoreError
from recross.index import ExampleIndex
from recross.index.filters import TaskFilter
from recross.models.encoder import ExampleEncoder
from recross.retrieval.aggregation import interleave_ranked, per_query_k
from recross.retrieval.base import RetrievedItem
from recross.retrieval.pooled import PoolRetriever


class DenseRetrieval(PoolRetriever):
    """Nearest neighbours of every query in ``index``, pooled; ``name`` tells SBERT from dagger."""

    def __init__(self, name: str, *, pool: UpstreamPool, index: ExampleIndex,
                 encoder: ExampleEncoder, exclude_target_task: bool = True,
                 exact: bool | None = None) -> None:
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

    def candidates(self, inputs: Sequence[str], *, size: int,
                   filters: TaskFilter) -> list[RetrievedItem]:
        """The pooled top-``size`` list for ``inputs`` (K per query, duplicates kept)."""
        k = per_query_k(size, len(inputs))
        vectors = self.encoder.encode(list(inputs))
        hits = self.index.search(vectors, k=k, filters=filters, exact=self.exact)
        ranked = [[RetrievedItem(example=self.pool.get(hit.example_id), score=float(hit.score),
                                 query_index=q, rank=r + 1) for r, hit in enumerate(per_query)]
                  for q, per_query in enumerate(hits)]
        return interleave_ranked(ranked, size=size)

    def _select(self, query_set: QuerySet, *, size: int, filters: TaskFilter
                ) -> tuple[Sequence[RetrievedItem], Sequence[RetrievedItem]]:
        items = self.candidates(query_set.inputs, size=size, filters=filters)
        require_count(items, size, index=self.index)
        return items, ()


def require_count(items: Sequence[RetrievedItem], size: int, *, index: ExampleIndex) -> None:
    """The filtered pool holds >= ``size`` examples (checked before); fewer hits mean a short index."""
    if len(items) < size:
        raise IndexStoreError(
            f"dense retrieval returned {len(items)} examples, fewer than the {size} needed, "
            f"although the filtered pool holds enough: index {index.where} "
            f"({index.count()} points) is missing examples of the pool. "
            "Fix: rebuild the index from the current pool.")
