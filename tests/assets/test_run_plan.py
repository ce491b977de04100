"""The main job's run plan: dependency order, the worker limit, one run per Edge collection at a
time, stopping after a failure; and the plan the main job makes of the asset graph."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

import dagster as dg
import pytest
from recross_assets.cpu_share import (
    THREADS_TAG,
    cpu_slots,
    run_threads,
    threads_per_step,
    usable_cores,
)
from recross_assets.index_writers import CPU_POOL
from recross_assets.main_job import job_workers, plan_main_job
from recross_assets.resources import ResourceRecipe, default_resources
from recross_assets.run_plan import PlanError, PlannedRun, RunOutcome, check_plan, run_plan


class Recorder:
    """Runs each planned run on a thread for a few ms and records what overlapped."""

    def __init__(self, fail: str | None = None) -> None:
        self.pool = ThreadPoolExecutor(4)
        self.lock = threading.Lock()
        self.running: list[PlannedRun] = []
        self.started: list[str] = []
        self.sharing: dict[str, int] = {}
        self.overlaps: list[tuple[str, ...]] = []
        self.fail = fail

    def submit(self, run: PlannedRun, sharing: int) -> Future[RunOutcome]:
        with self.lock:
            self.started.append(run.label)
            self.sharing[run.label] = sharing
        return self.pool.submit(self._run, run)

    def _run(self, run: PlannedRun) -> RunOutcome:
        with self.lock:
            self.running.append(run)
            self.overlaps.append(tuple(sorted(r.label for r in self.running)))
        time.sleep(0.02)
        with self.lock:
            self.running.remove(run)
        return RunOutcome(run.label, run.label != self.fail)


def planned(label: str, after: set[str] | None = None, holds: set[str] | None = None
            ) -> PlannedRun:
    return PlannedRun(label, (label,), after=frozenset(after or ()),
                      holds=frozenset(holds or ()))


PLAN = [planned("model"), planned("sbert_index", holds={"sbert"}),
        planned("index", {"model"}, {"upstream"}),
        planned("mining", {"index"}, {"upstream"}),
        planned("none", {"model"}), planned("sbert", {"model", "sbert_index"}, {"sbert"}),
        planned("dagger", {"index"}, {"upstream"}), planned("report",
                                                             {"none", "sbert", "dagger", "mining"})]


def test_runs_start_after_their_inputs_and_two_at_most_at_once():
    recorder = Recorder()
    ended = [run.label for run, future in run_plan(PLAN, workers=2, submit=recorder.submit)
             if future.result().success]
    assert sorted(ended) == sorted(run.label for run in PLAN)
    order = recorder.started
    for run in PLAN:
        assert all(order.index(dep) < order.index(run.label) for dep in run.after)
    assert max(len(overlap) for overlap in recorder.overlaps) == 2
    assert ("model", "sbert_index") in recorder.overlaps  # independent: side by side
    assert recorder.sharing["model"] == recorder.sharing["sbert_index"] == 2
    assert recorder.sharing["report"] == 1  # alone: it may take every core
    for overlap in recorder.overlaps:  # never two runs opening one collection
        held = [c for label in overlap for run in PLAN if run.label == label for c in run.holds]
        assert len(held) == len(set(held)), overlap


def test_one_worker_runs_the_plan_in_order():
    recorder = Recorder()
    list(run_plan(PLAN, workers=1, submit=recorder.submit))
    assert recorder.started == ["model", "sbert_index", "index", "mining", "none", "sbert",
                                "dagger", "report"]


def test_after_a_failure_nothing_new_starts_and_running_runs_finish():
    recorder = Recorder(fail="index")
    seen = {run.label: future.result().success
            for run, future in run_plan(PLAN, workers=2, submit=recorder.submit)}
    assert seen["index"] is False
    assert "mining" not in recorder.started and "report" not in recorder.started
    assert set(seen) == set(recorder.started)  # every started run was reported back


@pytest.mark.parametrize("plan, problem", [
    ([planned("a"), planned("a")], "share a label"),
    ([planned("a", {"b"})], "not in the plan"),
    ([planned("a", {"b"}), planned("b", {"a"})], "wait for each other"),
])
def test_plans_that_cannot_run_are_refused_before_anything_starts(plan, problem):
    recorder = Recorder()
    with pytest.raises(PlanError, match=problem):
        list(run_plan(plan, workers=2, submit=recorder.submit))
    with pytest.raises(PlanError, match=problem):
        check_plan(plan)
    assert recorder.started == []


def test_the_cpu_pool_sets_the_workers_and_each_ones_threads(tmp_path):
    with dg.instance_for_test(temp_dir=str(tmp_path), overrides={
            "concurrency": {"pools": {"default_limit": 2}}}) as instance:
        assert cpu_slots(instance) == 2 and job_workers(instance) == min(2, usable_cores())
        assert threads_per_step(instance) == max(1, usable_cores() // 2)
        assert run_threads(instance, {}) == threads_per_step(instance)
        assert run_threads(instance, {THREADS_TAG: "3"}) == 3  # the main job's own count wins
        instance.event_log_storage.set_concurrency_slots(CPU_POOL, 1)  # the UI's own limit wins
        assert cpu_slots(instance) == 1 and job_workers(instance) == 1
        assert threads_per_step(instance) is None  # one slot: torch's default (physical cores)
    with dg.DagsterInstance.ephemeral() as instance:  # no limit, no process can reopen it
        assert threads_per_step(instance) is None and job_workers(instance) == 1


def test_resources_travel_to_a_worker_as_recipes():
    import pickle

    resources = default_resources(profile="tiny", home="/tmp/h", overrides="{a: 1}")
    recipes = pickle.loads(pickle.dumps({k: ResourceRecipe.of(r) for k, r in resources.items()}))
    rebuilt = {key: recipe.build() for key, recipe in recipes.items()}
    assert rebuilt["recross"].profile.home == "/tmp/h"
    assert rebuilt["recross"].profile.overrides == "{a: 1}"
    assert type(rebuilt["indexes"]) is type(resources["indexes"])


def test_the_main_job_plan_overlaps_what_does_not_depend(tmp_path, tiny_platform_settings):
    from recross.pipeline.upstream_partitions import upstream_partitions
    from recross.retriever_names import RETRIEVERS
    from recross_assets.partitions import register_targets, register_upstream_tasks

    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        register_targets(instance, ["super_glue-cb"])
        register_upstream_tasks(instance, upstream_partitions(tiny_platform_settings))
        plan, skipped = plan_main_job(instance, tiny_platform_settings, ["super_glue-cb"],
                                      list(RETRIEVERS), echo=lambda line: None)
    assert skipped == 0
    runs = {run.label.split(" [")[0]: run for run in plan}

    def waits_for(label: str) -> set[str]:
        return {dep.split(" [")[0] for dep in runs[label].after}

    assert waits_for("upstream_model") == {"upstream_pool"}
    assert waits_for("sbert_index") == {"upstream_pool"}  # beside M's training
    assert waits_for("upstream_index") == {"upstream_pool", "upstream_model"}
    assert runs["distant_supervision"].holds == {"upstream_index"}
    cb = "super_glue-cb x "
    assert waits_for(cb + "none") == {"upstream_model"}
    assert waits_for(cb + "sbert") == {"upstream_model", "sbert_index", cb + "none"}
    assert runs[cb + "sbert"].holds == {"sbert_index"}
    assert waits_for(cb + "recross") == {"upstream_model", "upstream_index", "reranker",
                                         cb + "none"}
    assert runs[cb + "hybrid"].holds == {"hybrid_index", "upstream_index"}
    assert waits_for("report") == set(runs) - {"report"}


def test_a_failed_run_stops_the_job_and_names_its_events(tmp_path, data_dir):
    """M cannot load: its run fails in a worker process, the run beside it (the SBERT index)
    finishes, nothing that reads M starts, and the error names the run and the event log."""
    from recross.config import load_settings
    from recross.errors import RecrossError
    from recross_assets.main_job import run_main_job

    broken = {"models": {"upstream_model": str(tmp_path / "no-such-model")}}
    home = str(tmp_path / "home")  # MLflow's sqlite store too
    settings = load_settings("tiny", overrides={"home": home, **broken,
                                                "data": {"data_dir": str(data_dir)}})
    resources = default_resources(profile="tiny", home=home, overrides=json.dumps(broken))
    lines: list[str] = []
    (tmp_path / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster"), overrides={
            "concurrency": {"pools": {"default_limit": 2}}}) as instance:
        with pytest.raises(RecrossError, match=r"upstream_model failed \(Dagster run") as error:
            run_main_job(settings, instance=instance, resources=resources, echo=lines.append,
                         retrievers=["none", "sbert"])
        assert "main-job-" in str(error.value) and "no-such-model" in str(error.value)
        assert instance.get_materialized_partitions(dg.AssetKey("sbert_index"))
        assert not instance.get_materialized_partitions(dg.AssetKey("query_sets"))
    assert not any("upstream_index" in line for line in lines)
