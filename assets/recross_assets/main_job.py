"""The main job: materialize the whole asset graph for the chosen targets and every retriever.

It runs through Dagster (``materialize`` against the persistent instance in DAGSTER_HOME: one
run at a time in this process, or as many side by side in worker processes as the instance's
CPU pool has slots, :mod:`recross_assets.run_plan`), so what it makes shows up in the Dagster
UI. Asset partitions already materialized are skipped, which makes a second run fast; a killed
run resumes inside each step (the library writes every product atomically and skips what is
complete).
"""

from __future__ import annotations

import logging
import multiprocessing
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import dagster as dg
from dagster._core.instance.ref import InstanceRef
from recross.config import Settings
from recross.data import PAPER_TARGETS
from recross.data.registry import expand_targets
from recross.errors import ConfigError, RecrossError
from recross.paths import StatePaths, slug
from recross.pipeline.target_registry import known_targets
from recross.pipeline.upstream_partitions import upstream_partitions
from recross.retriever_names import RERANKED_RETRIEVERS, RETRIEVERS

from recross_assets.cpu_share import THREADS_TAG, cpu_slots, usable_cores
from recross_assets.definitions import LEXICAL_INDEX_ASSETS, TARGET_ASSETS, UPSTREAM_ASSETS
from recross_assets.defs.report import report
from recross_assets.defs.reranking import reranker
from recross_assets.defs.targets import evaluations
from recross_assets.defs.upstream import (
    INDEX_ASSETS,
    LEXICAL_INDEXES,
    sbert_index,
    upstream_index,
    upstream_model,
)
from recross_assets.index_writers import CPU_POOL
from recross_assets.partitions import (
    UPSTREAM_TASKS_NAME,
    partition_key,
    register_targets,
    register_upstream_tasks,
)
from recross_assets.resources import ResourceRecipe
from recross_assets.run_plan import PlannedRun, RunOutcome, run_plan

# Dagster's console logger prints every DEBUG event of a run; the main job prints one line per
# step instead and keeps the events in a file (EventLog). Warnings and errors still show.
QUIET_CONSOLE = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
ALL_ASSETS = [*UPSTREAM_ASSETS, *LEXICAL_INDEX_ASSETS, *TARGET_ASSETS, report]


@dataclass
class EventLog:
    """The events of every run the main job starts, appended to one text file as they end."""

    path: Path

    def append(self, instance: dg.DagsterInstance, run_id: str) -> str | None:
        """Write the run's events; returns the first error's root cause (None: no error)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        first_error = None
        with self.path.open("a", encoding="utf-8") as out:
            for entry in instance.all_logs(run_id):
                stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(entry.timestamp))
                level = logging.getLevelName(entry.level)
                out.write(f"{stamp} {level:7s} {run_id[:8]} {entry.step_key or '-'} "
                          f"{entry.message}\n")
                data = entry.dagster_event.event_specific_data if entry.dagster_event else None
                error = getattr(data, "error", None)
                if error is not None:
                    out.write(error.to_string())
                    while error.cause is not None:  # Dagster's wrapper -> the step's own error
                        error = error.cause
                    first_error = first_error or error.message.strip()
        return first_error


@dataclass
class MainJobResult:
    targets: list[str]
    retrievers: list[str]
    materialized: int
    skipped: int
    seconds: float
    report_markdown: str
    report_dir: Path


def chosen_targets(settings: Settings) -> list[str]:
    """The profile's selection (``all`` / ``pretend`` expanded); ``None``: every paper target."""
    if settings.targets is None:
        return list(PAPER_TARGETS)
    return expand_targets(settings.targets)


def _is_materialized(instance: dg.DagsterInstance, asset: dg.AssetsDefinition,
                     partition: str | None) -> bool:
    key = asset.key
    if partition is None:
        return instance.get_latest_materialization_event(key) is not None
    return partition in instance.get_materialized_partitions(key)


def _report_is_current(instance: dg.DagsterInstance, settings: Settings) -> bool:
    """The report exists on disk and no evaluation was materialized after it."""
    table = StatePaths(Path(settings.home)).reports / slug(settings.study) / "table1.md"
    built = instance.get_latest_materialization_event(report.key)
    if built is None or not table.is_file():
        return False
    evaluated = instance.get_latest_materialization_event(evaluations.key)
    return evaluated is None or evaluated.timestamp <= built.timestamp


def missing_ranges(order: Sequence[str], missing: Sequence[str]) -> list[list[str]]:
    """``missing`` partition keys cut into runs of neighbours in ``order`` (the instance's
    order of a dynamic dimension: a ranged run spans first..last in that order)."""
    wanted, ranges, current = set(missing), [], []
    for key in order:
        if key in wanted:
            current.append(key)
        elif current:
            ranges.append(current)
            current = []
    return [*ranges, current] if current else ranges


def partition_range_tags(keys: Sequence[str]) -> dict[str, str]:
    """The run tags that make one run materialize the partitions ``keys[0]..keys[-1]``."""
    if not keys:
        return {}
    return {"dagster/asset_partition_range_start": keys[0],
            "dagster/asset_partition_range_end": keys[-1]}


