"""The qdrant-client backend: a Qdrant server or cluster, or qdrant-client's local mode.

Server (``QDRANT_URL`` + ``QDRANT_API_KEY``): collections take the cluster options of the
settings (shards, replication, write consistency, on-disk vectors, int8 scalar quantization).
A new collection starts with indexing off, so a bulk load does not rebuild HNSW as it grows;
:meth:`optimize` turns indexing on and waits until the server reports the collection green.
Every call retries transient failures with backoff (:mod:`recross.index.retry`).

Local mode (``path=`` or ``:memory:``) is qdrant-client's pure-Python engine: exact search
only, meant for small pools and tests; cluster and HNSW options do not apply there.

The manifest (encoder, dimension) lives in the collection's metadata (Qdrant >= 1.16).
"""

from __future__ import annotations

import logging
import math
import time
from abc import abstractmethod
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from qdrant_client import QdrantClient, models

from recross.config import IndexDistance, IndexSettings
from recross.errors import IndexStoreError
from recross.index.base import (
    KEYWORD_INDEXED_FIELDS,
    ExampleIndex,
    Hit,
    IndexInfo,
    Manifest,
    P,
    QdrantCollection,
    StoredBatch,
    filter_clauses,
    point_id,
    similarity,
)
from recross.index.filters import TaskFilter
from recross.index.retry import call_with_retries
from recross.redaction import hide_uri_credentials

log = logging.getLogger(__name__)
T = TypeVar("T")
# Qdrant's default indexing threshold (KB), restored by optimize() after a bulk load.
INDEXING_THRESHOLD_KB = 10_000
_LOOKUP_CHUNK = 4096
_OPTIMIZE_POLL_S = 1.0
_CLIENT_DISTANCE = {"dot": models.Distance.DOT, "cosine": models.Distance.COSINE,
                    "euclid": models.Distance.EUCLID}


