"""The un-adapted model's answers and likelihoods on a target's test sample, computed once.

Every retriever's comparison (answers changed, deltas vs ``none``) needs M on the same test
examples; they are scored once per (target, test sample, M, evaluation settings) and stored
under ``RECROSS_HOME/baselines/<target>/<key>.parquet``, so a partition reuses what another
computed instead of running M again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from recross.config import Settings
from recross.data import Example
from recross.evaluation.rank_classification import Choices
from recross.io import atomic_write_bytes
from recross.paths import slug
from recross.pipeline.example_scoring import LIKELIHOOD_COLUMNS, ModelOnTest, run_model_on_test
from recross.pipeline.upstream import load_upstream_model, upstream_model_dir


def _model_stamp(model_dir: Path) -> list[list[object]]:
    """Names, sizes and modification times of M's files: changes when M is rebuilt."""
    return [[p.name, p.stat().st_size, p.stat().st_mtime_ns]
            for p in sorted(model_dir.glob("*")) if p.is_file()]


def baseline_key(settings: Settings, target: str, test: Sequence[Example]) -> str:
    """Fingerprint of what M's scores depend on: the test sample, M, and the scoring settings."""
    e = settings.evaluation
    payload = json.dumps([
        target, [[x.example_id, list(x.answers)] for x in test],
        _model_stamp(upstream_model_dir(settings)), settings.models.model_dump(mode="json"),
        settings.generation.model_dump(mode="json"), e.max_label_set, e.likelihood_batch_size],
        default=str)
    return hashlib.sha1(payload.encode("utf-8")).hexdigest()[:20]


def baseline_path(settings: Settings, target: str, test: Sequence[Example]) -> Path:
    return (Path(settings.home) / "baselines" / slug(target)
            / f"{baseline_key(settings, target, test)}.parquet")


def baseline_on_test(settings: Settings, *, target: str, test: Sequence[Example],
                     choices: Sequence[Choices | None], progress: bool = True
                     ) -> tuple[ModelOnTest, bool]:
    """M's answers and likelihood columns on ``test`` and whether they were reused."""
    path = baseline_path(settings, target, test)
    if path.is_file():
        stored = pd.read_parquet(path)
        return ModelOnTest(predictions=stored["prediction"].tolist(),
                           likelihoods=stored[list(LIKELIHOOD_COLUMNS)].reset_index(drop=True),
                           seconds=0.0), True
    bundle = load_upstream_model(settings)
    found = run_model_on_test(settings, bundle, test, choices, progress=progress)
    table = found.likelihoods.assign(prediction=found.predictions)
    atomic_write_bytes(path, table.to_parquet(index=False))
    return found, False
