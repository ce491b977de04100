"""Retrieval for a target: each query set's retrieved set R, stored as a parquet table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from recross.config import Settings
from recross.data import Example, QuerySet, UpstreamPool
from recross.errors import MissingProductError
from recross.index.filters import TaskFilter
from recross.io import atomic_write_bytes
from recross.pipeline.indexes import OpenIndexes
from recross.pipeline.layout import TargetPaths
from recross.pipeline.lexical import dsir_cache
from recross.pipeline.reranker_training import load_scorer
from recross.retrieval import RetrievedSet, make_retriever
from recross.retrieval.distribution import task_distribution
from recross.retriever_names import RERANKED_RETRIEVERS


def build_retriever(settings: Settings, pool: UpstreamPool, name: str, indexes: OpenIndexes):
    """The retriever ``name`` with the index, encoder and cross-encoder it needs."""
    kwargs: dict[str, Any] = {}
    if name in ("sbert", "recross-dagger", "recross"):
        handle = indexes.get("sbert" if name == "sbert" else "upstream")
        kwargs.update(index=handle.index, encoder=handle.encoder)
    if name == "bm25":
        kwargs["index"] = indexes.lexical("bm25")
    if name in ("hybrid", "recross-hybrid"):
        kwargs.update(index=indexes.lexical("hybrid"), encoder=indexes.get("upstream").encoder)
    if name in RERANKED_RETRIEVERS:
        kwargs["scorer"] = load_scorer(settings)
    return make_retriever(name, pool=pool, settings=settings.retrieval,
                          exact=settings.index.exact or None, lexical=settings.lexical,
                          dsir_cache=dsir_cache(settings, pool), **kwargs)


def retrieve_for_target(settings: Settings, pool: UpstreamPool, *, target: str, retriever: str,
                        query_sets: Sequence[QuerySet], filters: TaskFilter | None = None,
                        indexes: OpenIndexes | None = None) -> list[RetrievedSet]:
    """Retrieve |R| examples for every query set and store each set as a parquet table.

    ``indexes``: the run's open indexes (left open); without them the step opens and closes its
    own."""
    if indexes is None:
        with OpenIndexes(settings, pool) as own:
            return retrieve_for_target(settings, pool, target=target, retriever=retriever,
                                       query_sets=query_sets, filters=filters, indexes=own)
    paths = TargetPaths.of(settings, target, retriever)
    engine = build_retriever(settings, pool, retriever, indexes)
    results = []
    for qs in query_sets:
        retrieved = engine.retrieve(qs, size=settings.retrieval.retrieved_size, filters=filters)
        atomic_write_bytes(paths.retrieved(qs.seed), retrieved.to_frame().to_parquet(index=False))
        results.append(retrieved)
    return results


def load_retrieved(settings: Settings, pool: UpstreamPool, *, target: str, retriever: str,
                   seed: int) -> list[Example]:
    """The examples of a stored retrieved set, in order, duplicates kept."""
    path = TargetPaths.of(settings, target, retriever).retrieved(seed)
    if not path.is_file():
        raise MissingProductError(f"{path}: no retrieved set for {target} x {retriever}, seed "
                                  f"{seed}. Fix: retrieve for this target first "
                                  "(retrieve_for_target).", product="retrieved_sets")
    return pool.lookup(pd.read_parquet(path)["example_id"].tolist())


def distribution_frame(retrieved: Sequence[RetrievedSet]) -> pd.DataFrame:
    """Share of each upstream task in the pooled retrieved sets (Figure 3's raw material)."""
    return task_distribution(list(retrieved))
