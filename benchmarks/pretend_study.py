"""Pretend-target study, resumable per (target, retriever): the library steps the assets call.

`quality.py` runs the same steps through the Dagster graph and re-materializes every partition;
this runner skips each (target, retriever) whose evaluation is already in the study, so a long
study on 2 CPU cores can grow by one retriever or target at a time and survive a killed run.
The study name binds its settings: change a setting, change ``--study``. What the study needs
and the state folder lacks is made first, each step resuming like its asset: M (trained when the
folder has none), the indexes the retrievers search, and for ``recross``/``recross-hybrid`` the
mined tuples and the reranker (``mining.n_tuples``, ``reranker.*``). A study keeps its
evaluations, predictions and MLflow runs, not its checkpoints: each seed's adapted model (188 MB
in the small profile) is deleted once its partition is evaluated and is not logged to MLflow, so
a 10-target x 9-retriever x 3-seed study needs ~0.2 GB, not 50 (``--keep-checkpoints`` keeps them).

    python benchmarks/pretend_study.py --targets pretend --query-sets 3 --test-sample 200 \
        --config benchmarks/pretend-cpu.yaml --retrievers none,random,sbert,recross-dagger,bm25
    python benchmarks/pretend_study.py --study pretend-cpu-lora --retrievers none,sbert,bm25 \
        --config benchmarks/pretend-cpu.yaml --set adaptation.mode=lora
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import pandas as pd
from recross.config import Settings, deep_merge, dotted_overrides, load_settings
from recross.data.pool import UpstreamPool
from recross.data.registry import expand_targets
from recross.pipeline.adaptation import adapt_for_target
from recross.pipeline.indexes import OpenIndexes
from recross.pipeline.layout import TargetPaths
from recross.pipeline.lexical import build_lexical_collection
from recross.pipeline.logged_evaluation import track_partition
from recross.pipeline.reporting import build_report
from recross.pipeline.reranker_training import mine, train_reranker
from recross.pipeline.retrieval import distribution_frame, retrieve_for_target
from recross.pipeline.target_data import make_query_sets, save_query_sets
from recross.pipeline.upstream import build_pool_index, ensure_upstream_model, read_pool
from recross.retriever_names import RERANKED_RETRIEVERS
from recross.tracking import Tracker

DENSE_INDEX_OF = {"sbert": "sbert", "recross-dagger": "upstream", "recross": "upstream"}


def build_indexes(settings: Settings, pool: UpstreamPool, retrievers: list[str]) -> None:
    """Build (or find complete) every index the chosen retrievers search."""
    dense = {DENSE_INDEX_OF[r] for r in retrievers if r in DENSE_INDEX_OF}
    if any(r in ("hybrid", "recross-hybrid") for r in retrievers):
        dense.add("upstream")
    for kind in sorted(dense):
        summary = build_pool_index(settings, pool, kind, progress=True)
        print(f"[study] index {kind}: {summary.points} points", flush=True)
    lexical = {"bm25"} if "bm25" in retrievers else set()
    if any(r in ("hybrid", "recross-hybrid") for r in retrievers):
        lexical.add("hybrid")
    for kind in sorted(lexical):
        started = time.perf_counter()
        summary = build_lexical_collection(settings, pool, kind, progress=True)
        print(f"[study] index {kind}: {summary.points} points, "
              f"{time.perf_counter() - started:.0f}s", flush=True)


def finished(paths: TargetPaths, seeds: list[int]) -> bool:
    """True when the partition's evaluation holds every seed of the study's query sets."""
    if not paths.evaluation.is_file():
        return False
    return set(seeds) <= set(pd.read_parquet(paths.evaluation)["seed"])


def drop_checkpoints(paths: TargetPaths, seeds: list[int]) -> None:
    """Delete an evaluated partition's adapted models: the study resumes from its evaluation."""
    for seed in seeds:
        shutil.rmtree(paths.adapted(seed), ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="small", choices=["tiny", "small", "paper"])
    parser.add_argument("--targets", default="pretend",
                        help="comma-separated tasks; 'pretend' and 'all' stand for their selections")
    parser.add_argument("--retrievers", default="none,random,sbert,recross-dagger")
    parser.add_argument("--query-sets", type=int, default=3)
    parser.add_argument("--test-sample", type=int, default=200)
    parser.add_argument("--study", default="pretend-cpu")
    parser.add_argument("--config", type=Path, default=None, help="base YAML config")
    parser.add_argument("--home", default=None, help="RECROSS_HOME (default: the settings')")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="a setting over the config, e.g. adaptation.mode=lora (repeatable)")
    parser.add_argument("--keep-checkpoints", action="store_true",
                        help="keep each seed's adapted model and log it to MLflow")
    args = parser.parse_args()
    targets = expand_targets(args.targets.split(","))
    retrievers = args.retrievers.split(",")
    overrides = {"study": args.study, "targets": targets, "retrievers": retrievers,
                 "tracking": {"experiment": f"recross-{args.study}",
                              "log_models": args.keep_checkpoints},
                 "retrieval": {"n_query_sets": args.query_sets},
                 "data": {"test_sample_size": args.test_sample or None},
                 **({"home": args.home} if args.home else {})}
    overrides = deep_merge(overrides, dotted_overrides(args.set))
    settings = load_settings(args.profile, args.config, overrides=overrides)
    started = time.time()
    pool = read_pool(settings)
    upstream = ensure_upstream_model(settings, read_pool(settings, with_user_tasks=False))
    print(f"[study] M: {'trained' if upstream.trained else 'found'} at {upstream.out_dir}",
          flush=True)
    build_indexes(settings, pool, retrievers)
    tracker = Tracker(settings)
    with OpenIndexes(settings, pool) as indexes:
        if any(r in RERANKED_RETRIEVERS for r in retrievers):
            mined = mine(settings, pool, progress=False, indexes=indexes)
            reranker = train_reranker(settings, progress=True)
            print(f"[study] reranker: {mined.table.tuple_id.nunique()} tuples, "
                  f"{'reused' if reranker['reused'] else 'trained'} at {reranker['path']}: "
                  f"{reranker['metrics']}", flush=True)
        for target in targets:
            for retriever in retrievers:
                step = time.time()
                paths = TargetPaths.of(settings, target, retriever)
                sets = make_query_sets(settings, target)
                seeds = [q.seed for q in sets]
                if finished(paths, seeds):
                    print(f"[study] {target} x {retriever}: already evaluated", flush=True)
                    continue
                save_query_sets(paths.query_sets, sets)
                got = retrieve_for_target(settings, pool, target=target, retriever=retriever,
                                          query_sets=sets, indexes=indexes)
                if retriever != "none":
                    top = distribution_frame(got).head(3).to_dict("records")
                    print(f"[study] {target} x {retriever}: top tasks {top}", flush=True)
                adapt_for_target(settings, pool, target=target, retriever=retriever,
                                 seeds=seeds, progress=False)
                summary = track_partition(settings, pool, target=target, retriever=retriever,
                                          progress=False, tracker=tracker)
                if not args.keep_checkpoints:
                    drop_checkpoints(paths, seeds)
                print(f"[study] {target} x {retriever}: {time.time() - step:.0f}s "
                      f"(total {(time.time() - started) / 60:.1f} min)", flush=True)
                if summary.table is not None:
                    print(summary.table.to_string(), flush=True)
    print(build_report(settings).markdown, flush=True)
    print(f"[study] done in {(time.time() - started) / 60:.1f} min", flush=True)


if __name__ == "__main__":
    main()
