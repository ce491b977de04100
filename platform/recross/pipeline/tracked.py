"""Evaluate one (target, retriever) partition and record it in MLflow.

One parent run per call (every setting as params), one nested run per query-set seed with the
conventional names: metrics ``softem``/``em``, tags ``target_task``/``retriever``/``seed``,
artifacts retrieved ids, task distribution, predictions, and the adapted model (registered as
``recross-<target>-<retriever>`` with alias ``seed-<n>``).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from recross.config import Settings
from recross.data import UpstreamPool
from recross.pipeline.target import (
    AdaptedSeed,
    TargetPaths,
    adapt_for_target,
    evaluate_for_target,
    load_query_sets,
    test_examples,
)
from recross.retrieval.distribution import task_shares
from recross.tracking import Tracker, registry_name_and_alias


@dataclass
class PartitionSummary:
    table: pd.DataFrame | None  # None: no labelled test data
    parent_run_id: str | None
    run_url: str | None


def track_partition(settings: Settings, pool: UpstreamPool, *, target: str, retriever: str,
                    dagster_run_id: str | None = None, progress: bool = True,
                    tracker: Tracker | None = None) -> PartitionSummary:
    """Score every seed's adapted model on E and log runs; adapted models are reused, not redone."""
    test = test_examples(settings, target)
    if test is None:
        return PartitionSummary(table=None, parent_run_id=None, run_url=None)
    paths = TargetPaths.of(settings, target, retriever)
    seeds = [q.seed for q in load_query_sets(paths.query_sets)]
    adapted = adapt_for_target(settings, pool, target=target, retriever=retriever, seeds=seeds,
                               progress=progress)
    tracker = tracker or Tracker(settings)
    common = {"target_task": target, "retriever": retriever, "dagster_run_id": dagster_run_id}
    by_seed: dict[int, AdaptedSeed] = {a.seed: a for a in adapted}
    with tracker.parent_run(name=f"{target}/{retriever}", tags=common,
                            params={"n_test": len(test), "n_query_sets": len(seeds)}) as parent:

        def log_seed(seed: int, predictions: pd.DataFrame, scores: dict[str, float]) -> None:
            with tracker.seed_run(parent=parent, target_task=target, retriever=retriever,
                                  seed=seed, params={"n_test": len(test)}) as run:
                run.log_metrics(scores)
                run.log_predictions(predictions)
                if retriever != "none":
                    retrieved = pd.read_parquet(paths.retrieved(seed))
                    run.log_retrieved_ids(retrieved["example_id"].tolist())
                    run.log_task_distribution(task_shares(retrieved["task"].tolist()))
                item = by_seed[seed]
                if item.path is not None:
                    name, alias = registry_name_and_alias(target_task=target,
                                                          retriever=retriever, seed=seed)
                    tracker.log_adapted_model(run, item.path, registered_name=name, alias=alias)

        table = evaluate_for_target(settings, target=target, retriever=retriever,
                                    adapted=adapted, test=test, on_seed=log_seed,
                                    progress=progress)
        parent.log_metrics({"softem": float(table["softem"].mean()),
                            "em": float(table["em"].mean())})
    return PartitionSummary(table=table, parent_run_id=parent.run_id,
                            run_url=tracker.run_url(parent.run_id))
