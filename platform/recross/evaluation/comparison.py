"""Paired comparisons of retrievers: each one's difference to ``none`` and to ``random`` on every
metric, per target task and for all@mean, with a bootstrap interval (``intervals.py``).

The input is the per-example table of a study: one row per (target task, retriever, seed,
test example) with the per-example columns of :data:`EXAMPLE_COLUMNS`. Rows are paired on the
example id and the seed (the i-th query set is drawn the same for every retriever).

    >>> import pandas as pd
    >>> rows = pd.DataFrame({"target_task": "cb", "retriever": ["none"] * 4 + ["recross"] * 4,
    ...                      "seed": 0, "example_id": list("abcd") * 2,
    ...                      "softem": [0, 0, 1, 1, 1, 1, 1, 1]})
    >>> compare_retrievers(rows, system="recross", baseline="none", metric="softem",
    ...                    resamples=100)["cb"].delta
    50.0
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from recross.evaluation.intervals import PairedDelta, paired_bootstrap

# Metric of a report -> the per-example column it averages (x100 for the percentages).
EXAMPLE_COLUMNS: dict[str, str] = {"softem": "softem", "em": "em", "nll": "nll",
                                   "rank_acc": "rank_correct"}
PERCENT_METRICS: frozenset[str] = frozenset({"softem", "em", "rank_acc", "rank_coverage"})
LOWER_IS_BETTER: frozenset[str] = frozenset({"nll"})
BASELINES: tuple[str, ...] = ("none", "random")
ALL_TASKS = "all@mean"
DELTA_COLUMNS: tuple[str, ...] = ("target_task", "retriever", "vs", "metric", "delta", "low",
                                  "high")


def _matrix(rows: pd.DataFrame, column: str, seeds: Sequence[int],
            example_ids: Sequence[str], scale: float) -> np.ndarray:
    wide = rows.pivot_table(index="seed", columns="example_id", values=column, aggfunc="mean",
                            dropna=False)
    return scale * wide.reindex(index=list(seeds), columns=list(example_ids)).to_numpy(float)


def _paired_rows(per_example: pd.DataFrame, target: str, system: str,
                 baseline: str) -> tuple[pd.DataFrame, pd.DataFrame, list[int], list[str]]:
    """Both systems' rows on ``target``, the seeds and the example ids they share."""
    task = per_example[per_example["target_task"] == target]
    ours, theirs = task[task["retriever"] == system], task[task["retriever"] == baseline]
    seeds = sorted(set(ours["seed"]) & set(theirs["seed"]))
    examples = sorted(set(ours["example_id"]) & set(theirs["example_id"]))
    return ours, theirs, seeds, examples


def compare_retrievers(per_example: pd.DataFrame, *, system: str, baseline: str, metric: str,
                       resamples: int = 1000, confidence: float = 0.95,
                       seed: int = 0) -> dict[str, PairedDelta]:
    """``system - baseline`` on ``metric`` per target task they share, and ``all@mean`` over those
    tasks on the rounds every task has; empty when they share no task."""
    column, scale = EXAMPLE_COLUMNS[metric], 100.0 if metric in PERCENT_METRICS else 1.0
    if column not in per_example.columns:
        return {}
    pairs: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for target in sorted(per_example["target_task"].unique()):
        ours, theirs, seeds, examples = _paired_rows(per_example, target, system, baseline)
        if seeds and examples:
            pairs[target] = (_matrix(ours, column, seeds, examples, scale),
                             _matrix(theirs, column, seeds, examples, scale))
    out = {target: paired_bootstrap([a], [b], resamples=resamples, confidence=confidence,
                                    seed=seed) for target, (a, b) in pairs.items()}
    if pairs:
        rounds = min(a.shape[0] for a, _ in pairs.values())
        out[ALL_TASKS] = paired_bootstrap([a[:rounds] for a, _ in pairs.values()],
                                          [b[:rounds] for _, b in pairs.values()],
                                          resamples=resamples, confidence=confidence, seed=seed)
    return out


def delta_table(per_example: pd.DataFrame, *, metrics: Sequence[str] = tuple(EXAMPLE_COLUMNS),
                baselines: Sequence[str] = BASELINES, resamples: int = 1000,
                confidence: float = 0.95) -> pd.DataFrame:
    """Every retriever against every baseline present (not itself): :data:`DELTA_COLUMNS`."""
    present = set(per_example["retriever"])
    rows = []
    for baseline in (b for b in baselines if b in present):
        for system in sorted(present - {baseline}):
            for metric in metrics:
                found = compare_retrievers(per_example, system=system, baseline=baseline,
                                           metric=metric, resamples=resamples,
                                           confidence=confidence)
                rows += [{"target_task": target, "retriever": system, "vs": baseline,
                          "metric": metric, "delta": d.delta, "low": d.low, "high": d.high}
                         for target, d in found.items()]
    return pd.DataFrame(rows, columns=list(DELTA_COLUMNS))


def delta_metrics(deltas: dict[str, dict[str, PairedDelta]], *, target: str,
                  baseline: str) -> dict[str, float]:
    """MLflow metrics of one run from ``{metric: compare_retrievers(...)}``:
    ``delta_<metric>_vs_<baseline>`` with ``_ci_low`` / ``_ci_high``."""
    out: dict[str, float] = {}
    for metric, per_task in deltas.items():
        found = per_task.get(target)
        if found is None:
            continue
        name = f"delta_{metric}_vs_{baseline}"
        out.update({name: found.delta, f"{name}_ci_low": found.low,
                    f"{name}_ci_high": found.high})
    return out


def delta_cell(delta: float, low: float, high: float) -> str:
    """``+1.50 [-0.40, +3.20]``; an interval holding 0 is written as no difference."""
    found = PairedDelta(delta, low, high)
    return f"no difference ({found})" if found.holds_zero and not np.isnan(delta) else str(found)
