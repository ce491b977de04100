"""Per-target assets, partitioned by target task x retriever; all query-set seeds in one run."""

import time
from typing import Any

import dagster as dg
import pandas as pd
from recross.evaluation.comparison import delta_cell
from recross.index.filters import TaskFilter
from recross.pipeline.adaptation import adapt_for_target
from recross.pipeline.layout import TargetPaths
from recross.pipeline.logged_evaluation import track_partition
from recross.pipeline.retrieval import distribution_frame, retrieve_for_target
from recross.pipeline.target_data import load_query_sets, make_query_sets, save_query_sets
from recross.pipeline.upstream import read_pool
from recross.tracking import METRICS

from recross_assets.defs.reranking import reranker
from recross_assets.defs.upstream import (
    CPU_POOL,
    bm25_index,
    hybrid_index,
    on_all_partitions,
    sbert_index,
    upstream_index,
)
from recross_assets.failures import explain_missing_inputs
from recross_assets.partitions import TARGET_X_RETRIEVER
from recross_assets.resources import IndexResource, RecrossResource, TrackerResource


def _keys(context: dg.AssetExecutionContext) -> tuple[str, str]:
    key = context.partition_key.keys_by_dimension
    return key["target"], key["retriever"]


# Per-seed columns shown in the evaluations asset's metadata.
EVALUATION_METADATA_COLUMNS: tuple[str, ...] = (
    "seed", "softem", "em", "nll", "rank_acc", "rank_coverage", "top_answer", "top_share",
    "changed", "n_test")


def softem_in_range(scores: pd.Series) -> bool:
    """SoftEM is a percentage: a score outside [0, 100], or a missing one, is a scoring bug."""
    return bool(scores.between(0, 100).all())


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
    sets = make_query_sets(settings, target)
    path = TargetPaths.of(settings, target, retriever).query_sets
    save_query_sets(path, sets)
    return dg.MaterializeResult(metadata={
        "sets": len(sets), "size": len(sets[0]), "seeds": str([q.seed for q in sets]),
        "path": dg.MetadataValue.path(str(path)),
        "first_query": sets[0].inputs[0][:300]})


@dg.asset(group_name="targets", partitions_def=TARGET_X_RETRIEVER,
          deps=[query_sets, *on_all_partitions(upstream_index, sbert_index, bm25_index,
                                               hybrid_index), reranker],
          description="The retrieved set R of every query set (|R| upstream examples each).",
          check_specs=[dg.AssetCheckSpec("size_is_R", asset="retrieved_sets", blocking=True),
                       dg.AssetCheckSpec("no_target_leakage", asset="retrieved_sets",
                                         blocking=True)])
def retrieved_sets(context: dg.AssetExecutionContext, recross: RecrossResource,
                   indexes: IndexResource, config: RetrievalConfig) -> dg.MaterializeResult:
    target, retriever = _keys(context)
    settings = recross.settings()
    pool = read_pool(settings)
    with explain_missing_inputs(context):
        sets = load_query_sets(TargetPaths.of(settings, target, retriever).query_sets)
    filters = config.task_filter()
    started = time.perf_counter()
    retrieved = retrieve_for_target(settings, pool, target=target, retriever=retriever,
                                    query_sets=sets, filters=filters,
                                    indexes=indexes.for_pool(settings, pool))
    expected = 0 if retriever == "none" else settings.retrieval.retrieved_size
    sizes = [len(r) for r in retrieved]
    leaked = sum(item.task == target for r in retrieved for item in r.items)
    metadata: dict[str, Any] = {"sizes": str(sizes),
                                "seconds": round(time.perf_counter() - started, 1),
                                **{f"filter.{k}": v for k, v in filters.as_params().items()}}
    if retriever != "none":
        metadata["task_distribution"] = _md_table(distribution_frame(retrieved))
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
    with explain_missing_inputs(context):
        seeds = [q.seed for q in load_query_sets(
            TargetPaths.of(settings, target, retriever).query_sets)]
        adapted = adapt_for_target(settings, read_pool(settings), target=target,
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
          description="Each seed's adapted model on the test set: SoftEM/EM, gold-answer NLL, rank "
                      "accuracy, paired deltas vs none/random, collapse check; tracked in MLflow.",
          check_specs=[dg.AssetCheckSpec("softem_in_range", asset="evaluations"),
                       dg.AssetCheckSpec("answers_not_collapsed", asset="evaluations",
                                         description="warns when one answer covers most inputs "
                                                     "or adaptation changed no answer")])
def evaluations(context: dg.AssetExecutionContext, recross: RecrossResource,
                tracker: TrackerResource) -> dg.MaterializeResult:
    target, retriever = _keys(context)
    settings = recross.settings()
    with explain_missing_inputs(context):
        summary = track_partition(settings, read_pool(settings), target=target,
                                  retriever=retriever, dagster_run_id=context.run_id,
                                  tracker=tracker.for_settings(settings))
    if summary.table is None:
        return dg.MaterializeResult(metadata={"skipped": "the task has no labelled test data"})
    table = summary.table
    shown = [c for c in EVALUATION_METADATA_COLUMNS if c in table.columns]
    return dg.MaterializeResult(
        metadata={"softem_mean": float(table["softem"].mean()),
                  "softem_std": float(table["softem"].std(ddof=0)),
                  **{f"{m}_mean": float(table[m].mean())
                     for m in METRICS if m != "softem" and m in table},
                  "per_seed": _md_table(table[shown]),
                  "deltas": dg.MetadataValue.md(_deltas_md(summary.deltas)),
                  "diagnostics": "\n".join(summary.warnings) or "none",
                  "mlflow_run_id": summary.parent_run_id,
                  **({"mlflow_run": dg.MetadataValue.url(summary.run_url)} if summary.run_url
                     else {})},
        check_results=[dg.AssetCheckResult(
            check_name="softem_in_range",
            passed=softem_in_range(table["softem"])),
            dg.AssetCheckResult(
                check_name="answers_not_collapsed", passed=not summary.warnings,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"top_share_max": float(table["top_share"].max()),
                          "warnings": "\n".join(summary.warnings) or "none"})])


def _deltas_md(deltas: dict[str, float]) -> str:
    """``delta_<metric>_vs_<baseline>`` metrics as a table of "+1.50 [-0.40, +3.20]" cells."""
    rows = [{"comparison": name.removeprefix("delta_"),
             "delta [95% CI]": delta_cell(value, deltas[f"{name}_ci_low"],
                                          deltas[f"{name}_ci_high"])}
            for name, value in deltas.items() if not name.endswith(("_ci_low", "_ci_high"))]
    return pd.DataFrame(rows).to_markdown(index=False) if rows else "no comparison yet"
