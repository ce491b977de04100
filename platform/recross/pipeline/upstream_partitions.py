"""The upstream pool D as per-task partitions: one parquet table per upstream task.

Each upstream task with data here, and each task a user added (`recross upstream add`), is one
partition of the upstream assets, so one task can be added, rebuilt or indexed alone, and a
cluster can build several at once. :func:`read_pool_union` is how every step reads D: the
partitions in a fixed order (the registry's, then the users' tasks by name), so a partition
rebuilt from the same data leaves the pool, its fingerprint and the collections' names as they
were.

    tables/upstream_pool-cap500/ag_news.parquet   one file per partition (cap in the folder name)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from recross.config import Settings
from recross.data import Example, TaskRegistry, UpstreamPool, load_upstream_pool, resolve_data_dir
from recross.data.pool import upstream_file
from recross.errors import DataError
from recross.io import atomic_write_bytes
from recross.paths import StatePaths, slug
from recross.pipeline.upstream_registry import read_user_upstream, user_upstream_tasks

USER_SOURCE = "user upload"  # the ``source`` of a user's task in the pool's metadata


@dataclass(frozen=True)
class PoolPartition:
    """One upstream task's slice of D as written by the ``upstream_pool`` asset."""

    task: str
    examples: list[Example]
    source: str  # the data file it came from, or USER_SOURCE
    path: Path


def data_task_files(settings: Settings) -> dict[str, str | None]:
    """The settings' upstream tasks (default: the registry's "T0") -> the file each is read
    from, None where the task has no data here."""
    data_dir = resolve_data_dir(settings.data.data_dir)
    registry = TaskRegistry.from_data_dir(data_dir)
    chosen = settings.data.upstream_tasks
    tasks = list(chosen) if chosen is not None else list(registry.upstream)
    for task in tasks:
        registry.check(task, role="upstream task")
    return {t: upstream_file(data_dir / t) for t in tasks}


def upstream_partitions(settings: Settings) -> list[str]:
    """Every upstream partition key, in pool order: the data's tasks, then the users'."""
    present = [t for t, file in data_task_files(settings).items() if file]
    return present + [t for t in user_upstream_tasks(settings) if t not in present]


def pool_tables_dir(settings: Settings) -> Path:
    """The ``upstream_pool`` tables' folder, named for the per-task cap they were cut with."""
    cap = settings.data.upstream_cap_per_task
    return StatePaths(Path(settings.home)).tables / ("upstream_pool" + (f"-cap{cap}" if cap else ""))


def partition_table(settings: Settings, task: str) -> Path:
    return pool_tables_dir(settings) / f"{slug(task)}.parquet"


def write_pool_partition(settings: Settings, task: str) -> PoolPartition:
    """Load one upstream task (data file or a user's upload) and store its table."""
    if task in user_upstream_tasks(settings):
        examples, source = read_user_upstream(settings, task), USER_SOURCE
    else:
        if not data_task_files(settings).get(task):
            raise DataError(f"{task!r} is no upstream partition here (no data, and no user task "
                            "of that name). Fix: pick one of "
                            f"{', '.join(upstream_partitions(settings))}.")
        pool = load_upstream_pool(resolve_data_dir(settings.data.data_dir), tasks=[task],
                                  cap_per_task=settings.data.upstream_cap_per_task)
        examples, source = pool.examples, pool.sources[task]
    path = partition_table(settings, task)
    frame = pd.DataFrame.from_records([e.to_record() for e in examples])
    atomic_write_bytes(path, frame.to_parquet(index=False))
    return PoolPartition(task=task, examples=examples, source=source, path=path)


def read_pool_partition(settings: Settings, task: str) -> list[Example]:
    """One partition's examples, as materialized (written first when absent)."""
    path = partition_table(settings, task)
    if not path.is_file():
        return write_pool_partition(settings, task).examples
    return UpstreamPool.from_frame(pd.read_parquet(path)).examples


def read_pool_union(settings: Settings, *, with_user_tasks: bool = True) -> UpstreamPool:
    """D: the union of the partitions in pool order. ``with_user_tasks=False``: the data's tasks
    only, what M is trained and mining is run on."""
    files = data_task_files(settings)
    present = {t: file for t, file in files.items() if file}
    missing = [t for t in files if t not in present]
    users = [t for t in user_upstream_tasks(settings) if t not in present]
    tasks = [*present, *(users if with_user_tasks else [])]
    examples: list[Example] = []
    for task in tasks:
        examples.extend(read_pool_partition(settings, task))
    if not examples:
        raise DataError(f"no upstream examples for tasks {tasks or missing}. Fix: check "
                        "RECROSS_DATA_DIR or run `recross data download`.")
    sources = {t: present.get(t) or USER_SOURCE for t in tasks}
    return UpstreamPool(examples=examples, sources=sources, missing=missing,
                        user_tasks=users if with_user_tasks else [])
