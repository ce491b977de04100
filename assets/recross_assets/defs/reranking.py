"""Reranker assets: distant supervision mined from the upstream pool, and the cross-encoder."""

import dagster as dg
from recross.pipeline import reranker_training as steps
from recross.pipeline.upstream import read_pool

from recross_assets.defs.upstream import CPU_POOL, upstream_index, upstream_model
from recross_assets.resources import IndexResource, RecrossResource


@dg.asset(group_name="reranking", deps=[upstream_model, upstream_index], pool=CPU_POOL,
          kinds={"parquet"},
          description="Algorithm 1: (query, candidate, label) pairs mined by pretending each "
                      "upstream task is unseen; resumable per tuple.")
def distant_supervision(context: dg.AssetExecutionContext, recross: RecrossResource,
                        indexes: IndexResource) -> dg.MaterializeResult:
    settings = recross.settings()
    pool = read_pool(settings)
    run = steps.mine(settings, pool, indexes=indexes.for_pool(settings, pool))
    table = run.table
    per_task = table.groupby("query_task")["tuple_id"].nunique() if "query_task" in table else None
    return dg.MaterializeResult(metadata={
        "tuples": int(table["tuple_id"].nunique()), "pairs": len(table),
        "positives": int((table["label"] == 1).sum()), "negatives": int((table["label"] == 0).sum()),
        "mined_now": run.mined, "resumed": run.resumed,
        "seconds_per_tuple": run.seconds_per_tuple if run.seconds_per_tuple is not None
        else dg.MetadataValue.null(),
        "path": dg.MetadataValue.path(str(run.directory)),
        **({"tuples_per_task": dg.MetadataValue.json(per_task.to_dict())}
           if per_task is not None else {}),
        **{f"mining.{k}": v for k, v in settings.mining.model_dump().items()},
    })


@dg.asset(group_name="reranking", deps=[distant_supervision], pool=CPU_POOL, kinds={"pytorch"},
          description="The cross-encoder trained on the mined pairs (sentence-transformers).",
          # Not blocking: a reranker at chance does not corrupt retrieval, it only fails to help.
          check_specs=[dg.AssetCheckSpec("heldout_accuracy_above_chance", asset="reranker")])
def reranker(context: dg.AssetExecutionContext, recross: RecrossResource) -> dg.MaterializeResult:
    summary = steps.train_reranker(recross.settings())
    metrics = summary["metrics"]
    accuracy = float(metrics["heldout_pairwise_accuracy"])
    return dg.MaterializeResult(
        metadata={"path": dg.MetadataValue.path(summary["path"]), "reused": summary["reused"],
                  "train_pairs": summary["train_pairs"], "heldout_pairs": summary["heldout_pairs"],
                  **{k: float(v) for k, v in metrics.items()}},
        check_results=[dg.AssetCheckResult(
            check_name="heldout_accuracy_above_chance", passed=accuracy > 0.5,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"heldout_pairwise_accuracy": accuracy})])
