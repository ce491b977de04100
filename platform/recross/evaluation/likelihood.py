"""Gold-answer likelihood: how probable the evaluated model finds the right answer.

It moves when greedy answers do not (a model that keeps answering "no" can still grow surer of
the gold "yes"), so it shows what adaptation did where SoftEM is flat. Lower is better.

    >>> per_token_nll(-6.0, 3), gold_answer_nll([2.0, 0.5])
    (2.0, 0.5)
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def per_token_nll(log_likelihood: float, tokens: int) -> float:
    """Mean negative log-likelihood per answer token (nats) from a summed log-likelihood."""
    if tokens <= 0:
        return math.nan
    return -log_likelihood / tokens


def gold_answer_nll(gold_nlls: Sequence[float]) -> float:
    """An example's NLL: the best (lowest) of its gold answers', NaN when it has none scored."""
    finite = [value for value in gold_nlls if not math.isnan(value)]
    return min(finite) if finite else math.nan


def mean_nll(example_nlls: Sequence[float]) -> float:
    """Mean over the examples that have a gold answer (NaN when none has)."""
    finite = [value for value in example_nlls if not math.isnan(value)]
    return sum(finite) / len(finite) if finite else math.nan
