"""Paired comparisons of stored evaluations: each retriever against ``none`` and ``random`` on
every metric, from the per-example frames the evaluations wrote (``predictions/seed-<n>``)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from recross.config import Settings
from recross.data import Example
from recross.evaluation.comparison import (
    BASELINES,
    EXAMPLE_COLUMNS,
    compare_retrievers,
    delta_metrics,
    delta_table,
)
from recross.pipeline.baseline import baseline_on_test
from recross.pipeline.evaluation import scored_frame
from recross.pipeline.example_scoring import answer_choices
from recross.pipeline.layout import TargetPaths


def example_table(settings: Settings, *, target: str, retriever: str,
                  seeds: Sequence[int]) -> pd.DataFrame:
    """The stored per-example frames of these seeds, with target, retriever and seed columns
    (empty when none is stored)."""
    paths = TargetPaths.of(settings, target, retriever)
    frames = [pd.read_parquet(paths.predictions(seed)).assign(
                  target_task=target, retriever=retriever, seed=seed)
              for seed in seeds if paths.predictions(seed).is_file()]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def collect_example_tables(settings: Settings, evaluations: pd.DataFrame) -> pd.DataFrame:
    """Per-example frames of every (target, retriever, seed) row of ``evaluations``."""
    frames = [example_table(settings, target=target, retriever=retriever,
                            seeds=[int(s) for s in group["seed"]])
              for (target, retriever), group in evaluations.groupby(["target_task", "retriever"])]
    frames = [f for f in frames if not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def study_deltas(settings: Settings, evaluations: pd.DataFrame) -> pd.DataFrame:
    """Every retriever vs none and vs random, per task and all@mean (``DELTA_COLUMNS``)."""
    examples = collect_example_tables(settings, evaluations)
    if examples.empty:
        return pd.DataFrame()
    e = settings.evaluation
    return delta_table(examples, resamples=e.bootstrap_resamples, confidence=e.confidence)


def partition_deltas(settings: Settings, *, target: str, retriever: str, seeds: Sequence[int],
                     test: Sequence[Example]) -> dict[str, float]:
    """MLflow metrics ``delta_<metric>_vs_<none|random>`` (+ ``_ci_low`` / ``_ci_high``) of one
    evaluated partition. Against ``none``: M's cached scores on the same test sample; against
    ``random``: its stored evaluation of the same seeds, when it has one."""
    ours = example_table(settings, target=target, retriever=retriever, seeds=seeds)
    if ours.empty:
        return {}
    baseline, _ = baseline_on_test(settings, target=target, test=test,
                                   choices=answer_choices(settings, test), progress=False)
    m_frame = scored_frame(test, baseline, None, settings.evaluation)
    tables = [ours, *(m_frame.assign(target_task=target, retriever="none", seed=s) for s in seeds)]
    if retriever != "random":
        tables.append(example_table(settings, target=target, retriever="random", seeds=seeds))
    examples = pd.concat([t for t in tables if not t.empty], ignore_index=True)
    out: dict[str, float] = {}
    e = settings.evaluation
    for reference in (b for b in BASELINES if b != retriever):
        deltas = {metric: compare_retrievers(examples, system=retriever, baseline=reference,
                                             metric=metric, resamples=e.bootstrap_resamples,
                                             confidence=e.confidence)
                  for metric in EXAMPLE_COLUMNS}
        out.update(delta_metrics(deltas, target=target, baseline=reference))
    return out
