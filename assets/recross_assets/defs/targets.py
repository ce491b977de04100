"""Per-target assets, partitioned by target task x retriever; all query-set seeds in one run."""

import time

import dagster as dg
import pandas as pd
from recross.index.filters import TaskFilter
from recross.pipeline import target as steps
from recross.pipeline.tracked import track_partition
from recross.pipeline.upstream import read_pool

from recross_assets.defs.reranking import reranker
from recross_assets.defs.upstream import CPU_POOL, sbert_index, upstream_index
from recross_assets.partitions import TARGET_X_RETRIEVER
from recross_assets.resources import RecrossResource


def _keys(context: dg.AssetExecutionContext) -> tuple[str, str]:
    key = context.partition_key.keys_by_dimension
    return key["target"], key["retriever"]


def _md_table(frame: pd.DataFrame) -> dg.MetadataValue:
    return dg.MetadataValue.md(frame.to_markdown(index=False, floatfmt=".3f"))


class RetrievalConfig(dg.Config):
    """Retrieval filters by task metadata, set in the launchpad; empty lists mean no filter."""

    include_tasks: list[str] = []  # noqa: RUF012 (pydantic copies field defaults)
    exclude_tasks: list[str] = []  # noqa: RUF012 (pydantic copies field defaults)
    include_templates: list[str] = []  # noqa: RUF012 (pydantic copies field defaults)
    exclude_templates: list[str] = []  # noqa: RUF012 (pydantic copies field defaults)

    def task_filter(self) -> TaskFilter:
        return TaskFilter(tuple(self.include_tasks), tuple(self.exclude_tasks),
                          tuple(self.include_templates), tuple(self.exclude_templates))


@dg.asset(group_name="targets", partitions_def=TARGET_X_RETRIEVER,
          description="The unlabelled query sets Q_1..Q_n of the target (seeded; no answers).")
def query_sets(context: dg.AssetExecutionContext, recross: RecrossResource) -> dg.MaterializeResult:
    target, retriever = _keys(context)
    settings = recross.settings()
    sets = steps.make_query_sets(settings, target)
    path = steps.TargetPaths.of(settings, target, retriever).query_sets
    steps.save_query_sets(path, sets)
    return dg.MaterializeResult(metadata={
        "sets": len(sets), "size": len(sets[0]), "seeds": str([q.seed for q in sets]),
        "path": dg.MetadataValue.path(str(path)),
        "first_query": sets[0].inputs[0][:300]})


@dg.asset(group_name="targets", partitions_def=TARGET_X_RETRIEVER,
          deps=[query_sets, upstream_index, sbert_index, reranker],
          description="The retrieved set R of every query set (|R| upstream examples each).",
          check_specs=[dg.AssetCheckSpec("size_is_R", asset="retrieved_sets", blocking=True),
                       dg.AssetCheckSpec("no_target_leakage", asset="retrieved_sets",
                                         blocking=True)])
def retrieved_sets(context: dg.AssetExecutionContext, recross: RecrossResource,
                   config: RetrievalConfig) -> dg.MaterializeResult:
    target, retriever = _keys(context)
    settings = recross.settings()
    pool = read_pool(settings)
    sets = steps.load_query_sets(steps.TargetPaths.of(settings, target, retriever).query_sets)
    filters = config.task_filter()
    started = time.perf_counter()
    retrieved = steps.retrieve_for_target(settings, pool, target=target, retriever=retriever,
                                          query_sets=sets, filters=filters)
    expected = 0 if retriever == "none" else settings.retrieval.retrieved_size
    sizes = [len(r) for r in retrieved]
    leaked = sum(item.task == target for r in retrieved for item in r.items)
    metadata = {"sizes": str(sizes), "seconds": round(time.perf_counter() - started, 1),
                **{f"filter.{k}": v for k, v in filters.as_params().items()}}
    if retriever != "none":
        metadata["task_distribution"] = _md_table(steps.distribution_frame(retrieved))
    return dg.MaterializeResult(metadata=metadata, check_results=[
        dg.AssetCheckResult(check_name="size_is_R", passed=all(s == expected for s in sizes),
                            metadata={"sizes": str(sizes), "expected": expected}),
        dg.AssetCheckResult(check_name="no_target_leakage", passed=leaked == 0,
                            metadata={"target_examples_retrieved": leaked})])


@dg.asset(group_name="targets", partitions_def=TARGET_X_RETRIEVER, deps=[retrieved_sets],
          pool=CPU_POOL, kinds={"pytorch"},
          description="M fine-tuned on each retrieved set (checkpoint or LoRA adapter per seed).")
def adapted_models(context: dg.AssetExecutionContext, recross: RecrossResource) -> dg.MaterializeResult:
    target, retriever = _keys(context)
    settings = recross.settings()
    seeds = [q.seed for q in steps.load_query_sets(
        steps.TargetPaths.of(settings, target, retriever).query_sets)]
    adapted = steps.adapt_for_target(settings, read_pool(settings), target=target,
                                     retriever=retriever, seeds=seeds)
    return dg.MaterializeResult(metadata={
        "mode": settings.adaptation.mode, "lr": settings.adaptation.learning_rate,
        "epochs": settings.adaptation.epochs, "batch_size": settings.adaptation.batch_size,
        "seeds": _md_table(pd.DataFrame([{"seed": a.seed, "seconds": a.seconds,
                                          "reused": a.reused, "final_loss": a.final_loss,
                                          "path": str(a.path or "upstream model")}
                                         for a in adapted]))})


@dg.asset(group_name="targets", partitions_def=TARGET_X_RETRIEVER, deps=[adapted_models],
          pool=CPU_POOL,
          description="SoftEM/EM of each seed's adapted model on the test set; tracked in MLflow.",
          check_specs=[dg.AssetCheckSpec("softem_in_range", asset="evaluations")])
def evaluations(context: dg.AssetExecutionContext, recross: RecrossResource) -> dg.MaterializeResult:
    target, retriever = _keys(context)
    settings = recross.settings()
    summary = track_partition(settings, read_pool(settings), target=target,
                                    retriever=retriever, dagster_run_id=context.run_id)
    if summary.table is None:
        return dg.MaterializeResult(metadata={"skipped": "the task has no labelled test data"})
    table = summary.table
    return dg.MaterializeResult(
        metadata={"softem_mean": float(table["softem"].mean()),
                  "softem_std": float(table["softem"].std(ddof=0)),
                  "per_seed": _md_table(table[["seed", "softem", "em", "n_test"]]),
                  "mlflow_run_id": summary.parent_run_id,
                  **({"mlflow_run": dg.MetadataValue.url(summary.run_url)} if summary.run_url
                     else {})},
        check_results=[dg.AssetCheckResult(
            check_name="softem_in_range",
            passed=bool(table["softem"].between(0, 100).all()))])
