"""Upstream steps: the pool table, the upstream model M, and the two example indexes."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from recross.config import Settings
from recross.data import Example, UpstreamPool
from recross.errors import DataError
from recross.index import BuildReport, ExampleIndex, build_index, collection_name, open_index
from recross.models import (
    build_upstream_model,
    load_seq2seq,
    sentence_encoder,
    upstream_encoder,
)
from recross.models.encoder_interface import ExampleEncoder
from recross.models.input_format import set_input_format
from recross.models.loading import Seq2SeqBundle
from recross.paths import StatePaths
from recross.pipeline.upstream_partitions import (
    pool_tables_dir,
    read_pool_union,
    upstream_partitions,
    write_pool_partition,
)

IndexKind = Literal["upstream", "sbert"]


def _ids_digest(examples: Sequence[Example]) -> str:
    digest = hashlib.sha1("\n".join(ex.example_id for ex in examples).encode("utf-8"))
    return digest.hexdigest()[:10]


def pool_fingerprint(pool: UpstreamPool) -> str:
    """Short hash of the pool's example ids, users' tasks included (caches of the whole pool)."""
    return _ids_digest(pool.examples)


def collection_fingerprint(pool: UpstreamPool) -> str:
    """The pool's part of every collection name: the data's tasks only, so a task a user adds
    joins the existing collections (one more partition) instead of renaming them all."""
    added = set(pool.user_tasks)
    return _ids_digest([ex for ex in pool.examples if ex.task not in added])


def write_pool_table(settings: Settings) -> tuple[UpstreamPool, Path]:
    """Write every partition of the ``upstream_pool`` table; returns D and the tables' folder."""
    for task in upstream_partitions(settings):
        write_pool_partition(settings, task)
    return read_pool_union(settings), pool_tables_dir(settings)


def read_pool(settings: Settings, *, with_user_tasks: bool = True) -> UpstreamPool:
    """D as materialized by ``upstream_pool``: the union of its partitions (absent ones are
    written first). ``with_user_tasks=False``: what M is trained on."""
    return read_pool_union(settings, with_user_tasks=with_user_tasks)


def upstream_model_dir(settings: Settings) -> Path:
    return StatePaths(settings.home).upstream_model(settings.models.upstream_model)


def load_upstream_model(settings: Settings) -> Seq2SeqBundle:
    """M as every step feeds it: on ``models.device``, in ``models.input_format``."""
    bundle = load_seq2seq(upstream_model_dir(settings), device=settings.models.device)
    set_input_format(bundle.model, settings.models.input_format)
    return bundle


def ensure_upstream_model(settings: Settings, pool: UpstreamPool, *, progress: bool = True):
    """Train (``build:`` names) or fetch M into the state folder; resumes an interrupted run."""
    return build_upstream_model(settings, pool, out_dir=upstream_model_dir(settings),
                                progress=progress)


def int8_cache(settings: Settings) -> Path | None:
    """Where the encoders' int8 graphs live under ``encoder_runtime: onnx-int8``; None: torch."""
    if settings.models.encoder_runtime == "onnx-int8":
        return StatePaths(settings.home).int8_encoders
    return None


def make_encoder(settings: Settings, kind: IndexKind) -> ExampleEncoder:
    """The encoder of an index: M's mean-pooled encoder, or the SBERT baseline's model."""
    m = settings.models
    if kind == "upstream":
        bundle = load_upstream_model(settings)
        return upstream_encoder(bundle, max_length=m.max_input_length,
                                batch_size=m.encode_batch_size,
                                onnx_int8_cache=int8_cache(settings))
    return sentence_encoder(m.sbert_model, max_length=m.max_input_length,
                            batch_size=m.encode_batch_size, device=m.device,
                            onnx_int8_cache=int8_cache(settings))


@dataclass
class IndexHandle:
    index: ExampleIndex
    encoder: ExampleEncoder


def open_pool_index(settings: Settings, pool: UpstreamPool, kind: IndexKind,
                    encoder: ExampleEncoder | None = None) -> IndexHandle:
    """Open (or create) the collection of ``kind`` for this pool, encoder and distance."""
    encoder = encoder or make_encoder(settings, kind)
    distance = (settings.index.upstream_distance if kind == "upstream"
                else settings.index.sbert_distance)
    index = open_index(settings.index,
                       collection=collection_name(encoder.name, collection_fingerprint(pool),
                                                  distance),
                       dimension=encoder.dimension, encoder_name=encoder.name,
                       home=Path(settings.home), distance=distance)
    return IndexHandle(index=index, encoder=encoder)


@dataclass
class IndexSummary:
    collection: str
    encoder: str
    dimension: int
    points: int  # the whole collection: every partition built so far
    report: BuildReport
    optimize_seconds: float
    partitions: dict[str, int]  # upstream task -> its points, for the partitions built here


def partition_pool(pool: UpstreamPool, tasks: Sequence[str] | None) -> UpstreamPool:
    """The examples of ``tasks`` (all when None): what one build of some partitions writes."""
    if tasks is None:
        return pool
    unknown = sorted(set(tasks) - set(pool.tasks))
    if unknown:
        raise DataError(f"upstream partitions {unknown} are not in the pool (tasks: "
                        f"{', '.join(pool.tasks)}). Fix: materialize their upstream_pool "
                        "partitions, or add them with `recross upstream add`.")
    chosen = set(tasks)
    return UpstreamPool(examples=[e for e in pool.examples if e.task in chosen])


def longest_first(examples: Sequence[Example]) -> list[Example]:
    """``examples`` by input length in characters, longest first (ties in pool order): a
    tokenizer-free proxy of token length, the same order on every run, so a build resumes."""
    return sorted(examples, key=lambda e: -len(e.input))


def build_pool_index(settings: Settings, pool: UpstreamPool, kind: IndexKind, *,
                     tasks: Sequence[str] | None = None, progress: bool = True) -> IndexSummary:
    """Encode the examples of the upstream partitions ``tasks`` (default: all) into the pool's
    collection (resumable; each example must have its point at the end), then build HNSW."""
    part = partition_pool(pool, tasks)
    handle = open_pool_index(settings, pool, kind)
    examples = (longest_first(part.examples) if settings.index.pool_sorted_encoding
                else part.examples)
    try:
        report = build_index(handle.index, examples,
                             lambda texts: handle.encoder.encode(texts, progress=False),
                             batch_size=settings.index.upsert_batch_size, progress=progress)
        started = time.perf_counter()
        handle.index.optimize()
        return IndexSummary(collection=handle.index.collection, encoder=handle.encoder.name,
                            dimension=handle.encoder.dimension, points=handle.index.count(),
                            report=report, optimize_seconds=time.perf_counter() - started,
                            partitions=part.task_counts())
    finally:
        handle.index.close()
