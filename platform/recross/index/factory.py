"""Open (or create) the example index the settings name, and name collections."""

from __future__ import annotations

import hashlib
from pathlib import Path

from recross.config import IndexDistance, IndexSettings
from recross.errors import IndexStoreError
from recross.index.base import ExampleIndex
from recross.paths import StatePaths, slug

_MAX_NAME = 120  # well inside Qdrant's and file systems' limits


def collection_name(encoder_name: str, pool_fingerprint: str,
                    distance: IndexDistance = "dot") -> str:
    """One collection per (encoder, pool, distance): ``<encoder slug>__<pool>__<distance>``.

    Names stay file-system and Qdrant safe; an over-long name keeps its start and gains a hash
    of the whole, so two different encoders or distances never share a collection.
    """
    if not encoder_name or not pool_fingerprint:
        raise IndexStoreError("a collection name needs an encoder name and a pool fingerprint, "
                              f"got {encoder_name!r} and {pool_fingerprint!r}.")
    name = f"{slug(encoder_name)}__{slug(pool_fingerprint)}__{distance}"
    if len(name) <= _MAX_NAME:
        return name
    whole = f"{encoder_name}\0{pool_fingerprint}\0{distance}"
    digest = hashlib.sha256(whole.encode()).hexdigest()[:16]
    return f"{name[:_MAX_NAME - 18]}__{digest}"


def open_index(settings: IndexSettings, *, collection: str, dimension: int, encoder_name: str,
               home: Path, distance: IndexDistance = "dot") -> ExampleIndex:
    """Create or open ``collection``; an existing one must match ``encoder_name``, ``dimension``
    and ``distance`` (how it scores: ``dot``, ``cosine`` or ``euclid``, see index/base.py).

    ``edge`` (default) keeps the shard under ``home/qdrant/<collection>``; ``server`` talks to
    ``settings.url``; ``local`` is qdrant-client's local mode (``settings.local_path``, relative
    to ``home``, or in memory).
    """
    if dimension <= 0:
        raise IndexStoreError(f"the vector dimension must be positive, got {dimension}.")
    if collection != slug(collection) or collection.startswith("."):
        raise IndexStoreError(f"collection name {collection!r} has characters Qdrant or the file "
                              "system may reject. Fix: build it with collection_name(), or use "
                              f"{slug(collection).lstrip('.')!r}.")
    if settings.backend == "edge":
        from recross.index.edge import EdgeIndex  # Edge is beta: imported only when used

        return EdgeIndex(settings, folder=StatePaths(home).qdrant / collection,
                         collection=collection, dimension=dimension, encoder_name=encoder_name,
                         distance=distance)
    from recross.index.client import QdrantClientIndex

    return QdrantClientIndex(settings, collection=collection, dimension=dimension,
                             encoder_name=encoder_name, home=home, distance=distance)
