"""Which upstream tasks a retrieved set is made of: the raw material of the paper's Figure 3.

Counts include duplicates, since a duplicate is learned from once per copy during adaptation.

    >>> task_distribution(retrieved)                 # one row per task: count, share
    >>> distribution_matrix({"piqa": [r1, r2]})       # targets as rows, upstream tasks as columns
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

import pandas as pd

from recross.retrieval.base import RetrievedSet


def task_counts(sets: Iterable[RetrievedSet]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for retrieved in sets:
        counts.update(item.task for item in retrieved.items)
    return counts


def task_distribution(retrieved: RetrievedSet | Iterable[RetrievedSet], *,
                      tasks: Sequence[str] | None = None) -> pd.DataFrame:
    """Columns ``task, count, share``; rows for every task of ``tasks`` (zeros kept) or else every
    task present, most frequent first. Shares sum to 1 (or are all 0 for an empty set)."""
    sets = [retrieved] if isinstance(retrieved, RetrievedSet) else list(retrieved)
    return shares_frame(task_counts(sets), tasks=tasks)


def task_shares(item_tasks: Iterable[str], *, tasks: Sequence[str] | None = None) -> pd.DataFrame:
    """:func:`task_distribution` of a stored retrieved set, given the task of each of its items."""
    return shares_frame(Counter(item_tasks), tasks=tasks)


def shares_frame(counts: Counter[str], *, tasks: Sequence[str] | None = None) -> pd.DataFrame:
    order = list(tasks) if tasks is not None else [t for t, _ in
                                                   sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    total = sum(counts.values())
    return pd.DataFrame({"task": order, "count": [counts.get(t, 0) for t in order],
                         "share": [counts.get(t, 0) / total if total else 0.0 for t in order]})


def distribution_matrix(rows: Mapping[str, Iterable[RetrievedSet]], *,
                        tasks: Sequence[str] | None = None) -> pd.DataFrame:
    """Shares with one row per key of ``rows`` (e.g. a target task, pooling its query-set rounds)
    and one column per upstream task (``tasks``, else every task seen, sorted)."""
    counts = {key: task_counts(sets) for key, sets in rows.items()}
    columns = list(tasks) if tasks is not None else sorted(set().union(*counts.values()))
    data = {key: [c.get(t, 0) / (sum(c.values()) or 1) for t in columns]
            for key, c in counts.items()}
    return pd.DataFrame.from_dict(data, orient="index", columns=columns).rename_axis("target")
