"""Collect every stored evaluation and retrieved set into Table 1 and the task-share heatmap."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from recross.config import Settings
from recross.errors import MissingProductError
from recross.evaluation.reports import ReportPaths, write_report
from recross.paths import StatePaths, slug
from recross.pipeline.comparisons import study_deltas
from recross.pipeline.evaluation import evaluation_warnings
from recross.pipeline.layout import TargetPaths, study_root
from recross.retrieval.distribution import task_shares


@dataclass
class ReportResult:
    paths: ReportPaths
    markdown: str
    evaluations: int


def collect_evaluations(settings: Settings) -> pd.DataFrame:
    """One row per (target, retriever, seed) from every ``evaluation.parquet`` under the home."""
    frames = [pd.read_parquet(p) for p in sorted(study_root(settings).glob("*/*/evaluation.parquet"))]
    if not frames:
        raise MissingProductError(f"no evaluations under {study_root(settings)}. Fix: evaluate "
                                  "at least one target and retriever first.",
                                  product="evaluations")
    return pd.concat(frames, ignore_index=True)


def collect_distributions(settings: Settings, evaluations: pd.DataFrame) -> pd.DataFrame:
    """Upstream-task shares of every evaluated retrieved set (columns of reports' heatmap)."""
    rows = []
    for (target, retriever), group in evaluations.groupby(["target_task", "retriever"]):
        paths = TargetPaths.of(settings, target, retriever)
        for seed in group["seed"]:
            path = paths.retrieved(int(seed))
            if retriever == "none" or not path.is_file():
                continue
            shares = task_shares(pd.read_parquet(path)["task"])
            rows += [{"target_task": target, "retriever": retriever, "seed": int(seed),
                      "upstream_task": row.task, "share": float(row.share)}
                     for row in shares.itertuples(index=False)]
    return pd.DataFrame(rows, columns=["target_task", "retriever", "seed", "upstream_task", "share"])


def build_report(settings: Settings) -> ReportResult:
    """Write Table 1 (Markdown with every metric, the paired deltas and the diagnostics; CSV),
    the deltas (CSV) and the heatmap (PNG) under RECROSS_HOME/reports."""
    evaluations = collect_evaluations(settings)
    paths = write_report(StatePaths(Path(settings.home)).reports / slug(settings.study), evaluations,
                         collect_distributions(settings, evaluations),
                         deltas=study_deltas(settings, evaluations),
                         warnings=evaluation_warnings(settings, evaluations),
                         confidence=settings.evaluation.confidence)
    return ReportResult(paths=paths, markdown=paths.table_markdown.read_text(encoding="utf-8"),
                        evaluations=len(evaluations))
