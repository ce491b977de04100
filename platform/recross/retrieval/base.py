"""What every retriever returns, and the one interface they share.

A retriever gets a query set Q (inputs only), a target size |R| and optional filters, and returns
the retrieved upstream examples in order, each with its score and provenance: which query of Q
retrieved it and at which rank of that query's list. Duplicates are meaningful (an example close
to several queries is kept once per query, so adaptation weighs it more) and are never removed.

    >>> retrieved = retriever.retrieve(query_set, size=512)
    >>> retrieved.examples[:2], retrieved.to_frame().head()
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import pandas as pd

from recross.data import Example, QuerySet
from recross.index.filters import TaskFilter


@dataclass(frozen=True, slots=True)
class RetrievedItem:
    """One retrieved upstream example.

    ``query_index`` (0-based, into Q) and ``rank`` (1-based, in that query's own ranked list) say
    where it came from; both are ``None`` for retrievers that ignore Q (random).
    """

    example: Example
    score: float
    query_index: int | None
    rank: int | None

    @property
    def task(self) -> str:
        return self.example.task


@dataclass(frozen=True)
class RetrievedSet:
    """The retrieved set R of one query set, in retrieval order.

    ``candidates`` holds the dense list R' a reranker chose from (empty for other retrievers), so
    a report can show what reranking changed.
    """

    retriever: str
    query_task: str
    query_seed: int
    target_size: int
    filters: TaskFilter
    items: tuple[RetrievedItem, ...]
    candidates: tuple[RetrievedItem, ...] = ()

    def __len__(self) -> int:
        return len(self.items)

    @property
    def examples(self) -> list[Example]:
        """The examples to adapt on, duplicates included."""
        return [item.example for item in self.items]

    @property
    def example_ids(self) -> list[str]:
        return [item.example.example_id for item in self.items]

    def to_frame(self, *, candidates: bool = False) -> pd.DataFrame:
        """One row per item (or per candidate): position, id, task, template, score, provenance."""
        rows = self.candidates if candidates else self.items
        return items_frame(rows)


def items_frame(items: Sequence[RetrievedItem]) -> pd.DataFrame:
    columns = ["position", "example_id", "task", "template", "score", "query_index", "rank"]
    return pd.DataFrame.from_records(
        [(i + 1, it.example.example_id, it.example.task, it.example.template, it.score,
          it.query_index, it.rank) for i, it in enumerate(items)], columns=columns)


@runtime_checkable
class Retriever(Protocol):
    """Retrieves |R| upstream examples for a query set; ``name`` is the retriever's id."""

    name: str

    def retrieve(self, query_set: QuerySet, *, size: int,
                 filters: TaskFilter | None = None) -> RetrievedSet:
        ...
