"""Lexical collections: BM25 term vectors, alone or beside M's dense vectors (hybrid).

A ``bm25`` collection holds one sparse vector per pool example (named ``bm25``, IDF modifier:
Qdrant weighs each term by the pool's own inverse document frequency at search time). A
``hybrid`` collection holds the same sparse vector plus the dense vector of M's index (named
``dense``), so one query can prefetch both and fuse them by reciprocal rank inside Qdrant.
Point ids, payload and keyword indexes are those of the dense index, and builds are resumable
the same way (:func:`recross.index.build_index` for ``bm25``, :func:`build_hybrid_index`).

    >>> from recross.config import IndexSettings
    >>> bm25 = Bm25Encoder(k=1.2, b=0.75, avg_length=8.0)
    >>> index = open_lexical_index(IndexSettings(backend="local"), collection="demo",
    ...                            encoder_name=bm25.name, dense_dimension=None, home=Path("."))
    >>> index.upsert_records([{"example_id": "e1", "task": "t", "template": "-", "split": "x",
    ...                        "source_index": 0}], LexicalPoints(bm25.documents(["a cat sat"])))
    >>> [hit.example_id for hit in index.search_sparse(bm25.queries(["Cats?"]), k=1)[0]]
    ['e1']
    >>> index.close()
"""

from __future__ import annotations

import time
from abc import abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from recross.config import IndexDistance, IndexSettings
from recross.data import UpstreamPool
from recross.errors import IndexStoreError
from recross.index.base import (
    ExampleIndex,
    Hit,
    QdrantCollection,
    StoredBatch,
    check_payload_fields,
    check_vectors,
)
from recross.index.bm25 import Bm25Encoder, SparseTerms
from recross.index.build import BuildReport
from recross.index.filters import TaskFilter
from recross.paths import StatePaths, slug
from recross.progress import progress_bar

DENSE_VECTOR = "dense"  # name of M's vector in a hybrid collection


@dataclass(frozen=True)
class LexicalPoints:
    """What a lexical collection stores per point: BM25 terms and, in a hybrid one, M's vector."""

    sparse: Sequence[SparseTerms]
    dense: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.sparse)


def ordered(hits: list[Hit]) -> list[Hit]:
    """Best first, equal scores by example id: backends break ties differently, this does not."""
    return sorted(hits, key=lambda h: (-round(h.score, 6), h.example_id))


def lexical_only(where: str) -> IndexStoreError:
    """The error for a dense-index call on a lexical collection."""
    return IndexStoreError(f"{where} is a lexical (BM25) collection: search it with "
                           "search_sparse / search_fused. Fix: open the dense index for dense "
                           "search or export; a lexical collection is rebuilt from the pool.")


class LexicalIndex(QdrantCollection[LexicalPoints]):
    """A BM25 (``dense_dimension`` None) or hybrid collection; both backends implement its
    searches (:mod:`recross.index.lexical_edge`, :mod:`recross.index.lexical_client`).

    Not an :class:`ExampleIndex`: the dense index's searches and export, called on it anyway
    (untyped code, a notebook), fail with :func:`lexical_only` on every backend alike.
    """

    dense_dimension: int | None

    @abstractmethod
    def search_sparse(self, queries: Sequence[SparseTerms], *, k: int,
                      filters: TaskFilter | None = None) -> list[list[Hit]]:
        """Top-``k`` BM25 hits per query, best first (a query without terms gets none)."""

    @abstractmethod
    def search_fused(self, dense: np.ndarray, sparse: Sequence[SparseTerms], *, k: int,
                     prefetch: int, rrf_k: int,
                     filters: TaskFilter | None = None) -> list[list[Hit]]:
        """Per query: ``prefetch`` dense and ``prefetch`` BM25 hits fused by RRF, top ``k``.

        Qdrant's RRF scores a point ``sum over lists of 1 / (rrf_k + rank)``, rank 0-based.
        """

    def search(self, vectors: np.ndarray, *, k: int, filters: TaskFilter | None = None,
               exact: bool | None = None, hnsw_ef: int | None = None) -> NoReturn:
        raise lexical_only(self.where)

    def search_diverse(self, vectors: np.ndarray, *, k: int, diversity: float, candidates: int,
                       filters: TaskFilter | None = None) -> NoReturn:
        raise lexical_only(self.where)

    def iter_batches(self, batch_size: int) -> Iterator[StoredBatch]:
        raise lexical_only(self.where)

    def _check_queries(self, vectors: np.ndarray, k: int) -> np.ndarray:
        if not self.dense_dimension:
            raise lexical_only(self.where)
        return super()._check_queries(vectors, k)

    def _check_points(self, payloads: Sequence[dict[str, Any]],
                      points: LexicalPoints) -> np.ndarray | None:
        """Payloads and points pair up; a hybrid collection gets finite dense vectors, others
        none (returned as the array to store)."""
        if len(payloads) != len(points) or (points.dense is not None
                                            and len(points.dense) != len(points)):
            raise IndexStoreError(f"got {len(payloads)} payloads for {len(points)} BM25 vectors "
                                  f"and {0 if points.dense is None else len(points.dense)} dense "
                                  "vectors; they must pair one to one.")
        check_payload_fields(payloads)
        hybrid = self.dense_dimension
        if (points.dense is None) != (hybrid is None):
            raise IndexStoreError(
                f"{self.where} {'needs' if hybrid else 'takes no'} dense vectors beside the BM25 "
                "vectors. Fix: build hybrid collections with build_hybrid_index and BM25 "
                "collections from BM25 vectors alone.")
        if points.dense is None or hybrid is None:
            return None
        return check_vectors(points.dense, dimension=hybrid, where=self.where,
                             what="dense vectors")


