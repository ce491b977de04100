"""Upstream assets: the pool table, the upstream model M ("BART0"), and the two indexes."""

import time

import dagster as dg
from recross.pipeline import upstream as steps

from recross_assets.resources import RecrossResource

CPU_POOL = "recross_cpu_heavy"  # dagster.yaml lets one such step hold the cores at a time


@dg.asset(group_name="upstream", kinds={"parquet"},
          description="The prompted upstream examples D with task metadata (one row each).")
def upstream_pool(context: dg.AssetExecutionContext, recross: RecrossResource) -> dg.MaterializeResult:
    pool, path = steps.write_pool_table(recross.settings())
    counts = pool.task_counts()
    return dg.MaterializeResult(metadata={
        "examples": len(pool), "tasks": len(counts), "path": dg.MetadataValue.path(str(path)),
        "fingerprint": steps.pool_fingerprint(pool),
        "missing_tasks": ", ".join(pool.missing) or "-",
        "per_task": dg.MetadataValue.md("\n".join(
            ["| task | examples | file |", "|---|---|---|"]
            + [f"| {t} | {n} | {pool.sources.get(t, '-')} |" for t, n in counts.items()])),
    })


@dg.asset(group_name="upstream", deps=[upstream_pool], pool=CPU_POOL, kinds={"pytorch"},
          description="The upstream multi-task model M: trained here (small/tiny) or BART0 (paper).")
def upstream_model(context: dg.AssetExecutionContext, recross: RecrossResource) -> dg.MaterializeResult:
    settings = recross.settings()
    result = steps.ensure_upstream_model(settings, steps.read_pool(settings))
    losses = [point["loss"] for point in result.loss_curve if "loss" in point]
    return dg.MaterializeResult(metadata={
        "model": settings.models.upstream_model,
        "path": dg.MetadataValue.path(str(result.out_dir)),
        "trained_now": result.trained, "steps": result.steps,
        "seconds": round(result.seconds, 1),
        "first_loss": float(losses[0]) if losses else dg.MetadataValue.null(),
        "final_loss": float(losses[-1]) if losses else dg.MetadataValue.null(),
    })


def _index_asset(kind: steps.IndexKind, deps: list, description: str):
    @dg.asset(name=f"{kind}_index", group_name="upstream", deps=deps, pool=CPU_POOL,
              kinds={"qdrant"}, description=description,
              check_specs=[dg.AssetCheckSpec("point_count_equals_pool", asset=f"{kind}_index",
                                             blocking=True)])
    def _asset(context: dg.AssetExecutionContext, recross: RecrossResource) -> dg.MaterializeResult:
        settings = recross.settings()
        pool = steps.read_pool(settings)
        started = time.perf_counter()
        summary = steps.build_pool_index(settings, pool, kind)
        return dg.MaterializeResult(
            metadata={"collection": summary.collection, "encoder": summary.encoder,
                      "dimension": summary.dimension, "points": summary.points,
                      "written": summary.report.written, "reused": summary.report.skipped,
                      "backend": settings.index.backend,
                      "encode_upsert_seconds": round(summary.report.seconds, 1),
                      "hnsw_build_seconds": round(summary.optimize_seconds, 1),
                      "seconds": round(time.perf_counter() - started, 1)},
            check_results=[dg.AssetCheckResult(
                check_name="point_count_equals_pool", passed=summary.points == len(pool),
                metadata={"points": summary.points, "pool": len(pool)})])
    return _asset


upstream_index = _index_asset("upstream", [upstream_pool, upstream_model],
                              "Qdrant collection of D encoded by M's mean-pooled encoder.")
sbert_index = _index_asset("sbert", [upstream_pool],
                           "Qdrant collection of D encoded by the SBERT baseline encoder.")
