"""The main job: materialize the whole asset graph for the chosen targets and every retriever.

It runs through Dagster (in-process ``materialize`` against the persistent instance in
DAGSTER_HOME), so what it makes shows up in the Dagster UI. Asset partitions already
materialized are skipped, which makes a second run fast; a killed run resumes inside each
step (the library writes every product atomically and skips what is complete).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
from recross.config import Settings
from recross.data import PAPER_TARGETS
from recross.data.registry import expand_targets
from recross.errors import ConfigError, RecrossError
from recross.paths import StatePaths, slug
from recross.pipeline.target_registry import known_targets
from recross.pipeline.upstream_partitions import upstream_partitions
from recross.retriever_names import RETRIEVERS

from recross_assets.definitions import LEXICAL_INDEX_ASSETS, TARGET_ASSETS, UPSTREAM_ASSETS
from recross_assets.defs.report import report
from recross_assets.defs.targets import evaluations
from recross_assets.defs.upstream import LEXICAL_INDEXES
from recross_assets.partitions import (
    UPSTREAM_TASKS_NAME,
    partition_key,
    register_targets,
    register_upstream_tasks,
)

# Dagster's console logger prints every DEBUG event of a run; the main job prints one line per
# step instead and keeps the events in a file (EventLog). Warnings and errors still show.
QUIET_CONSOLE = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


@dataclass
class EventLog:
    """The events of every run the main job starts, appended to one text file as they end."""

    path: Path

    def append(self, instance: dg.DagsterInstance, run_id: str) -> str | None:
        """Write the run's events; returns the first error's message (None: no error)."""
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


def run_main_job(settings: Settings, *, instance: dg.DagsterInstance,
                 resources: dict[str, object], echo: Callable[[str], None] = print,
                 retrievers: Sequence[str] | None = None) -> MainJobResult:
    """Materialize upstream assets, then every target x retriever partition, then the report."""
    started = time.perf_counter()
    targets = chosen_targets(settings)
    retrievers = list(retrievers or settings.retrievers)
    unknown = [r for r in retrievers if r not in RETRIEVERS]
    if unknown:
        raise ConfigError(f"unknown retrievers {unknown}. Fix: choose from {', '.join(RETRIEVERS)}.")
    register_targets(instance, known_targets(settings))
    done = skipped = 0
    all_assets = [*UPSTREAM_ASSETS, *LEXICAL_INDEX_ASSETS, *TARGET_ASSETS, report]
    stamp = time.strftime("%Y%m%d-%H%M%S")
    event_log = EventLog(StatePaths(Path(settings.home)).logs / f"main-job-{stamp}.log")
    echo(f"[recross] Dagster's full event log: {event_log.path}")

    def run(selection: list[dg.AssetsDefinition], label: str, partition: str | None,
            partitions: Sequence[str] = ()) -> None:
        result = dg.materialize(all_assets, selection=selection, instance=instance,
                                resources=resources, partition_key=partition,
                                tags={"recross/main_job": "true",
                                      **partition_range_tags(partitions)}, raise_on_error=False,
                                run_config=QUIET_CONSOLE)
        error = event_log.append(instance, result.run_id)
        if not result.success:
            raise RecrossError(f"{label} failed (Dagster run {result.run_id}): {error}. Its "
                               f"events, with the traceback, are in {event_log.path} and in the "
                               "Dagster UI.")

    def materialize(selection: list[dg.AssetsDefinition], label: str, partition: str | None,
                    *, partitions: Sequence[str] = ()) -> None:
        """One run: ``partition``, or the contiguous range ``partitions`` (first to last)."""
        nonlocal done, skipped
        todo = [a for a in selection if partitions or not _is_materialized(instance, a, partition)]
        skipped += len(selection) - len(todo)
        if not todo:
            echo(f"[recross] {label}: already materialized, reused")
            return
        echo(f"[recross] {label}: materializing {', '.join(a.key.to_user_string() for a in todo)}")
        step = time.perf_counter()
        run(todo, label, partition, partitions)
        done += len(todo) * max(1, len(partitions))
        echo(f"[recross] {label}: done in {time.perf_counter() - step:.0f}s "
             f"({(time.perf_counter() - started) / 60:.1f} min since the start)")

    upstream = upstream_partitions(settings)
    register_upstream_tasks(instance, upstream)

    def materialize_upstream(asset: dg.AssetsDefinition) -> None:
        """Every upstream partition not yet materialized, in as few runs as the instance's
        partition order allows (one, normally): a run per partition costs seconds each."""
        nonlocal skipped
        label = asset.key.to_user_string()
        if asset.partitions_def is None:
            materialize([asset], label, None)
            return
        have = instance.get_materialized_partitions(asset.key)
        skipped += sum(1 for k in upstream if k in have)
        ranges = missing_ranges(instance.get_dynamic_partitions(UPSTREAM_TASKS_NAME),
                                [k for k in upstream if k not in have])
        if not ranges:
            echo(f"[recross] {label}: {len(upstream)} upstream partitions already "
                 "materialized, reused")
        for keys in ranges:
            materialize([asset], f"{label} [{len(keys)} upstream partitions]", None,
                        partitions=keys)

    lexical = [a for a in LEXICAL_INDEX_ASSETS
               if any(a in LEXICAL_INDEXES.get(r, []) for r in retrievers)]
    for asset in [*UPSTREAM_ASSETS, *lexical]:
        materialize_upstream(asset)
    for target in targets:
        for retriever in retrievers:
            key = str(partition_key(target, retriever))
            materialize(TARGET_ASSETS, f"{target} x {retriever}", key)
    if _report_is_current(instance, settings):
        echo("[recross] report: nothing evaluated since the last report, reused")
    else:
        echo("[recross] report: materializing")
        run([report], "report", None)
    reports = StatePaths(Path(settings.home)).reports / slug(settings.study)
    return MainJobResult(targets=targets, retrievers=retrievers, materialized=done,
                         skipped=skipped, seconds=time.perf_counter() - started,
                         report_markdown=(reports / "table1.md").read_text(encoding="utf-8"),
                         report_dir=reports)