def hybrid_contents(bm25_name: str, dense_encoder_name: str) -> str:
    """What a hybrid collection holds, as its manifest's encoder name."""
    return f"{bm25_name}+{dense_encoder_name}"


def open_lexical_index(settings: IndexSettings, *, collection: str, encoder_name: str,
                       dense_dimension: int | None, home: Path,
                       distance: IndexDistance = "dot") -> LexicalIndex:
    """Create or open a lexical collection; ``dense_dimension`` set makes it hybrid.

    ``encoder_name`` names what it holds (the BM25 parameters, and M's encoder when hybrid);
    an existing collection must match it, like a dense index. ``distance`` is M's index's, for
    the dense vectors of a hybrid collection.
    """
    if collection != slug(collection) or collection.startswith("."):
        raise IndexStoreError(f"collection name {collection!r} has characters Qdrant or the file "
                              "system may reject. Fix: build it with collection_name().")
    if settings.backend == "edge":
        from recross.index.lexical_edge import EdgeLexicalIndex

        # a folder of their own: tools that list the dense collections never meet these
        return EdgeLexicalIndex(settings, folder=StatePaths(home).qdrant / "lexical" / collection,
                                collection=collection, encoder_name=encoder_name,
                                dense_dimension=dense_dimension, distance=distance)
    from recross.index.lexical_client import ClientLexicalIndex

    return ClientLexicalIndex(settings, collection=collection, encoder_name=encoder_name,
                              dense_dimension=dense_dimension, home=home, distance=distance)


def build_hybrid_index(hybrid: LexicalIndex, dense: ExampleIndex, pool: UpstreamPool,
                       bm25: Bm25Encoder, *, batch_size: int, progress: bool = True
                       ) -> BuildReport:
    """Copy the points of ``pool``'s examples (one or more upstream partitions) from M's index
    ``dense`` into ``hybrid``, each with its BM25 vector beside it.

    M's vectors are read back, not re-encoded (encoding is the costly step). Resumable: each
    batch writes only the ids ``hybrid`` lacks, and every example of ``pool`` must be there at the end.
    """
    if batch_size <= 0:
        raise IndexStoreError(f"batch_size must be positive, got {batch_size}.")
    started = time.perf_counter()
    written = skipped = 0
    with progress_bar(enabled=progress, total=len(pool), desc=f"index {hybrid.collection}",
                      unit="ex") as bar:
        for batch in dense.iter_batches(batch_size):
            ids = [p["example_id"] for p in batch.payloads]
            present = hybrid.existing_ids(ids)
            keep = [i for i, e in enumerate(ids) if e not in present and e in pool]
            if keep:
                texts = [pool.get(ids[i]).input for i in keep]
                hybrid.upsert_records([batch.payloads[i] for i in keep], LexicalPoints(
                    sparse=bm25.documents(texts), dense=batch.vectors[keep]))
            written += len(keep)
            skipped += len(ids) - len(keep)
            bar.update(len(ids))
    if len(hybrid.existing_ids([e.example_id for e in pool.examples])) != len(pool):
        raise IndexStoreError(
            f"{hybrid.where} lacks some of the {len(pool)} examples of its partitions after the "
            f"build. Fix: build M's index {dense.where} for these partitions first, or delete "
            "the hybrid collection and rebuild it.")
    return BuildReport(total=len(pool), written=written, skipped=skipped,
                       seconds=time.perf_counter() - started)
