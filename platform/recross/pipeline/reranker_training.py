"""Reranker steps: mine distant supervision from the upstream pool, train the cross-encoder."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pandas as pd

from recross.config import MiningSettings, Settings
from recross.data import UpstreamPool
from recross.io import atomic_write_json, is_complete
from recross.paths import StatePaths
from recross.pipeline.indexes import OpenIndexes
from recross.pipeline.upstream import load_upstream_model
from recross.reranking import (
    CrossEncoderScorer,
    MiningRun,
    int8_pair_graph,
    load_cross_encoder,
    mine_distant_supervision,
    read_mined,
    train_cross_encoder,
)
from recross.retrieval import DenseRetrieval

REPORT_FILE = "recross_report.json"


def mining_settings(settings: Settings) -> MiningSettings:
    """The mining settings with ``exclude_tasks`` resolved (None: the pretend-targets held out
    of M's training)."""
    m = settings.mining
    if m.exclude_tasks is not None:
        return m
    return m.model_copy(update={"exclude_tasks": list(settings.upstream_training.holdout_tasks)})


def mining_dir(settings: Settings) -> Path:
    """One folder per M and per the settings its tuples depend on (all but ``n_tuples``, so a
    run can be extended): changing, say, ``index.upstream_distance`` mines afresh beside the old
    tuples instead of refusing to mix them. The run's manifest still pins M's weights."""
    m, d = settings.models, settings.data
    depends_on = {"mining": mining_settings(settings).model_dump(mode="json",
                                                                 exclude={"n_tuples"}),
                  "distance": settings.index.upstream_distance, "runtime": m.encoder_runtime,
                  "input_format": m.input_format,
                  "lengths": [m.max_input_length, m.max_output_length],
                  "pool": [d.upstream_cap_per_task, d.upstream_tasks]}
    digest = hashlib.sha1(json.dumps(depends_on, sort_keys=True).encode("utf-8")).hexdigest()
    return StatePaths(Path(settings.home)).mining(f"{m.upstream_model}--{digest[:10]}")


def reranker_dir(settings: Settings) -> Path:
    """The cross-encoder trained on one mining folder's tuples."""
    base = settings.models.reranker_base
    return StatePaths(Path(settings.home)).reranker(f"{base}--on--{mining_dir(settings).name}")


def mine(settings: Settings, pool: UpstreamPool, *, progress: bool = True,
         indexes: OpenIndexes | None = None) -> MiningRun:
    """Algorithm 1 over the upstream index (``recross-dagger`` retrieval); resumes per tuple.

    ``indexes``: the run's open indexes (left open); without them the step opens its own."""
    if indexes is None:
        with OpenIndexes(settings, pool) as own:
            return mine(settings, pool, progress=progress, indexes=own)
    handle = indexes.get("upstream")
    dense = DenseRetrieval("recross-dagger", pool=pool, index=handle.index,
                           encoder=handle.encoder, exclude_target_task=False,
                           exact=settings.index.exact or None)
    return mine_distant_supervision(
        retriever=dense, upstream=load_upstream_model(settings), settings=mining_settings(settings),
        max_input_length=settings.mining.max_input_length or settings.models.max_input_length,
        max_output_length=settings.models.max_output_length, out_dir=mining_dir(settings),
        progress=progress)


def training_pairs(settings: Settings) -> pd.DataFrame:
    """The mined pairs the reranker learns from: the first ``mining.n_tuples`` tuples, and of
    each its first ``reranker.queries_per_tuple`` queries (a tuple's labels belong to its
    candidates, so further queries of the same tuple add little at their full cost)."""
    pairs = read_mined(mining_dir(settings), n_tuples=settings.mining.n_tuples)
    if settings.reranker.queries_per_tuple is not None:
        pairs = pairs[pairs.query_index < settings.reranker.queries_per_tuple]
    return pairs.reset_index(drop=True)


def train_reranker(settings: Settings, *, progress: bool = True) -> dict[str, Any]:
    """Train the cross-encoder on the mined pairs; a complete reranker on the same pairs is reused.
    Returns the stored summary (a JSON mapping: metrics, path, pair counts) plus ``reused``."""
    pairs = training_pairs(settings)
    out = reranker_dir(settings)
    signature = {"pairs": len(pairs), "tuples": int(pairs["tuple_id"].nunique()),
                 "settings": settings.reranker.model_dump(mode="json"),
                 "base": settings.models.reranker_base}
    report_path = out / REPORT_FILE
    if is_complete(out) and report_path.is_file():
        stored = json.loads(report_path.read_text())
        if stored.get("signature") == signature:
            return {**stored, "reused": True}
    report = train_cross_encoder(pairs, base=settings.models.reranker_base,
                                 settings=settings.reranker, output_dir=out,
                                 device=settings.models.device, progress=progress)
    summary = {"signature": signature, "metrics": report.metrics, "path": str(report.path),
               "train_tuples": report.train_tuples, "heldout_tuples": report.heldout_tuples,
               "train_pairs": report.train_pairs, "heldout_pairs": report.heldout_pairs,
               "seconds": report.seconds}
    atomic_write_json(report_path, summary)
    return {**summary, "reused": False}


def load_scorer(settings: Settings) -> CrossEncoderScorer:
    """The trained reranker as a pair scorer for ``recross`` retrieval."""
    r = settings.reranker
    model = load_cross_encoder(reranker_dir(settings), device=settings.models.device,
                               max_length=r.max_length)
    int8 = (int8_pair_graph(model, StatePaths(Path(settings.home)).int8_encoders)
            if settings.models.reranker_runtime == "onnx-int8" else None)
    return CrossEncoderScorer(model, batch_size=r.score_batch_size, lowercase=r.lowercase,
                              score=r.score, truncation=r.truncation, int8=int8)