class QdrantClientCollection(QdrantCollection[P]):
    """A collection in a Qdrant server/cluster (``url``) or in local mode (``location``):
    connection, retries, payload indexes, counts, HNSW, close. Subclasses lay out, write and
    search their own vectors."""

    def __init__(self, settings: IndexSettings, *, collection: str, dimension: int,
                 encoder_name: str, home: Path, distance: IndexDistance = "dot") -> None:
        self.collection, self.dimension, self.encoder_name = collection, dimension, encoder_name
        self.distance = distance
        self._settings = settings
        self._server = settings.backend == "server"
        self._closed = False
        self._location = self._describe_location(home)
        self._client = self._connect(home)
        try:
            self._open_collection()
        except BaseException:
            self._client.close()
            raise

    @property
    def where(self) -> str:
        return f"collection {self.collection!r} at {self._location}"

    def _describe_location(self, home: Path) -> str:
        if self._server:
            if not self._settings.url:
                raise IndexStoreError("index backend 'server' needs a URL. Fix: set QDRANT_URL "
                                      "(e.g. http://localhost:6333) or choose backend 'edge'.")
            return hide_uri_credentials(self._settings.url)  # for messages and logs
        path = self._local_path(home)
        return f"local mode {path}" if path else "local mode :memory:"

    def _local_path(self, home: Path) -> Path | None:
        path = self._settings.local_path
        return path if path is None or path.is_absolute() else home / path

    def _connect(self, home: Path) -> QdrantClient:
        if self._server:
            key = self._settings.api_key
            return QdrantClient(url=self._settings.url,
                                api_key=key.get_secret_value() if key else None,
                                timeout=math.ceil(self._settings.timeout_s),
                                check_compatibility=False)
        path = self._local_path(home)
        if path is None:
            return QdrantClient(location=":memory:")
        try:
            return QdrantClient(path=str(path))
        except RuntimeError as exc:  # qdrant-client's own lock on the storage folder
            raise IndexStoreError(
                f"{self._location} is already open in another process or client ({exc}). Fix: "
                "close the other one, or use a Qdrant server for concurrent access.") from None

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        if not self._server:
            return fn()
        return call_with_retries(fn, what=what, url=self._location,
                                 retries=self._settings.retries,
                                 backoff_s=self._settings.retry_backoff_s)

    def _open_collection(self) -> None:
        name = self.collection
        if self._call("check the collection", lambda: self._client.collection_exists(name)):
            self._check_existing()
        else:
            self._create()
        if not self._server:
            return  # local mode scans payloads; its payload indexes would do nothing
        schema = self._call("read the collection",
                            lambda: self._client.get_collection(name)).payload_schema
        for field in KEYWORD_INDEXED_FIELDS:
            if field not in schema:
                self._call("create a payload index", partial(
                    self._client.create_payload_index, name, field_name=field,
                    field_schema=models.PayloadSchemaType.KEYWORD, wait=True))

    @abstractmethod
    def _check_existing(self) -> None:
        """Raise unless the existing collection has this kind's vectors and a matching manifest."""

    @abstractmethod
    def _create(self) -> None:
        """Create the collection with this kind's vectors and the manifest in its metadata."""

    def count(self) -> int:
        return self._call("count the points",
                          lambda: self._client.count(self.collection, exact=True).count)

    def existing_ids(self, example_ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(example_ids), _LOOKUP_CHUNK):
            by_point = {point_id(e): e for e in example_ids[start:start + _LOOKUP_CHUNK]}
            ids = list(by_point)
            records = self._call("look up points", partial(
                self._client.retrieve, self.collection, ids=ids, with_payload=False,
                with_vectors=False))
            found.update(by_point[str(r.id)] for r in records)
        return found

    def optimize(self) -> None:
        """Server: enable indexing and wait for green. Local mode has no HNSW: nothing to do."""
        if not self._server:
            return
        enable = models.OptimizersConfigDiff(indexing_threshold=INDEXING_THRESHOLD_KB)
        self._call("enable indexing", lambda: self._client.update_collection(
            self.collection, optimizers_config=enable))
        started = time.monotonic()
        while True:
            status = self._call("read the collection status", lambda: self._client.get_collection(
                self.collection)).status
            if status == models.CollectionStatus.GREEN:
                return
            if status == models.CollectionStatus.RED:
                raise IndexStoreError(f"{self.where} reports status red while building HNSW. "
                                      "Fix: read the server log, then rebuild the collection.")
            waited = time.monotonic() - started
            if waited > self._settings.optimize_timeout_s:
                raise IndexStoreError(
                    f"{self.where} is still {status} after {waited:.0f}s of HNSW building. Fix: "
                    "raise index.optimize_timeout_s, or check the server's load and log; the "
                    "points are stored, so `optimize` can simply be run again.")
            log.info("waiting for HNSW build of %s (%s, %.0fs)", self.where, status, waited)
            time.sleep(_OPTIMIZE_POLL_S)

    def info(self) -> IndexInfo:
        details = self._call("read the collection",
                             lambda: self._client.get_collection(self.collection))
        return IndexInfo(backend=self._settings.backend, location=self._location,
                         collection=self.collection, encoder_name=self.encoder_name,
                         dimension=self.dimension, points=int(details.points_count or 0),
                         indexed_vectors=(details.indexed_vectors_count if self._server
                                          else None))

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._client.close()


