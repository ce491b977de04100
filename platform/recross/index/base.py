"""The example-index contract every backend honours, and the pieces they share.

A collection holds one point per upstream example: the mean-pooled vector of the encoder that
built it, scored by the collection's distance (``index.upstream_distance`` /
``index.sbert_distance``): ``dot`` (inner product, the paper text's maximum inner product
search), ``cosine`` (Qdrant normalises stored and query vectors) or ``euclid`` (L2 distance: what
the reference code searched, ``faiss.IndexFlatL2`` over the un-normalised mean-pooled BART
states; on such vectors it ranks by ``q.x - |x|^2 / 2`` and does not favour long vectors the way
inner product does). The distance is part of the collection's name and manifest, so a changed
distance builds a new collection. Qdrant returns a *distance* for euclid (smaller is nearer) and
a similarity for the others; :func:`similarity` turns every score into "higher is nearer" in
this one place, so whatever sorts hits downstream needs no case for it.

The payload holds only what filtering and reporting need (example id, task, template, split,
source index). The input and answer texts stay in the upstream pool table, which is the source
of truth and is already loaded wherever hits are turned into examples
(``UpstreamPool.lookup``): long texts in the payload would double the index size and slow every
upsert (Qdrant Edge converts each payload field on the Python side), for no reader.
"""

from __future__ import annotations

import hashlib
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence, Sized
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

import numpy as np

from recross.config import IndexDistance
from recross.data import Example
from recross.errors import IndexStoreError
from recross.index.filters import TaskFilter

# Point ids are UUIDv5 of the example id in this namespace: a re-run overwrites, never duplicates.
POINT_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/INK-USC/ReCross/example")
PAYLOAD_FIELDS = ("example_id", "task", "template", "split", "source_index")
KEYWORD_INDEXED_FIELDS = ("task", "template")
MANIFEST_VERSION = 1
# What a collection stores per batch of points: an ``(n, d)`` array for a dense index.
P = TypeVar("P", bound=Sized)


_NAMESPACE_BYTES = POINT_ID_NAMESPACE.bytes


def point_id(example_id: str) -> str:
    """The deterministic point id of an example id: ``str(uuid.uuid5(POINT_ID_NAMESPACE, id))``.

    Spelled out with hashlib because it runs once per point on every write and lookup, and the
    uuid module's objects cost three times as much.
    """
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + example_id.encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def example_payload(example: Example) -> dict[str, Any]:
    return {"example_id": example.example_id, "task": example.task, "template": example.template,
            "split": example.split, "source_index": example.source_index}


def similarity(score: float, distance: IndexDistance) -> float:
    """Qdrant's score as "higher is nearer": euclid distances are negated, the others kept."""
    return -float(score) if distance == "euclid" else float(score)


@dataclass(frozen=True)
class Hit:
    """One retrieved upstream example; ``score``: higher is nearer (:func:`similarity`)."""

    example_id: str
    score: float
    task: str
    template: str
    split: str
    source_index: int

    @classmethod
    def from_payload(cls, payload: dict[str, Any], score: float) -> Hit:
        return cls(example_id=payload["example_id"], score=float(score), task=payload["task"],
                   template=payload["template"], split=payload["split"],
                   source_index=int(payload["source_index"]))


@dataclass(frozen=True)
class IndexInfo:
    """What a person wants to see about an index (Dagster metadata, `recross index export`)."""

    backend: str
    location: str
    collection: str
    encoder_name: str
    dimension: int
    points: int
    indexed_vectors: int | None  # points already in an HNSW graph; None where not reported


@dataclass(frozen=True)
class Manifest:
    """Stored with a collection so it is never searched with another encoder's vectors."""

    encoder_name: str
    dimension: int
    distance: str = "dot"  # collections made before the setting existed were all dot
    normalized: bool = False  # vectors are stored as the encoder returns them
    version: int = MANIFEST_VERSION

    def to_dict(self) -> dict[str, Any]:
        return {"recross_encoder": self.encoder_name, "recross_dimension": self.dimension,
                "recross_distance": self.distance, "recross_normalized": self.normalized,
                "recross_manifest_version": self.version}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Manifest | None:
        if not data or "recross_encoder" not in data:
            return None
        return cls(encoder_name=str(data["recross_encoder"]),
                   dimension=int(data["recross_dimension"]),
                   distance=str(data.get("recross_distance", "dot")),
                   normalized=bool(data.get("recross_normalized", False)),
                   version=int(data.get("recross_manifest_version", MANIFEST_VERSION)))

    def check_matches(self, *, where: str, encoder_name: str, dimension: int,
                      distance: str | None = None) -> None:
        """Raise when the stored collection was built by another encoder, dimension or (when
        given) distance."""
        if distance is not None and self.distance != distance:
            raise IndexStoreError(
                f"{where} scores by {self.distance!r}, not {distance!r}; its neighbours would be "
                "ranked by the other distance. Fix: open the collection named for this distance "
                "(collection_name(..., distance=...)) or rebuild the index.")
        if self.dimension != dimension:
            raise IndexStoreError(
                f"dimension mismatch: {where} holds {self.dimension}-dimensional vectors "
                f"(encoder {self.encoder_name!r}), but {dimension}-dimensional vectors were asked "
                "for. Fix: open the collection named for this encoder (collection_name()) or "
                "delete the old collection and rebuild the index.")
        if self.encoder_name != encoder_name:
            raise IndexStoreError(
                f"{where} was built by encoder {self.encoder_name!r}, not {encoder_name!r}; "
                "searching it with another encoder's vectors gives meaningless neighbours. Fix: "
                "open the collection named for this encoder (collection_name()) or rebuild it.")


