"""The embedded backend: Qdrant Edge (Qdrant's engine in-process), one shard folder per collection.

Qdrant Edge is beta; this is the only module that imports it, so an API change stays here.
Layout of a collection folder under ``RECROSS_HOME/qdrant/<collection>/``::

    manifest.json   encoder name, dimension, distance (checked on every open)
    .lock           flock held while open: one process per shard
    shard/          the Edge shard (segments, config)

Writes skip Edge's write-ahead log and flush before :meth:`upsert` returns: a point counts once
it is flushed, and an interrupted build resumes from the flushed points (``build_index``). The
WAL would triple the cost of a bulk load for no durability we rely on.
Edge runs optimizers only when asked, so bulk loads stay cheap and :meth:`optimize` builds HNSW.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import qdrant_edge as qe

from recross.config import IndexDistance, IndexSettings
from recross.errors import IndexStoreError, RecrossError
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
from recross.index.lock import FolderLock
from recross.io import atomic_write_json
from recross.paths import StatePaths

MANIFEST_FILE = "manifest.json"
SHARD_DIR = "shard"
SHARD_CONFIG_FILE = "edge_config.json"
_LOOKUP_CHUNK = 4096
_EDGE_DISTANCE = {"dot": qe.Distance.Dot, "cosine": qe.Distance.Cosine,
                  "euclid": qe.Distance.Euclid}


def embedded_collections(home: Path) -> dict[str, Manifest]:
    """The Edge collections built under ``home`` (name -> manifest), for tools that look around."""
    root = StatePaths(home).qdrant
    found = {}
    for path in sorted(root.glob(f"*/{MANIFEST_FILE}")) if root.is_dir() else []:
        manifest = Manifest.from_dict(json.loads(path.read_text("utf-8")))
        if manifest is not None:
            found[path.parent.name] = manifest
    return found


class EdgeCollection(QdrantCollection[P]):
    """A collection in a local Qdrant Edge shard: manifest, lock, shard, counts, HNSW, close.

    Subclasses write and search their own vectors; :meth:`_edge_config` is the dense layout
    (one unnamed vector), which a lexical collection rearranges.
    """

    def __init__(self, settings: IndexSettings, *, folder: Path, collection: str, dimension: int,
                 encoder_name: str, distance: IndexDistance = "dot") -> None:
        self.collection, self.dimension, self.encoder_name = collection, dimension, encoder_name
        self.distance = distance
        self._settings = settings
        self._folder = folder
        self._lock = FolderLock(folder, what=f"the Edge collection {collection!r}")
        try:
            self._check_or_write_manifest()
            self._shard = self._open_shard()
        except BaseException:
            self._lock.release()
            raise

    @property
    def where(self) -> str:
        return f"Edge collection {self.collection!r} ({self._folder})"

    def _check_or_write_manifest(self) -> None:
        manifest_path = self._folder / MANIFEST_FILE
        if manifest_path.is_file():
            try:
                manifest = Manifest.from_dict(json.loads(manifest_path.read_text("utf-8")))
            except json.JSONDecodeError as exc:
                raise IndexStoreError(f"{manifest_path} is not valid JSON ({exc}). Fix: delete "
                                      f"{self._folder} and rebuild the index.") from None
            if manifest is None:
                raise IndexStoreError(f"{manifest_path} names no encoder. Fix: delete "
                                      f"{self._folder} and rebuild the index.")
            manifest.check_matches(where=self.where, encoder_name=self.encoder_name,
                                   dimension=self.dimension, distance=self.distance)
        elif (self._folder / SHARD_DIR).exists():
            raise IndexStoreError(
                f"{self._folder / SHARD_DIR} holds a shard without a recross manifest, so its "
                f"encoder is unknown. Fix: delete {self._folder} and rebuild the index.")
        else:
            atomic_write_json(manifest_path, Manifest(encoder_name=self.encoder_name,
                                                      dimension=self.dimension,
                                                      distance=self.distance).to_dict())

    def _edge_config(self) -> qe.EdgeConfig:
        s = self._settings
        quantization = (qe.ScalarQuantizationConfig(type=qe.ScalarType.Int8, quantile=0.99,
                                                    memory=qe.Memory.Cached)
                        if s.scalar_quantization else None)
        vectors = qe.EdgeVectorParams(size=self.dimension, distance=_EDGE_DISTANCE[self.distance],
                                      memory=qe.Memory.Cold if s.on_disk_vectors else None,
                                      quantization_config=quantization)
        return qe.EdgeConfig(
            vectors=vectors,
            hnsw_config=qe.HnswIndexConfig(m=s.hnsw_m, ef_construct=s.hnsw_ef_construct,
                                           full_scan_threshold=s.full_scan_threshold_kb),
            # 1 KB: optimize() indexes every segment; Edge never optimizes on its own.
            optimizers=qe.EdgeOptimizersConfig(indexing_threshold=1),
            wal_enabled=False)

    def _open_shard(self) -> qe.EdgeShard:
        path = self._folder / SHARD_DIR
        config = self._edge_config()
        with self._engine_errors("open the shard"):
            if (path / SHARD_CONFIG_FILE).is_file():
                shard = qe.EdgeShard.load(str(path), config)
            else:
                shard = qe.EdgeShard.create(str(path), config)
            indexed = shard.info().payload_schema
            for field in KEYWORD_INDEXED_FIELDS:
                if field not in indexed:
                    shard.update(qe.UpdateOperation.create_field_index(
                        field, qe.PayloadSchemaType.Keyword))
            shard.flush()
        return shard

    @contextmanager
    def _engine_errors(self, what: str) -> Iterator[None]:
        try:
            yield
        except RecrossError:
            raise
        except Exception as exc:  # Edge raises plain Exception with the engine's message
            raise IndexStoreError(f"Qdrant Edge could not {what} of {self.where}: {exc}. Fix: "
                                  "if the shard is damaged, delete the folder and rebuild the "
                                  "index.") from exc

    def count(self) -> int:
        with self._engine_errors("count the points"):
            return int(self._shard.count(qe.CountRequest(exact=True)))

    def existing_ids(self, example_ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(example_ids), _LOOKUP_CHUNK):
            by_point = {point_id(e): e for e in example_ids[start:start + _LOOKUP_CHUNK]}
            with self._engine_errors("look up points"):
                records = self._shard.retrieve(list(by_point), with_payload=False,
                                               with_vector=False)
            found.update(by_point[str(r.id)] for r in records)
        return found

    def optimize(self) -> None:
        with self._engine_errors("build the HNSW index"):
            self._shard.optimize()
            self._shard.flush()

    def info(self) -> IndexInfo:
        with self._engine_errors("read shard info"):
            shard_info = self._shard.info()
        return IndexInfo(backend="edge", location=str(self._folder), collection=self.collection,
                         encoder_name=self.encoder_name, dimension=self.dimension,
                         points=int(shard_info.points_count),
                         indexed_vectors=int(shard_info.indexed_vectors_count))

    def close(self) -> None:
        if self._lock is None:
            return
        try:
            self._shard.flush()
            self._shard.close()
        finally:
            self._lock.release()
            self._lock = None  # type: ignore[assignment]


class EdgeIndex(EdgeCollection[np.ndarray], ExampleIndex):
    """An example index in a local Qdrant Edge shard."""

    def upsert_records(self, payloads: Sequence[dict[str, Any]], vectors: np.ndarray) -> None:
        """Write in batches of ``upsert_batch_size``, then flush.

        Edge 0.9 takes one Python ``Point`` per point and holds the GIL while it writes (a thread
        writing one batch while the next is built measured no faster), so this stays sequential.
        """
        array = self._check_points(payloads, vectors)
        step = self._settings.upsert_batch_size
        with self._engine_errors("write points"):
            for start in range(0, len(array), step):
                rows = array[start:start + step].tolist()
                points = [qe.Point(point_id(p["example_id"]), row, p)
                          for p, row in zip(payloads[start:start + step], rows)]
                self._shard.update(qe.UpdateOperation.upsert_points(points))
            self._shard.flush()

    def search(self, vectors: np.ndarray, *, k: int, filters: TaskFilter | None = None,
               exact: bool | None = None, hnsw_ef: int | None = None) -> list[list[Hit]]:
        queries = self._check_queries(vectors, k)
        use_exact = self._settings.exact if exact is None else exact
        ef = None if use_exact else max(hnsw_ef or self._settings.hnsw_ef, k)
        params = qe.SearchParams(hnsw_ef=ef, exact=use_exact)
        condition = _edge_filter(filters)
        batch = qe.QueryBatchRequest([
            qe.QueryRequest(limit=k, query=qe.Query.Nearest(row), filter=condition,
                            params=params, with_payload=True)
            for row in queries.tolist()])
        with self._engine_errors("search"):
            results = self._shard.query_batch(batch)
        return [[Hit.from_payload(p.payload or {}, similarity(p.score, self.distance))
                 for p in points] for points in results]

    def search_diverse(self, vectors: np.ndarray, *, k: int, diversity: float, candidates: int,
                       filters: TaskFilter | None = None) -> list[list[Hit]]:
        queries = self._check_queries(vectors, k)
        condition = _edge_filter(filters)
        batch = qe.QueryBatchRequest([  # Edge's lambda_ weighs relevance: 1 - diversity
            qe.QueryRequest(limit=k, query=qe.Mmr(row, 1.0 - diversity, max(candidates, k)),
                            filter=condition, with_payload=True)
            for row in queries.tolist()])
        with self._engine_errors("search"):
            results = self._shard.query_batch(batch)
        return [[Hit.from_payload(p.payload or {}, similarity(p.score, self.distance))
                 for p in points] for points in results]

    def iter_batches(self, batch_size: int) -> Iterator[StoredBatch]:
        offset = None
        while True:
            with self._engine_errors("read points"):
                records, offset = self._shard.scroll(qe.ScrollRequest(
                    offset=offset, limit=batch_size, with_payload=True, with_vector=True))
            if records:
                yield StoredBatch(payloads=[dict(r.payload or {}) for r in records],
                                  vectors=np.asarray([r.vector for r in records],
                                                     dtype=np.float32))
            if offset is None:
                return


def _edge_filter(filters: TaskFilter | None) -> qe.Filter | None:
    must, must_not = filter_clauses(filters)
    if not (must or must_not):
        return None
    return qe.Filter(
        must=[qe.FieldCondition(key=key, match=qe.MatchAny(values)) for key, values in must]
        or None,
        must_not=[qe.FieldCondition(key=key, match=qe.MatchAny(values))
                  for key, values in must_not] or None)