class QdrantClientIndex(QdrantClientCollection[np.ndarray], ExampleIndex):
    """An example index in a Qdrant server/cluster (``url``) or in local mode (``location``)."""

    def _check_existing(self) -> None:
        config = self._call("read the collection",
                            lambda: self._client.get_collection(self.collection)).config
        vectors = config.params.vectors
        if not isinstance(vectors, models.VectorParams):
            raise IndexStoreError(f"{self.where} uses named vectors, not the single unnamed "
                                  "vector recross writes. Fix: choose another collection name.")
        manifest = Manifest.from_dict(config.metadata)
        if vectors.size != self.dimension:
            raise IndexStoreError(
                f"dimension mismatch: {self.where} holds {vectors.size}-dimensional vectors, but "
                f"{self.dimension}-dimensional vectors were asked for. Fix: open the collection "
                "named for this encoder (collection_name()) or delete it and rebuild the index.")
        if manifest is None:
            raise IndexStoreError(f"{self.where} has no recross manifest in its metadata, so its "
                                  "encoder is unknown. Fix: delete it and rebuild the index, or "
                                  "choose another collection name.")
        manifest.check_matches(where=self.where, encoder_name=self.encoder_name,
                               dimension=self.dimension, distance=self.distance)

    def _create(self) -> None:
        s = self._settings
        manifest = Manifest(encoder_name=self.encoder_name, dimension=self.dimension,
                            distance=self.distance).to_dict()
        vectors = models.VectorParams(size=self.dimension,
                                      distance=_CLIENT_DISTANCE[self.distance],
                                      on_disk=s.on_disk_vectors if self._server else None)
        cluster: dict[str, Any] = {}
        if self._server:
            cluster = {
                "shard_number": s.shard_number, "replication_factor": s.replication_factor,
                "write_consistency_factor": s.write_consistency_factor,
                "hnsw_config": models.HnswConfigDiff(
                    m=s.hnsw_m, ef_construct=s.hnsw_ef_construct,
                    full_scan_threshold=s.full_scan_threshold_kb),
                "optimizers_config": models.OptimizersConfigDiff(indexing_threshold=0),
                "quantization_config": models.ScalarQuantization(
                    scalar=models.ScalarQuantizationConfig(type=models.ScalarType.INT8,
                                                           quantile=0.99, always_ram=True))
                if s.scalar_quantization else None}
        self._call("create the collection", lambda: self._client.create_collection(
            self.collection, vectors_config=vectors, metadata=manifest, **cluster))

    def upsert_records(self, payloads: Sequence[dict[str, Any]], vectors: np.ndarray) -> None:
        array = self._check_points(payloads, vectors)
        step = self._settings.upsert_batch_size
        for start in range(0, len(array), step):
            chunk = list(payloads[start:start + step])
            batch = models.Batch(ids=[point_id(p["example_id"]) for p in chunk],
                                 vectors=array[start:start + step].tolist(), payloads=chunk)
            self._call("write points", partial(self._client.upsert, self.collection,
                                               points=batch, wait=True))

    def search(self, vectors: np.ndarray, *, k: int, filters: TaskFilter | None = None,
               exact: bool | None = None, hnsw_ef: int | None = None) -> list[list[Hit]]:
        queries = self._check_queries(vectors, k)
        use_exact = self._settings.exact if exact is None else exact
        ef = None if use_exact else max(hnsw_ef or self._settings.hnsw_ef, k)
        params = (models.SearchParams(hnsw_ef=ef, exact=use_exact)
                  if self._server else None)  # local mode is always exact
        condition = _client_filter(filters)
        requests = [models.QueryRequest(query=row, limit=k, filter=condition, params=params,
                                        with_payload=True) for row in queries.tolist()]
        responses = self._call("search", lambda: self._client.query_batch_points(
            self.collection, requests=requests))
        return [[Hit.from_payload(p.payload or {}, similarity(p.score, self.distance))
                 for p in r.points] for r in responses]

    def search_diverse(self, vectors: np.ndarray, *, k: int, diversity: float, candidates: int,
                       filters: TaskFilter | None = None) -> list[list[Hit]]:
        queries = self._check_queries(vectors, k)
        mmr = models.Mmr(diversity=diversity, candidates_limit=max(candidates, k))
        condition = _client_filter(filters)
        requests = [models.QueryRequest(query=models.NearestQuery(nearest=row, mmr=mmr), limit=k,
                                        filter=condition, with_payload=True)
                    for row in queries.tolist()]
        responses = self._call("search", lambda: self._client.query_batch_points(
            self.collection, requests=requests))
        return [[Hit.from_payload(p.payload or {}, similarity(p.score, self.distance))
                 for p in r.points] for r in responses]

    def iter_batches(self, batch_size: int) -> Iterator[StoredBatch]:
        offset = None
        while True:
            records, offset = self._call("read points", partial(
                self._client.scroll, self.collection, limit=batch_size, offset=offset,
                with_payload=True, with_vectors=True))
            if records:
                yield StoredBatch(payloads=[dict(r.payload or {}) for r in records],
                                  vectors=np.asarray([r.vector for r in records],
                                                     dtype=np.float32))
            if offset is None:
                return


def _client_filter(filters: TaskFilter | None) -> models.Filter | None:
    must, must_not = filter_clauses(filters)
    if not (must or must_not):
        return None
    return models.Filter(
        must=[models.FieldCondition(key=key, match=models.MatchAny(any=values))
              for key, values in must] or None,
        must_not=[models.FieldCondition(key=key, match=models.MatchAny(any=values))
                  for key, values in must_not] or None)
