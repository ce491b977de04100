"""Full ReCross: dense candidates R', then a cross-encoder keeps the best |R| (METHOD.md step 3).

|R'| = ceil(mu * |R|) candidates come from the dense retriever (pooled per query, duplicates
kept). Every (query, candidate) pair is scored; a candidate's score is the mean over the queries
of Q of its pair scores (the probability of "positive" in the paper's text, the raw "positive"
logit in the reference's metax/retrieve.py: ``reranker.score``); the |R| best-scored items are
kept, ties broken by dense order.

Duplicates: a candidate that several queries retrieved stays in R' once per query. It is scored
once (its pairs with every query are the same, whichever query found it), and every copy carries
that score, so copies are kept or dropped together (except at the cut). This keeps the weighting
of step 2, where an example close to several queries is learned from several times, and matches
the reference implementation, which reranked the pooled list as it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Protocol, runtime_checkable

import numpy as np

from recross.data import QuerySet
from recross.index.filters import TaskFilter
from recross.retrieval.aggregation import candidate_count
from recross.retrieval.base import RetrievedItem
from recross.retrieval.dense import RankedRetrieval, require_count
from recross.retrieval.pooled import PoolRetriever


@runtime_checkable
class PairScorer(Protocol):
    """Scores every (query, candidate) pair: higher means the candidate helps the query's task."""

    def score(self, queries: Sequence[str], candidates: Sequence[str]) -> np.ndarray:
        """An ``(len(queries), len(candidates))`` float array."""
        ...


class RerankedRetrieval(PoolRetriever):
    """``recross``: dense (or hybrid) retrieval of mu * |R| candidates, reranked by ``scorer``."""

    def __init__(self, *, dense: RankedRetrieval, scorer: PairScorer, upsample_ratio: float,
                 name: str = "recross") -> None:
        candidate_count(1, upsample_ratio)  # mu < 1 fails here, at construction
        super().__init__(dense.pool, exclude_target_task=dense.exclude_target_task,
                         catalog=dense.catalog)
        self.name = name
        self.dense = dense
        self.scorer = scorer
        self.upsample_ratio = upsample_ratio

    def _select(self, query_set: QuerySet, *, size: int, filters: TaskFilter
                ) -> tuple[Sequence[RetrievedItem], Sequence[RetrievedItem]]:
        wanted = candidate_count(size, self.upsample_ratio)
        candidates = self.dense.candidates(query_set.inputs, size=wanted, filters=filters)
        require_count(candidates, size, index=self.dense.index)
        return rerank(candidates, query_set.inputs, scorer=self.scorer, size=size), candidates


def rerank(candidates: Sequence[RetrievedItem], queries: Sequence[str], *, scorer: PairScorer,
           size: int) -> list[RetrievedItem]:
    """Keep the ``size`` candidates with the best mean score over ``queries`` (see module doc)."""
    text_of = {item.example.example_id: item.example.input for item in candidates}
    unique_ids = list(text_of)  # insertion order: first appearance in R'
    matrix = np.asarray(scorer.score(list(queries), [text_of[e] for e in unique_ids]),
                        dtype=np.float64)
    mean_of = dict(zip(unique_ids, matrix.mean(axis=0).tolist()))
    rescored = [replace(item, score=mean_of[item.example.example_id]) for item in candidates]
    order = sorted(range(len(rescored)), key=lambda i: (-rescored[i].score, i))
    return [rescored[i] for i in order[:size]]