@dataclass(frozen=True)
class StoredBatch:
    """Points read back from an index (export): parallel lists plus a ``(n, d)`` array."""

    payloads: list[dict[str, Any]]
    vectors: np.ndarray


def filter_clauses(filters: TaskFilter | None) -> tuple[list[tuple[str, list[str]]],
                                                         list[tuple[str, list[str]]]]:
    """``(must, must_not)`` as ``(field, any-of values)`` pairs, for each backend to translate."""
    if filters is None or filters.is_empty:
        return [], []
    must = [(key, list(values)) for key, values in
            (("task", filters.include_tasks), ("template", filters.include_templates)) if values]
    must_not = [(key, list(values)) for key, values in
                (("task", filters.exclude_tasks), ("template", filters.exclude_templates))
                if values]
    return must, must_not


def check_vectors(vectors: np.ndarray, *, dimension: int, where: str, what: str) -> np.ndarray:
    """A C-contiguous float32 ``(n, dimension)`` array of finite values, else a clear error."""
    array = np.ascontiguousarray(vectors, dtype=np.float32)
    if array.ndim != 2 or array.shape[1] != dimension:
        raise IndexStoreError(
            f"dimension mismatch: {what} have shape {tuple(array.shape)}, but {where} holds "
            f"{dimension}-dimensional vectors. Fix: encode with the encoder the index was built "
            "with, or build a new index for this encoder.")
    if not np.isfinite(array).all():
        raise IndexStoreError(f"{what} for {where} contain NaN or infinite values; the encoder "
                              "output is broken. Fix: check the encoder (e.g. fp16 overflow).")
    return array


def check_payload_fields(payloads: Sequence[dict[str, Any]]) -> None:
    """Every point's payload carries :data:`PAYLOAD_FIELDS` (checked on the first)."""
    missing = [f for f in PAYLOAD_FIELDS if payloads and f not in payloads[0]]
    if missing:
        raise IndexStoreError(f"payloads lack the fields {missing}; every point needs "
                              f"{list(PAYLOAD_FIELDS)}.")


class QdrantCollection(ABC, Generic[P]):
    """One Qdrant collection of upstream-example points: write, look up, count, optimize, close.

    What dense indexes (:class:`ExampleIndex`) and lexical collections
    (:class:`recross.index.lexical.LexicalIndex`) share; ``P`` is what :meth:`upsert_records`
    stores beside the payloads, so each kind takes only its own points.
    """

    collection: str
    dimension: int
    encoder_name: str
    distance: IndexDistance

    @property
    @abstractmethod
    def where(self) -> str:
        """The collection and its location for messages (never a secret)."""

    @abstractmethod
    def count(self) -> int:
        """Number of points stored (exact)."""

    @abstractmethod
    def existing_ids(self, example_ids: Sequence[str]) -> set[str]:
        """Which of ``example_ids`` are already stored."""

    def upsert(self, examples: Sequence[Example], vectors: P) -> None:
        """Write (or overwrite) one point per example; returns once the points are durable."""
        if len(examples) != len(vectors):
            raise IndexStoreError(f"upsert got {len(examples)} examples but {len(vectors)} "
                                  "vectors; they must pair one to one.")
        self.upsert_records([example_payload(e) for e in examples], vectors)

    @abstractmethod
    def upsert_records(self, payloads: Sequence[dict[str, Any]], vectors: P) -> None:
        """Write points given their payloads (each with ``example_id``); used by import."""

    @abstractmethod
    def optimize(self) -> None:
        """Build the HNSW graph; call once after a bulk load (searches are exact until then)."""

    @abstractmethod
    def info(self) -> IndexInfo:
        ...

    @abstractmethod
    def close(self) -> None:
        ...

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _check_queries(self, vectors: np.ndarray, k: int) -> np.ndarray:
        if k <= 0:
            raise IndexStoreError(f"k must be positive, got {k}.")
        return check_vectors(vectors, dimension=self.dimension, where=self.where,
                             what="query vectors")


class ExampleIndex(QdrantCollection[np.ndarray]):
    """One collection of upstream-example vectors: write, look up, search.

    Open one with :func:`recross.index.open_index`; close it (or use ``with``) to release the
    files and connections.
    """

    @abstractmethod
    def search(self, vectors: np.ndarray, *, k: int, filters: TaskFilter | None = None,
               exact: bool | None = None, hnsw_ef: int | None = None) -> list[list[Hit]]:
        """Top-``k`` hits per query vector, best first.

        ``exact`` and ``hnsw_ef`` default to the settings; ``ef`` is raised to ``k`` when lower.
        """

    @abstractmethod
    def search_diverse(self, vectors: np.ndarray, *, k: int, diversity: float, candidates: int,
                       filters: TaskFilter | None = None) -> list[list[Hit]]:
        """Top-``k`` per query chosen by Qdrant's maximal marginal relevance among the
        ``candidates`` nearest: ``diversity`` 0 keeps plain relevance order, 1 only diversity."""

    @abstractmethod
    def iter_batches(self, batch_size: int) -> Iterator[StoredBatch]:
        """Every stored point with its vector and payload, in batches (export)."""

    def _check_points(self, payloads: Sequence[dict[str, Any]], vectors: np.ndarray) -> np.ndarray:
        if len(payloads) != len(vectors):
            raise IndexStoreError(f"got {len(payloads)} payloads but {len(vectors)} vectors; "
                                  "they must pair one to one.")
        check_payload_fields(payloads)
        return check_vectors(vectors, dimension=self.dimension, where=self.where,
                             what="vectors to store")
