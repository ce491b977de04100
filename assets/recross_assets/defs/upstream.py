"""Upstream assets: the pool table, the upstream model M ("BART0"), the two indexes, and the
lexical baselines' collections (BM25, hybrid).

The pool and every index are partitioned by upstream task (``UPSTREAM_TASKS``): each partition
shows its examples and its points, and a user's task (`recross upstream add`) is indexed alone.
A run may hold a range of partitions; they are built in one call, so the whole pool costs one
encoder load (``make run`` materializes all of them in one run per asset). M and everything
downstream depend on all partitions.
"""

import time
import warnings
from collections.abc import Callable

import dagster as dg
from recross.config import Settings
from recross.data import UpstreamPool
from recross.pipeline import upstream as steps
from recross.pipeline.lexical import build_lexical_collection
from recross.pipeline.upstream_partitions import write_pool_partition

from recross_assets.index_writers import CPU_POOL, current_index_build_plan
from recross_assets.partitions import UPSTREAM_TASKS
from recross_assets.resources import IndexResource, RecrossResource

INDEX_PLAN = current_index_build_plan()  # serial on Edge / local mode, parallel on a server
# Dagster calls `backfill_policy` beta and says so at every import of this module: once per
# process, i.e. once per worker of the main job. The policy is what the pool and indexes need.
warnings.filterwarnings("ignore", message="Parameter `backfill_policy` of function `asset`")


def on_all_partitions(*assets: dg.AssetsDefinition) -> list[dg.AssetDep]:
    """Deps of a differently partitioned asset (target x retriever) on every upstream partition
    (an unpartitioned asset gets this mapping by default)."""
    return [dg.AssetDep(a, partition_mapping=dg.AllPartitionMapping()) for a in assets]


@dg.asset(group_name="upstream", kinds={"parquet"}, partitions_def=UPSTREAM_TASKS,
          backfill_policy=dg.BackfillPolicy.single_run(),
          description="The prompted upstream examples D with task metadata: one parquet table "
                      "per upstream task (partition); every step reads their union.")
def upstream_pool(context: dg.AssetExecutionContext, recross: RecrossResource) -> dg.MaterializeResult:
    settings = recross.settings()
    for task in context.partition_keys:
        part = write_pool_partition(settings, task)
        context.add_asset_metadata({
            "examples": len(part.examples), "source": part.source,
            "path": dg.MetadataValue.path(str(part.path)),
            "fingerprint": steps.pool_fingerprint(UpstreamPool(examples=part.examples))},
            partition_key=task)
    return dg.MaterializeResult()


@dg.asset(group_name="upstream", deps=[upstream_pool], pool=CPU_POOL, kinds={"pytorch"},
          description="The upstream multi-task model M: trained here (small/tiny) or BART0 (paper), "
                      "on the data's upstream tasks only (never on tasks users add).")
def upstream_model(context: dg.AssetExecutionContext, recross: RecrossResource) -> dg.MaterializeResult:
    settings = recross.settings()
    result = steps.ensure_upstream_model(settings,
                                         steps.read_pool(settings, with_user_tasks=False))
    losses = [point["loss"] for point in result.loss_curve if "loss" in point]
    return dg.MaterializeResult(metadata={
        "model": settings.models.upstream_model,
        "path": dg.MetadataValue.path(str(result.out_dir)),
        "trained_now": result.trained, "steps": result.steps,
        "seconds": round(result.seconds, 1),
        "first_loss": float(losses[0]) if losses else dg.MetadataValue.null(),
        "final_loss": float(losses[-1]) if losses else dg.MetadataValue.null(),
    })


BuildIndex = Callable[[Settings, UpstreamPool, list[str]], steps.IndexSummary]


def _index_asset(name: str, deps: list, description: str, build: BuildIndex):
    @dg.asset(name=name, group_name="upstream", deps=deps, pool=INDEX_PLAN.pool,
              kinds={"qdrant"}, partitions_def=UPSTREAM_TASKS,
              backfill_policy=INDEX_PLAN.backfill_policy,
              description=f"{description}\n\nPartition builds: {INDEX_PLAN.concurrency}",
              check_specs=[dg.AssetCheckSpec(
                  "point_count_equals_pool", asset=name, blocking=True,
                  description="The collection holds one point per example of the pool's union "
                              "of partitions (each partition's build checks its own points). "
                              "Fewer points only warns: partitions built by other runs may be "
                              "pending; more points than the pool fails.")])
    def _asset(context: dg.AssetExecutionContext, recross: RecrossResource,
               indexes: IndexResource) -> dg.MaterializeResult:
        settings = recross.settings()
        pool = steps.read_pool(settings)
        # Edge lets one handle per process open a collection: a build (or the hybrid build's
        # read of M's index) needs the collections the run's earlier assets hold to itself.
        indexes.close()
        started = time.perf_counter()
        summary = build(settings, pool, list(context.partition_keys))
        for task, points in summary.partitions.items():
            context.add_asset_metadata({"points": points}, partition_key=task)
        context.add_asset_metadata({
            "collection": summary.collection, "encoder": summary.encoder,
            "dimension": summary.dimension, "collection_points": summary.points,
            "written": summary.report.written, "reused": summary.report.skipped,
            "backend": settings.index.backend, "partition_builds": INDEX_PLAN.concurrency,
            "partitions_in_run": len(summary.partitions),
            "encode_upsert_seconds": round(summary.report.seconds, 1),
            "hnsw_build_seconds": round(summary.optimize_seconds, 1),
            "seconds": round(time.perf_counter() - started, 1)})
        return dg.MaterializeResult(check_results=[dg.AssetCheckResult(
            check_name="point_count_equals_pool", passed=summary.points == len(pool),
            severity=(dg.AssetCheckSeverity.WARN if summary.points < len(pool)
                      else dg.AssetCheckSeverity.ERROR),
            metadata={"collection_points": summary.points, "pool": len(pool),
                      "pool_partitions": len(pool.tasks)})])
    return _asset


upstream_index = _index_asset("upstream_index", [upstream_pool, upstream_model],
                              "Qdrant collection of D encoded by M's mean-pooled encoder.",
                              lambda s, pool, tasks: steps.build_pool_index(
                                  s, pool, "upstream", tasks=tasks))
sbert_index = _index_asset("sbert_index", [upstream_pool],
                           "Qdrant collection of D encoded by the SBERT baseline encoder.",
                           lambda s, pool, tasks: steps.build_pool_index(
                               s, pool, "sbert", tasks=tasks))
# The lexical baselines' collections: built only when a bm25 / hybrid retriever is run.
bm25_index = _index_asset("bm25_index", [upstream_pool],
                          "Qdrant collection of D's BM25 term vectors (sparse; IDF applied by "
                          "Qdrant): the bm25 retriever. No model; seconds on the small pool.",
                          lambda s, pool, tasks: build_lexical_collection(
                              s, pool, "bm25", tasks=tasks))
hybrid_index = _index_asset("hybrid_index", [upstream_index],
                            "M's index copied with a BM25 vector beside each dense one: the "
                            "hybrid retrievers (dense + BM25 fused by RRF inside Qdrant).",
                            lambda s, pool, tasks: build_lexical_collection(
                                s, pool, "hybrid", tasks=tasks))
INDEX_ASSETS = [upstream_index, sbert_index, bm25_index, hybrid_index]  # per-partition collections
LEXICAL_INDEXES = {"bm25": [bm25_index], "hybrid": [hybrid_index],
                   "recross-hybrid": [hybrid_index]}  # retriever -> the collections it needs
