"""How many CPU-heavy steps run at once, and how many threads each one gets.

The instance's ``recross_cpu_heavy`` pool sets the first (dagster.yaml). With several slots each
heavy step runs torch on an equal share of the cores, so two steps never put four threads on two
cores (on a loaded machine a two-thread team waits for its second thread at every op); with one,
torch keeps its own default. The main job's worker processes know better: each run is tagged
with the cores it may use (``THREADS_TAG``), all of them for a run that runs alone.
"""

from __future__ import annotations

import os

import dagster as dg

from recross_assets.index_writers import CPU_POOL

THREADS_TAG = "recross/threads"  # a run's torch threads, set by the main job


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask, which a container may narrow)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def cpu_slots(instance: dg.DagsterInstance) -> int | None:
    """Heavy steps allowed at once: the pool's own limit when one was set (UI, `dagster instance
    concurrency set`), else dagster.yaml's default; None when the instance sets no limit."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return None
    for pool in storage.get_pool_limits():
        if pool.name == CPU_POOL and not pool.from_default:
            return max(pool.limit, 1)
    return instance.get_concurrency_config().pool_config.default_pool_limit


def threads_per_step(instance: dg.DagsterInstance) -> int | None:
    """The cores divided among the pool's slots (at least one). None, torch's own default (its
    count of physical cores), for one slot or no limit: nothing to share then."""
    slots = cpu_slots(instance)
    return max(1, usable_cores() // slots) if slots and slots > 1 else None


def run_threads(instance: dg.DagsterInstance, tags: dict[str, str]) -> int | None:
    """A run's threads: its ``THREADS_TAG`` when the main job set one, else the pool's share."""
    tagged = tags.get(THREADS_TAG, "")
    return int(tagged) if tagged.isdigit() and int(tagged) > 0 else threads_per_step(instance)
