"""Upstream steps: the pool table, the upstream model M, and the two example indexes."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd

from recross.config import Settings
from recross.data import UpstreamPool, load_upstream_pool, resolve_data_dir
from recross.index import BuildReport, ExampleIndex, build_index, collection_name, open_index
from recross.io import atomic_write_bytes
from recross.models import (
    build_upstream_model,
    load_seq2seq,
    sentence_encoder,
    upstream_encoder,
)
from recross.models.encoder import ExampleEncoder
from recross.paths import StatePaths

IndexKind = Literal["upstream", "sbert"]


def pool_table_path(settings: Settings) -> Path:
    return StatePaths(settings.home).tables / "upstream_pool.parquet"


def pool_fingerprint(pool: UpstreamPool) -> str:
    """Short hash of the pool's example ids: part of every index's collection name."""
    digest = hashlib.sha1("\n".join(ex.example_id for ex in pool.examples).encode("utf-8"))
    return digest.hexdigest()[:10]


def write_pool_table(settings: Settings) -> tuple[UpstreamPool, Path]:
    """Load D from the data directory and store it as the ``upstream_pool`` parquet table."""
    pool = load_upstream_pool(resolve_data_dir(settings.data.data_dir),
                              tasks=settings.data.upstream_tasks,
                              cap_per_task=settings.data.upstream_cap_per_task)
    path = pool_table_path(settings)
    atomic_write_bytes(path, pool.to_frame().to_parquet(index=False))
    return pool, path


def read_pool(settings: Settings) -> UpstreamPool:
    """The pool as materialized by ``upstream_pool`` (written first when absent)."""
    path = pool_table_path(settings)
    if not path.is_file():
        return write_pool_table(settings)[0]
    return UpstreamPool.from_frame(pd.read_parquet(path))


def upstream_model_dir(settings: Settings) -> Path:
    return StatePaths(settings.home).upstream_model(settings.models.upstream_model)


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
        bundle = load_seq2seq(upstream_model_dir(settings), device=m.device)
        return upstream_encoder(bundle, max_length=m.max_input_length,
                                batch_size=m.encode_batch_size,
                                onnx_int8_cache=int8_cache(settings),
                                unit=m.upstream_vectors == "unit")
    return sentence_encoder(m.sbert_model, max_length=m.max_input_length,
                            batch_size=m.encode_batch_size, device=m.device,
                            onnx_int8_cache=int8_cache(settings))


@dataclass
class IndexHandle:
    index: ExampleIndex
    encoder: ExampleEncoder


def open_pool_index(settings: Settings, pool: UpstreamPool, kind: IndexKind,
                    encoder: ExampleEncoder | None = None) -> IndexHandle:
    """Open (or create) the collection of ``kind`` for this pool and encoder."""
    encoder = encoder or make_encoder(settings, kind)
    index = open_index(settings.index, collection=collection_name(encoder.name,
                                                                  pool_fingerprint(pool)),
                       dimension=encoder.dimension, encoder_name=encoder.name,
                       home=Path(settings.home))
    return IndexHandle(index=index, encoder=encoder)


@dataclass
class IndexSummary:
    collection: str
    encoder: str
    dimension: int
    points: int
    report: BuildReport
    optimize_seconds: float


def build_pool_index(settings: Settings, pool: UpstreamPool, kind: IndexKind, *,
                     progress: bool = True) -> IndexSummary:
    """Encode every pool example into the collection (resumable), then build HNSW."""
    handle = open_pool_index(settings, pool, kind)
    try:
        report = build_index(handle.index, pool.examples,
                             lambda texts: handle.encoder.encode(texts, progress=False),
                             batch_size=settings.index.upsert_batch_size, progress=progress)
        started = time.perf_counter()
        handle.index.optimize()
        return IndexSummary(collection=handle.index.collection, encoder=handle.encoder.name,
                            dimension=handle.encoder.dimension, points=handle.index.count(),
                            report=report, optimize_seconds=time.perf_counter() - started)
    finally:
        handle.index.close()
