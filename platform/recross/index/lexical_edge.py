"""Lexical collections in Qdrant Edge: a sparse ``bm25`` vector, plus ``dense`` when hybrid.

Everything but the vector layout, the writes and the searches is the Edge collection plumbing
the dense index uses too (manifest, lock, payload indexes, flushed writes, counts, HNSW).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import qdrant_edge as qe

from recross.config import IndexDistance, IndexSettings
from recross.index.base import Hit, point_id
from recross.index.bm25 import SPARSE_VECTOR, SparseTerms
from recross.index.edge import EdgeCollection, _edge_filter
from recross.index.filters import TaskFilter
from recross.index.lexical import DENSE_VECTOR, LexicalIndex, LexicalPoints, ordered


class EdgeLexicalIndex(EdgeCollection[LexicalPoints], LexicalIndex):
    """A BM25 (``dense_dimension`` None) or hybrid collection in a local Edge shard."""

    def __init__(self, settings: IndexSettings, *, folder: Path, collection: str,
                 encoder_name: str, dense_dimension: int | None,
                 distance: IndexDistance = "dot") -> None:
        self.dense_dimension = dense_dimension
        super().__init__(settings, folder=folder, collection=collection,
                         dimension=dense_dimension or 0, encoder_name=encoder_name,
                         distance=distance)

    def _edge_config(self) -> qe.EdgeConfig:
        dense = super()._edge_config()
        return qe.EdgeConfig(
            vectors={DENSE_VECTOR: dense.vectors[""]} if self.dense_dimension else None,
            sparse_vectors={SPARSE_VECTOR: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
            hnsw_config=dense.hnsw_config, optimizers=dense.optimizers, wal_enabled=False)

    def upsert_records(self, payloads: Sequence[dict[str, Any]], vectors: LexicalPoints) -> None:
        dense = self._check_points(payloads, vectors)
        rows = dense.tolist() if dense is not None else None
        step = self._settings.upsert_batch_size
        with self._engine_errors("write points"):
            for start in range(0, len(payloads), step):
                points = [qe.Point(point_id(payloads[i]["example_id"]),
                                   self._named(vectors.sparse[i], rows[i] if rows else None),
                                   payloads[i])
                          for i in range(start, min(start + step, len(payloads)))]
                self._shard.update(qe.UpdateOperation.upsert_points(points))
            self._shard.flush()

    @staticmethod
    def _named(terms: SparseTerms, dense: list[float] | None) -> dict[str, Any]:
        named: dict[str, Any] = {SPARSE_VECTOR: _sparse(terms)}
        if dense is not None:
            named[DENSE_VECTOR] = dense
        return named

    def search_sparse(self, queries: Sequence[SparseTerms], *, k: int,
                      filters: TaskFilter | None = None) -> list[list[Hit]]:
        condition = _edge_filter(filters)
        requests = [qe.QueryRequest(limit=k, query=qe.Query.Nearest(_sparse(q),
                                                                     using=SPARSE_VECTOR),
                                    filter=condition, with_payload=True) for q in queries]
        return self._run(requests, [bool(q.indices) for q in queries])

    def search_fused(self, dense: np.ndarray, sparse: Sequence[SparseTerms], *, k: int,
                     prefetch: int, rrf_k: int,
                     filters: TaskFilter | None = None) -> list[list[Hit]]:
        rows = self._check_queries(dense, k).tolist()
        condition = _edge_filter(filters)
        exact = self._settings.exact
        params = qe.SearchParams(hnsw_ef=None if exact else max(self._settings.hnsw_ef, prefetch),
                                 exact=exact)
        requests = []
        for row, terms in zip(rows, sparse, strict=True):
            stages = [qe.Prefetch(limit=prefetch, query=qe.Query.Nearest(row, using=DENSE_VECTOR),
                                  params=params, filter=condition)]
            if terms.indices:
                stages.append(qe.Prefetch(limit=prefetch, filter=condition, query=qe.Query.Nearest(
                    _sparse(terms), using=SPARSE_VECTOR)))
            requests.append(qe.QueryRequest(limit=k, prefetches=stages, query=_rrf(rrf_k),
                                            filter=condition, with_payload=True))
        return self._run(requests, [True] * len(requests))

    def _run(self, requests: list[qe.QueryRequest], wanted: list[bool]) -> list[list[Hit]]:
        asked = [r for r, w in zip(requests, wanted) if w]
        with self._engine_errors("search"):
            results = iter(self._shard.query_batch(qe.QueryBatchRequest(asked)) if asked else [])
        return [ordered([Hit.from_payload(p.payload or {}, p.score) for p in next(results)])
                if w else [] for w in wanted]


def _sparse(terms: SparseTerms) -> qe.SparseVector:
    return qe.SparseVector(list(terms.indices), list(terms.values))


def _rrf(k: int) -> qe.Fusion:
    """Edge's RRF fusion. Its stub declares ``Fusion.Rrf`` a plain nested class, but it is a
    variant of the ``Fusion`` enum (a subclass at run time), which is what a query takes."""
    return cast(qe.Fusion, qe.Fusion.Rrf(k=k))
