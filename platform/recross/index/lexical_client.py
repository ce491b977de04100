"""Lexical collections through qdrant-client (server, cluster or local mode).

Same layout and searches as :mod:`recross.index.lexical_edge`: a sparse ``bm25`` vector with
Qdrant's IDF modifier, plus ``dense`` (M's vector) in a hybrid collection; fusion is Qdrant's
RRF query over two prefetches. Connection, retries, counts and payload indexes are the
qdrant-client collection plumbing the dense index uses too.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from qdrant_client import models

from recross.config import IndexDistance, IndexSettings
from recross.errors import IndexStoreError
from recross.index.base import Hit, Manifest, point_id
from recross.index.bm25 import SPARSE_VECTOR, SparseTerms
from recross.index.client import QdrantClientCollection, _client_filter
from recross.index.filters import TaskFilter
from recross.index.lexical import DENSE_VECTOR, LexicalIndex, LexicalPoints, ordered

_CLIENT_DISTANCE = {"dot": models.Distance.DOT, "cosine": models.Distance.COSINE,
                    "euclid": models.Distance.EUCLID}


class ClientLexicalIndex(QdrantClientCollection[LexicalPoints], LexicalIndex):
    """A BM25 (``dense_dimension`` None) or hybrid collection through qdrant-client."""

    def __init__(self, settings: IndexSettings, *, collection: str, encoder_name: str,
                 dense_dimension: int | None, home: Path,
                 distance: IndexDistance = "dot") -> None:
        self.dense_dimension = dense_dimension
        self._dense_distance = distance
        super().__init__(settings, collection=collection, dimension=dense_dimension or 0,
                         encoder_name=encoder_name, home=home)

    def _check_existing(self) -> None:
        config = self._call("read the collection",
                            lambda: self._client.get_collection(self.collection)).config
        sparse = config.params.sparse_vectors or {}
        dense = config.params.vectors
        has_dense = isinstance(dense, dict) and DENSE_VECTOR in dense
        if SPARSE_VECTOR not in sparse or has_dense != bool(self.dense_dimension):
            raise IndexStoreError(
                f"{self.where} is not a recross {'hybrid' if self.dense_dimension else 'BM25'} "
                f"collection (sparse vector {SPARSE_VECTOR!r}"
                f"{' and dense vector ' + repr(DENSE_VECTOR) if self.dense_dimension else ''}). "
                "Fix: delete it and rebuild, or choose another collection name.")
        manifest = Manifest.from_dict(config.metadata)
        if manifest is None:
            raise IndexStoreError(f"{self.where} has no recross manifest in its metadata. Fix: "
                                  "delete it and rebuild the index.")
        manifest.check_matches(where=self.where, encoder_name=self.encoder_name,
                               dimension=self.dimension)

    def _create(self) -> None:
        s = self._settings
        manifest = Manifest(encoder_name=self.encoder_name, dimension=self.dimension,
                            distance=self._dense_distance).to_dict()
        dense = {DENSE_VECTOR: models.VectorParams(
            size=self.dimension, distance=_CLIENT_DISTANCE[self._dense_distance],
            on_disk=s.on_disk_vectors if self._server else None)} if self.dense_dimension else {}
        cluster: dict[str, Any] = {}
        if self._server:  # the dense index's cluster layout; indexing off during the bulk load
            cluster = {"shard_number": s.shard_number, "replication_factor": s.replication_factor,
                       "write_consistency_factor": s.write_consistency_factor,
                       "hnsw_config": models.HnswConfigDiff(m=s.hnsw_m,
                                                            ef_construct=s.hnsw_ef_construct),
                       "optimizers_config": models.OptimizersConfigDiff(indexing_threshold=0)}
        self._call("create the collection", lambda: self._client.create_collection(
            self.collection, vectors_config=dense, metadata=manifest,
            sparse_vectors_config={SPARSE_VECTOR: models.SparseVectorParams(
                modifier=models.Modifier.IDF)}, **cluster))

    def upsert_records(self, payloads: Sequence[dict[str, Any]], vectors: LexicalPoints) -> None:
        dense = self._check_points(payloads, vectors)
        step = self._settings.upsert_batch_size
        for start in range(0, len(payloads), step):
            chunk = range(start, min(start + step, len(payloads)))
            named: dict[str, list[Any]] = {SPARSE_VECTOR: [_sparse(vectors.sparse[i])
                                                           for i in chunk]}
            if dense is not None:
                named[DENSE_VECTOR] = dense[start:start + step].tolist()
            batch = models.Batch(ids=[point_id(payloads[i]["example_id"]) for i in chunk],
                                 vectors=named, payloads=[payloads[i] for i in chunk])
            self._call("write points", partial(self._client.upsert, self.collection,
                                               points=batch, wait=True))

    def search_sparse(self, queries: Sequence[SparseTerms], *, k: int,
                      filters: TaskFilter | None = None) -> list[list[Hit]]:
        condition = _client_filter(filters)
        requests = [models.QueryRequest(query=_sparse(q), using=SPARSE_VECTOR, limit=k,
                                        filter=condition, with_payload=True) for q in queries]
        return self._run(requests, [bool(q.indices) for q in queries])

    def search_fused(self, dense: np.ndarray, sparse: Sequence[SparseTerms], *, k: int,
                     prefetch: int, rrf_k: int,
                     filters: TaskFilter | None = None) -> list[list[Hit]]:
        rows = self._check_queries(dense, k).tolist()
        condition = _client_filter(filters)
        exact = self._settings.exact
        params = (models.SearchParams(exact=exact, hnsw_ef=None if exact else max(
            self._settings.hnsw_ef, prefetch)) if self._server else None)
        requests = []
        for row, terms in zip(rows, sparse, strict=True):
            stages = [models.Prefetch(query=row, using=DENSE_VECTOR, limit=prefetch,
                                      filter=condition, params=params)]
            if terms.indices:
                stages.append(models.Prefetch(query=_sparse(terms), using=SPARSE_VECTOR,
                                              limit=prefetch, filter=condition))
            requests.append(models.QueryRequest(
                prefetch=stages, query=models.RrfQuery(rrf=models.Rrf(k=rrf_k)), limit=k,
                filter=condition, with_payload=True))
        return self._run(requests, [True] * len(requests))

    def _run(self, requests: list[models.QueryRequest], wanted: list[bool]) -> list[list[Hit]]:
        asked = [r for r, w in zip(requests, wanted) if w]
        responses = iter(self._call("search", lambda: self._client.query_batch_points(
            self.collection, requests=asked)) if asked else [])
        return [ordered([Hit.from_payload(p.payload or {}, p.score) for p in next(responses).points])
                if w else [] for w in wanted]


def _sparse(terms: SparseTerms) -> models.SparseVector:
    return models.SparseVector(indices=list(terms.indices), values=list(terms.values))