# Retrievers that open M's collection (its encoder comes with it): recross.pipeline.retrieval
M_INDEX_RETRIEVERS = ("recross-dagger", "recross", "hybrid", "recross-hybrid")


def _target_reads(retriever: str) -> list[dg.AssetsDefinition]:
    """The upstream assets a target x ``retriever`` partition reads (M always; then the
    collections its retrieval opens and the reranker it scores with)."""
    reads = [upstream_model]
    if retriever == "sbert":
        reads.append(sbert_index)
    if retriever in M_INDEX_RETRIEVERS:
        reads.append(upstream_index)
    if retriever in RERANKED_RETRIEVERS:
        reads.append(reranker)
    return [*reads, *LEXICAL_INDEXES.get(retriever, [])]


def _collections(assets: Sequence[dg.AssetsDefinition | dg.AssetKey]) -> frozenset[str]:
    """The index collections among ``assets`` (Edge opens each in one process at a time)."""
    keys = {a.key if isinstance(a, dg.AssetsDefinition) else a for a in assets}
    return frozenset(a.key.to_user_string() for a in INDEX_ASSETS if a.key in keys)


def materialize_run(instance: dg.DagsterInstance, resources: dict[str, object],
                    run: PlannedRun, threads: int | None) -> RunOutcome:
    """One planned run through Dagster, in this process, its torch on ``threads`` threads
    (None: as the CPU pool says, torch's default for one slot)."""
    thread_tag = {THREADS_TAG: str(threads)} if threads is not None else {}
    result = dg.materialize(ALL_ASSETS, selection=list(run.assets), instance=instance,
                            resources=resources, partition_key=run.partition,
                            tags={"recross/main_job": "true", **thread_tag,
                                  **partition_range_tags(run.partitions)},
                            raise_on_error=False, run_config=QUIET_CONSOLE)
    return RunOutcome(result.run_id, result.success)


def _materialize_in_worker(instance_ref: InstanceRef, recipes: dict[str, ResourceRecipe],
                           run: PlannedRun, threads: int) -> RunOutcome:
    """A worker process's run: the parent's instance and resources, rebuilt here."""
    resources: dict[str, object] = {key: recipe.build() for key, recipe in recipes.items()}
    with dg.DagsterInstance.from_ref(instance_ref) as instance:
        return materialize_run(instance, resources, run, threads)


def job_workers(instance: dg.DagsterInstance) -> int:
    """Runs side by side: the CPU pool's slots (dagster.yaml: 1) on a persistent instance, which
    worker processes can reopen; one, in this process, otherwise."""
    slots = cpu_slots(instance)
    return min(slots, usable_cores()) if slots and instance.is_persistent else 1


