"""The main job: materialize the whole asset graph for the chosen targets and every retriever.

It runs through Dagster (in-process ``materialize`` against the persistent instance in
DAGSTER_HOME), so what it makes shows up in the Dagster UI. Asset partitions already
materialized are skipped, which makes a second run fast; a killed run resumes inside each
step (the library writes every product atomically and skips what is complete).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
from recross.config import Settings
from recross.data import PAPER_TARGETS
from recross.errors import ConfigError, RecrossError
from recross.paths import StatePaths, slug
from recross.pipeline.target import known_targets
from recross.retrieval import RETRIEVERS

from recross_assets.definitions import TARGET_ASSETS, UPSTREAM_ASSETS
from recross_assets.defs.report import report
from recross_assets.partitions import partition_key, register_targets


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
    """The profile's selection; ``None`` or ``RECROSS_TARGETS=all``: every paper target."""
    if settings.targets is None or settings.targets == ["__all__"]:
        return list(PAPER_TARGETS)
    return list(settings.targets)


def _is_materialized(instance: dg.DagsterInstance, asset: dg.AssetsDefinition,
                     partition: str | None) -> bool:
    key = asset.key
    if partition is None:
        return instance.get_latest_materialization_event(key) is not None
    return partition in instance.get_materialized_partitions(key)


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
    all_assets = [*UPSTREAM_ASSETS, *TARGET_ASSETS, report]

    def materialize(selection: list[dg.AssetsDefinition], label: str, partition: str | None) -> None:
        nonlocal done, skipped
        todo = [a for a in selection if not _is_materialized(instance, a, partition)]
        skipped += len(selection) - len(todo)
        if not todo:
            echo(f"[recross] {label}: already materialized, reused")
            return
        echo(f"[recross] {label}: materializing {', '.join(a.key.to_user_string() for a in todo)}")
        step = time.perf_counter()
        result = dg.materialize(all_assets, selection=todo, instance=instance,
                                resources=resources, partition_key=partition,
                                tags={"recross/main_job": "true"})
        if not result.success:
            raise RecrossError(f"{label} failed (run {result.run_id}); see its logs in the Dagster UI.")
        done += len(todo)
        echo(f"[recross] {label}: done in {time.perf_counter() - step:.0f}s")

    for asset in UPSTREAM_ASSETS:
        materialize([asset], asset.key.to_user_string(), None)
    for target in targets:
        for retriever in retrievers:
            key = str(partition_key(target, retriever))
            materialize(TARGET_ASSETS, f"{target} x {retriever}", key)
    echo("[recross] report: materializing")
    dg.materialize(all_assets, selection=[report], instance=instance, resources=resources)
    reports = StatePaths(Path(settings.home)).reports / slug(settings.study)
    return MainJobResult(targets=targets, retrievers=retrievers, materialized=done,
                         skipped=skipped, seconds=time.perf_counter() - started,
                         report_markdown=(reports / "table1.md").read_text(encoding="utf-8"),
                         report_dir=reports)
