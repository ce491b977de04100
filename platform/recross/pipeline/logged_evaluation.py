"""Evaluate one (target, retriever) partition and record it in MLflow.

One parent run per call (every setting as params), one nested run per query-set seed with the
conventional names: metrics :data:`~recross.tracking.METRICS` (``softem``, ``em``, ``nll``,
``rank_acc``, ``rank_coverage``) plus ``top_share`` / ``changed``, tags
``target_task``/``retriever``/``seed``, artifacts retrieved ids, task distribution, predictions,
the adapted model (registered as ``recross-<target>-<retriever>`` with alias ``seed-<n>``; not
logged under ``tracking.log_models: false``), and
the datasets R and the test sample. The parent holds the means and the paired deltas
``delta_<metric>_vs_<none|random>`` with their interval ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from recross.config import Settings
from recross.data import UpstreamPool
from recross.pipeline.adaptation import AdaptedSeed, find_adapted
from recross.pipeline.comparisons import partition_deltas
from recross.pipeline.evaluation import evaluate_for_target, evaluation_warnings
from recross.pipeline.layout import TargetPaths
from recross.pipeline.target_data import load_query_sets, test_examples, test_source
from recross.retrieval.distribution import task_shares
from recross.tracking import METRICS, Tracker, registry_name_and_alias
from recross.tracking.datasets import log_dataset, test_sample_rows


@dataclass
class PartitionSummary:
    table: pd.DataFrame | None  # None: no labelled test data
    parent_run_id: str | None
    run_url: str | None
    deltas: dict[str, float] = field(default_factory=dict)  # delta_<metric>_vs_<none|random>...
    warnings: list[str] = field(default_factory=list)  # collapse / no-change sentences


def track_partition(settings: Settings, pool: UpstreamPool, *, target: str, retriever: str,
                    dagster_run_id: str | None = None, progress: bool = True,
                    tracker: Tracker | None = None) -> PartitionSummary:
    """Score every seed's adapted model on E and log runs, deltas vs none / random and datasets.

    Evaluation only reads adapted models: a missing one raises
    :class:`~recross.pipeline.adaptation.MissingAdaptedModel` (adaptation is its own step).
    """
    test = test_examples(settings, target)
    if test is None:
        return PartitionSummary(table=None, parent_run_id=None, run_url=None)
    paths = TargetPaths.of(settings, target, retriever)
    seeds = [q.seed for q in load_query_sets(paths.query_sets)]
    adapted = find_adapted(settings, pool, target=target, retriever=retriever, seeds=seeds)
    tracker = tracker or Tracker(settings)
    test_rows, test_file = test_sample_rows(test), test_source(settings, target)
    common = {"target_task": target, "retriever": retriever, "dagster_run_id": dagster_run_id}
    by_seed: dict[int, AdaptedSeed] = {a.seed: a for a in adapted}
    with tracker.parent_run(name=f"{target}/{retriever}", tags=common,
                            params={"n_test": len(test), "n_query_sets": len(seeds)}) as parent:

        def log_seed(seed: int, predictions: pd.DataFrame, scores: dict[str, float]) -> None:
            with tracker.seed_run(parent=parent, target_task=target, retriever=retriever,
                                  seed=seed, params={"n_test": len(test)}) as run:
                run.log_metrics(scores)
                run.log_predictions(predictions)
                log_dataset(run, test_rows, name=f"{target} test sample", source=test_file,
                            context="evaluation")
                if retriever != "none":
                    retrieved = pd.read_parquet(paths.retrieved(seed))
                    log_dataset(run, retrieved, name=f"R {target}/{retriever} seed {seed}",
                                source=str(paths.retrieved(seed)), context="training")
                    run.log_retrieved_ids(retrieved["example_id"].tolist())
                    run.log_task_distribution(task_shares(retrieved["task"].tolist()))
                item = by_seed[seed]
                if item.path is not None and settings.tracking.log_models:
                    name, alias = registry_name_and_alias(target_task=target,
                                                          retriever=retriever, seed=seed)
                    tracker.log_adapted_model(run, item.path, registered_name=name, alias=alias)

        table = evaluate_for_target(settings, target=target, retriever=retriever,
                                    adapted=adapted, test=test, on_seed=log_seed,
                                    progress=progress)
        deltas = partition_deltas(settings, target=target, retriever=retriever, seeds=seeds,
                                  test=test)
        parent.log_metrics({**{m: float(table[m].mean()) for m in METRICS if m in table},
                            **deltas})
        log_dataset(parent, test_rows, name=f"{target} test sample", source=test_file,
                    context="evaluation")
    return PartitionSummary(table=table, parent_run_id=parent.run_id,
                            run_url=tracker.run_url(parent.run_id), deltas=deltas,
                            warnings=evaluation_warnings(settings, table))
