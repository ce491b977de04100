"""Pooling the per-query ranked lists into one retrieved list (METHOD.md step 2).

Each query of Q retrieves its own top K = ceil(|R'| / |Q|) neighbours; the lists are pooled with
duplicates KEPT (an example close to several queries counts several times) and cut to |R'| in
rank order across queries: rank 1 of every query, then rank 2 of every query, and so on, queries
in their order in Q. Cutting by rank keeps every query's best neighbours when K * |Q| > |R'|.

    >>> per_query_k(512, 16)
    32
    >>> interleave_ranked([["a1", "a2"], ["b1", "b2"]], size=3)
    ['a1', 'b1', 'a2']
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypeVar

from recross.errors import ConfigError

T = TypeVar("T")


def per_query_k(total: int, n_queries: int) -> int:
    """K = ceil(|R'| / |Q|): how many neighbours each query retrieves."""
    if total <= 0 or n_queries <= 0:
        raise ConfigError(f"cannot split {total} retrieved examples over {n_queries} queries. "
                          "Fix: use a positive retrieved size and at least one query.")
    return math.ceil(total / n_queries)


def candidate_count(size: int, upsample_ratio: float) -> int:
    """|R'| = ceil(mu * |R|): how many dense candidates a reranker chooses |R| from."""
    if upsample_ratio < 1:
        raise ConfigError(f"upsampling ratio mu={upsample_ratio} is below 1, so there would be "
                          f"fewer candidates than the {size} examples to keep. "
                          "Fix: set retrieval.upsample_ratio >= 1 (paper: 2).")
    return math.ceil(upsample_ratio * size)


def interleave_ranked(lists: Sequence[Sequence[T]], *, size: int) -> list[T]:
    """Pool ranked lists, duplicates kept, in rank order across lists, cut to ``size``.

    Lists may be ragged (a query with fewer neighbours than K); the result is then shorter than
    ``size`` only when all lists together hold fewer items.
    """
    pooled: list[T] = []
    depth = max((len(ranked) for ranked in lists), default=0)
    for rank in range(depth):
        for ranked in lists:
            if rank < len(ranked):
                pooled.append(ranked[rank])
                if len(pooled) == size:
                    return pooled
    return pooled
