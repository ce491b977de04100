"""Paired bootstrap intervals for the difference between two systems on the same examples.

A difference between two retrievers is only a difference if it survives the two sources of
noise in a ReCross study: which test examples were drawn, and which query set (seed) was drawn.
Each resample draws seeds (rounds, shared by every task) and each task's test examples with
replacement, and recomputes the mean per-example difference; the interval is the percentile
range of those means. Paired: both systems are always read on the same seeds and examples.

Per task the input is a ``seeds x examples`` matrix of per-example scores; NaN marks an example
a metric cannot score (it is left out of both systems' means). A baseline with one row (the
un-adapted M, identical for every seed) is compared against each of the system's seeds.

    >>> import numpy as np
    >>> same = [np.array([[1.0, 0.0, 1.0, 0.0]])]
    >>> str(paired_bootstrap(same, same, resamples=200))
    '+0.00 [+0.00, +0.00]'
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

_NARROW = 0.02  # interval width below which a delta is written with three decimals


@dataclass(frozen=True)
class PairedDelta:
    """``delta`` = system minus baseline, with its bootstrap interval ``[low, high]``."""

    delta: float
    low: float
    high: float

    @property
    def holds_zero(self) -> bool:
        """True when the interval contains 0 (or is undefined): no difference can be claimed."""
        return not (self.low > 0 or self.high < 0)

    def __str__(self) -> str:
        if math.isnan(self.delta):
            return "–"
        # Two decimals; three when the interval is so narrow that two would hide its ends.
        d = 3 if 0 < self.high - self.low < _NARROW else 2
        return f"{self.delta:+.{d}f} [{self.low:+.{d}f}, {self.high:+.{d}f}]"


def _as_matrix(scores: np.ndarray, seeds: int) -> np.ndarray:
    matrix = np.atleast_2d(np.asarray(scores, dtype=float))
    if matrix.shape[0] == 1 and seeds > 1:
        matrix = np.repeat(matrix, seeds, axis=0)
    return matrix


def paired_differences(system: Sequence[np.ndarray],
                       baseline: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Per task, the ``seeds x examples`` matrix of system minus baseline (checked shapes)."""
    if len(system) != len(baseline) or not system:
        raise ValueError(f"{len(system)} tasks of the system vs {len(baseline)} of the baseline")
    seeds = max(np.atleast_2d(np.asarray(s)).shape[0] for s in system)
    out = []
    for task, (ours, theirs) in enumerate(zip(system, baseline)):
        a, b = _as_matrix(ours, seeds), _as_matrix(theirs, seeds)
        if a.shape != b.shape:
            raise ValueError(f"task {task}: system scores {a.shape} and baseline {b.shape} are "
                             "not paired (same seeds x same test examples are needed)")
        out.append(a - b)
    return out


def paired_bootstrap(system: Sequence[np.ndarray], baseline: Sequence[np.ndarray], *,
                     resamples: int = 1000, confidence: float = 0.95,
                     seed: int = 0) -> PairedDelta:
    """Mean over tasks of the mean per-example difference, with a paired percentile interval.

    ``system`` and ``baseline`` hold one matrix per task (``seeds x examples``); the seeds are
    rounds, resampled together across tasks, as Table 1's all@ rows average within a round.
    """
    differences = paired_differences(system, baseline)
    seeds = {d.shape[0] for d in differences}
    if len(seeds) != 1:
        raise ValueError(f"tasks have different numbers of seeds {sorted(seeds)}; pair them by "
                         "round first (keep the rounds every task has)")
    delta = float(np.mean([_nanmean(d) for d in differences]))
    if math.isnan(delta):
        return PairedDelta(math.nan, math.nan, math.nan)
    rng = np.random.default_rng(seed)
    n_seeds = seeds.pop()
    seed_draws = rng.integers(0, n_seeds, size=(resamples, n_seeds))
    per_task = []
    for d in differences:
        example_draws = rng.integers(0, d.shape[1], size=(resamples, d.shape[1]))
        sample = d[seed_draws[:, :, None], example_draws[:, None, :]]
        per_task.append(_nanmean(sample, axis=(1, 2)))
    means = _nanmean(np.stack(per_task), axis=0)
    tail = 100.0 * (1.0 - confidence) / 2.0
    low, high = np.nanpercentile(means, [tail, 100.0 - tail])
    return PairedDelta(delta, float(low), float(high))


def _nanmean(values: np.ndarray, axis: int | tuple[int, ...] | None = None) -> np.ndarray | float:
    """``np.nanmean`` without the all-NaN warning (an all-NaN slice stays NaN)."""
    finite = ~np.isnan(values)
    counts = finite.sum(axis=axis)
    totals = np.where(finite, values, 0.0).sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return totals / counts
