"""The lexical collections of the pool (``bm25``, ``hybrid``) and DSIR's feature cache.

``bm25`` needs only the pool: BM25 vectors are computed in-process (no model) and written to
their own collection. ``hybrid`` copies M's index (its vectors are read back, not re-encoded)
and adds the BM25 vector to every point, so it needs ``upstream_index`` first. Both resume like
the dense build and are checked against the pool's size.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from recross.config import IndexDistance, Settings
from recross.data import UpstreamPool
from recross.index import build_index, collection_name
from recross.index.bm25 import Bm25Encoder
from recross.index.lexical import (
    LexicalIndex,
    LexicalPoints,
    build_hybrid_index,
    hybrid_contents,
    open_lexical_index,
)
from recross.models.encoder_interface import ExampleEncoder
from recross.paths import StatePaths
from recross.pipeline.upstream import (
    IndexSummary,
    collection_fingerprint,
    open_pool_index,
    partition_pool,
    pool_fingerprint,
)

LexicalKind = Literal["bm25", "hybrid"]


def open_lexical_collection(settings: Settings, pool: UpstreamPool,
                            hybrid_encoder: ExampleEncoder | None = None) -> LexicalIndex:
    """Open (or create) the pool's ``bm25`` collection, or with M's encoder its ``hybrid`` one."""
    bm25 = Bm25Encoder.from_settings(settings.lexical)
    contents, dimension = bm25.name, None
    distance: IndexDistance = "dot"
    if hybrid_encoder is not None:
        contents = hybrid_contents(bm25.name, hybrid_encoder.name)
        dimension, distance = hybrid_encoder.dimension, settings.index.upstream_distance
    return open_lexical_index(settings.index,
                              collection=collection_name(contents, collection_fingerprint(pool),
                                                         distance),
                              encoder_name=contents, dense_dimension=dimension,
                              home=Path(settings.home), distance=distance)


def build_lexical_collection(settings: Settings, pool: UpstreamPool, kind: LexicalKind, *,
                             tasks: Sequence[str] | None = None,
                             progress: bool = True) -> IndexSummary:
    """Build (or finish) the upstream partitions ``tasks`` (default: all) of the ``bm25`` or
    ``hybrid`` collection, then index it."""
    part = partition_pool(pool, tasks)
    bm25 = Bm25Encoder.from_settings(settings.lexical)
    batch = settings.index.upsert_batch_size
    dense = open_pool_index(settings, pool, "upstream") if kind == "hybrid" else None
    try:
        with open_lexical_collection(settings, pool, dense.encoder if dense else None) as index:
            if dense is None:
                report = build_index(index, part.examples,
                                     lambda texts: LexicalPoints(bm25.documents(texts)),
                                     batch_size=batch, progress=progress)
            else:
                report = build_hybrid_index(index, dense.index, part, bm25, batch_size=batch,
                                            progress=progress)
            started = time.perf_counter()
            index.optimize()
            return IndexSummary(collection=index.collection, encoder=index.encoder_name,
                                dimension=index.dimension, points=index.count(), report=report,
                                optimize_seconds=time.perf_counter() - started,
                                partitions=part.task_counts())
    finally:
        if dense is not None:
            dense.index.close()


def dsir_cache(settings: Settings, pool: UpstreamPool) -> Path:
    """Where DSIR keeps the pool's hashed n-gram counts (per pool and feature settings)."""
    lex = settings.lexical
    return (StatePaths(Path(settings.home)).dsir
            / f"{pool_fingerprint(pool)}-b{lex.dsir_buckets}-n{lex.dsir_max_ngram}.npz")
