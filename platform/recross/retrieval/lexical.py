"""``bm25`` and ``hybrid``: lexical baselines searched inside Qdrant, pooled like dense retrieval.

``bm25`` ranks the pool by BM25 against each query (DEFT's lexical retrieval); ``hybrid`` fuses
M's dense neighbours and BM25's per query with reciprocal-rank fusion in one Qdrant query. Both
take K = ceil(|R| / |Q|) per query and pool the lists with duplicates kept, as ReCross-dagger
does, so the comparison isolates the ranking. ``recross-hybrid`` reranks a hybrid R' with the
cross-encoder (:class:`recross.retrieval.RerankedRetrieval`).
"""

from __future__ import annotations

from collections.abc import Sequence

from recross.data import QuerySet, UpstreamPool
from recross.errors import DataError, IndexStoreError
from recross.index import Hit
from recross.index.bm25 import Bm25Encoder
from recross.index.filters import TaskFilter
from recross.index.lexical import LexicalIndex, hybrid_contents
from recross.models.encoder_interface import ExampleEncoder
from recross.retrieval.base import RetrievedItem
from recross.retrieval.dense import RankedRetrieval


class Bm25Retrieval(RankedRetrieval):
    """Each query's BM25 top K in the ``bm25`` collection, pooled."""

    name = "bm25"
    index: LexicalIndex

    def __init__(self, *, pool: UpstreamPool, index: LexicalIndex, bm25: Bm25Encoder,
                 exclude_target_task: bool = True) -> None:
        _check_built_by(index, bm25.name)
        super().__init__(pool, exclude_target_task=exclude_target_task)
        self.index = index
        self.bm25 = bm25

    def search(self, inputs: Sequence[str], *, k: int, filters: TaskFilter) -> list[list[Hit]]:
        return self.index.search_sparse(self.bm25.queries(inputs), k=k, filters=filters)

    def _select(self, query_set: QuerySet, *, size: int, filters: TaskFilter
                ) -> tuple[Sequence[RetrievedItem], Sequence[RetrievedItem]]:
        items = self.candidates(query_set.inputs, size=size, filters=filters)
        if len(items) < size:  # a query shares terms with fewer than K examples
            raise DataError(
                f"BM25 found {len(items)} examples sharing a term with the queries, fewer than "
                f"|R|={size}: the queries' words (after stopwords) are rare in the filtered "
                "pool. Fix: lower |R|, widen the filter, or use the hybrid retriever.")
        return items, ()


class HybridRetrieval(RankedRetrieval):
    """Per query, M's dense neighbours and BM25's fused by RRF in the ``hybrid`` collection."""

    name = "hybrid"
    index: LexicalIndex

    def __init__(self, *, pool: UpstreamPool, index: LexicalIndex, bm25: Bm25Encoder,
                 encoder: ExampleEncoder, prefetch: int, rrf_k: int,
                 exclude_target_task: bool = True) -> None:
        _check_built_by(index, hybrid_contents(bm25.name, encoder.name))
        super().__init__(pool, exclude_target_task=exclude_target_task)
        self.index = index
        self.bm25, self.encoder = bm25, encoder
        self.prefetch, self.rrf_k = prefetch, rrf_k

    def search(self, inputs: Sequence[str], *, k: int, filters: TaskFilter) -> list[list[Hit]]:
        return self.index.search_fused(self.encoder.encode(list(inputs)),
                                       self.bm25.queries(inputs), k=k, prefetch=self.prefetch * k,
                                       rrf_k=self.rrf_k, filters=filters)


def _check_built_by(index: LexicalIndex, expected: str) -> None:
    if index.encoder_name != expected:
        raise IndexStoreError(
            f"{index.where} holds {index.encoder_name!r} vectors, but the queries would be "
            f"{expected!r}; they are not comparable. Fix: open the lexical collection built "
            "with these settings, or rebuild it (the bm25_index / hybrid_index assets).")