@contextmanager
def run_starter(instance: dg.DagsterInstance, resources: dict[str, object], workers: int
                ) -> Iterator[Callable[[PlannedRun, int], Future[RunOutcome]]]:
    """Start runs in ``workers`` spawned processes, or here, one at a time, for one worker;
    each on its share of the cores (``sharing``: the runs running beside it, itself included)."""
    if workers == 1:
        def here(run: PlannedRun, sharing: int) -> Future[RunOutcome]:
            future: Future[RunOutcome] = Future()
            future.set_result(materialize_run(instance, resources, run, None))
            return future

        yield here
        return
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        ref = instance.get_ref()
        recipes = {key: ResourceRecipe.of(resource) for key, resource in resources.items()
                   if isinstance(resource, dg.ConfigurableResource)}
        if len(recipes) < len(resources):
            raise ConfigError("the main job's worker processes rebuild its resources from their "
                              "settings; one is not a ConfigurableResource. Fix: pass "
                              "ConfigurableResource objects (recross_assets.resources).")
        yield lambda run, sharing: pool.submit(_materialize_in_worker, ref, recipes, run,
                                               max(1, usable_cores() // sharing))


def plan_main_job(instance: dg.DagsterInstance, settings: Settings, targets: Sequence[str],
                  retrievers: Sequence[str], echo: Callable[[str], None] = print
                  ) -> tuple[list[PlannedRun], int]:
    """The runs still to do, in priority order (upstream first), each waiting for the runs that
    make what it reads; and how many asset partitions are already materialized (reused)."""
    upstream = upstream_partitions(settings)
    plan: list[PlannedRun] = []
    made_by: dict[dg.AssetKey, list[str]] = {}  # asset -> labels of the runs that make it
    skipped = 0

    def add(label: str, assets: list[dg.AssetsDefinition], reads: Sequence[dg.AssetKey],
            partition: str | None = None, partitions: Sequence[str] = ()) -> None:
        after = {label for key in reads for label in made_by.get(key, [])}
        plan.append(PlannedRun(label, tuple(a.key.to_user_string() for a in assets), partition,
                               tuple(partitions), frozenset(after),
                               _collections([*assets, *reads])))
        for asset in assets:
            made_by.setdefault(asset.key, []).append(label)

    lexical = [a for a in LEXICAL_INDEX_ASSETS
               if any(a in LEXICAL_INDEXES.get(r, []) for r in retrievers)]
    for asset in [*UPSTREAM_ASSETS, *lexical]:
        label = asset.key.to_user_string()
        reads = sorted(asset.dependency_keys)
        if asset.partitions_def is None:
            if _is_materialized(instance, asset, None):
                skipped += 1
                echo(f"[recross] {label}: already materialized, reused")
            else:
                add(label, [asset], reads)
            continue
        # every upstream partition not yet materialized, in as few runs as the instance's
        # partition order allows (one, normally): a run per partition costs seconds each
        have = instance.get_materialized_partitions(asset.key)
        skipped += sum(1 for k in upstream if k in have)
        ranges = missing_ranges(instance.get_dynamic_partitions(UPSTREAM_TASKS_NAME),
                                [k for k in upstream if k not in have])
        if not ranges:
            echo(f"[recross] {label}: {len(upstream)} upstream partitions already "
                 "materialized, reused")
        for keys in ranges:
            add(f"{label} [{len(keys)} upstream partitions from {keys[0]}]", [asset], reads,
                partitions=keys)
    for target in targets:
        for retriever in retrievers:
            key = str(partition_key(target, retriever))
            label = f"{target} x {retriever}"
            todo = [a for a in TARGET_ASSETS if not _is_materialized(instance, a, key)]
            skipped += len(TARGET_ASSETS) - len(todo)
            if not todo:
                echo(f"[recross] {label}: already materialized, reused")
                continue
            # a target's later retrievers reuse what its first one scored (M's evaluation)
            first = f"{target} x {retrievers[0]}"
            reads = [a.key for a in _target_reads(retriever)]
            add(label, todo, reads, key)
            if label != first and first in {run.label for run in plan}:
                plan[-1] = replace(plan[-1], after=plan[-1].after | {first})
    if plan or not _report_is_current(instance, settings):
        plan.append(PlannedRun("report", (report.key.to_user_string(),),
                               after=frozenset(run.label for run in plan)))
    else:
        echo("[recross] report: nothing evaluated since the last report, reused")
    return plan, skipped


def run_main_job(settings: Settings, *, instance: dg.DagsterInstance,
                 resources: dict[str, object], echo: Callable[[str], None] = print,
                 retrievers: Sequence[str] | None = None) -> MainJobResult:
    """Materialize upstream assets, then every target x retriever partition, then the report:
    each as its own Dagster run, as many side by side as :func:`job_workers` allows."""
    started = time.perf_counter()
    targets = chosen_targets(settings)
    retrievers = list(retrievers or settings.retrievers)
    unknown = [r for r in retrievers if r not in RETRIEVERS]
    if unknown:
        raise ConfigError(f"unknown retrievers {unknown}. Fix: choose from {', '.join(RETRIEVERS)}.")
    register_targets(instance, known_targets(settings))
    upstream = upstream_partitions(settings)
    register_upstream_tasks(instance, upstream)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    event_log = EventLog(StatePaths(Path(settings.home)).logs / f"main-job-{stamp}.log")
    echo(f"[recross] Dagster's full event log: {event_log.path}")

    plan, skipped = plan_main_job(instance, settings, targets, retrievers, echo)
    workers = job_workers(instance)
    if workers > 1 and len(plan) > 1:
        echo(f"[recross] {len(plan)} runs, up to {workers} at once (the {CPU_POOL} pool's "
             f"slots), each on its share of the {usable_cores()} cores")
    done, first_error = 0, None
    with run_starter(instance, resources, workers) as starter:
        step_started: dict[str, float] = {}

        def start(run: PlannedRun, sharing: int) -> Future[RunOutcome]:
            others = sharing - 1
            beside = f" (beside {others} other run{'s' * (others > 1)})" if others else ""
            echo(f"[recross] {run.label}: materializing {', '.join(run.assets)}{beside}")
            step_started[run.label] = time.perf_counter()
            return starter(run, sharing)

        for run, future in run_plan(plan, workers=workers, submit=start):
            crash = future.exception()
            if crash is not None:
                first_error = first_error or f"{run.label} failed: {crash!r}"
                continue
            outcome = future.result()
            error = event_log.append(instance, outcome.run_id)
            if not outcome.success:
                first_error = first_error or (
                    f"{run.label} failed (Dagster run {outcome.run_id}): {error}. Its events, "
                    f"with the traceback, are in {event_log.path} and in the Dagster UI.")
                continue
            if run.label != "report":
                done += len(run.assets) * max(1, len(run.partitions))
            took = time.perf_counter() - step_started[run.label]
            echo(f"[recross] {run.label}: done in {took:.0f}s "
                 f"({(time.perf_counter() - started) / 60:.1f} min since the start)")
    if first_error:
        raise RecrossError(first_error)
    reports = StatePaths(Path(settings.home)).reports / slug(settings.study)
    return MainJobResult(targets=targets, retrievers=retrievers, materialized=done,
                         skipped=skipped, seconds=time.perf_counter() - started,
                         report_markdown=(reports / "table1.md").read_text(encoding="utf-8"),
                         report_dir=reports)
