"""Partitions: target task x retriever, and upstream task.

Targets are a dynamic dimension so a user's own task (`recross task add`) sits beside the
paper's ten; `register_targets` adds the registry's targets (idempotent) and is called by
`recross run`, by `recross task add`, and by the `target_registry` sensor under `dagster dev`.
`register_upstream_tasks` does the same for the upstream tasks (`recross run`, `recross
upstream add`, the `upstream_registry` sensor).
"""

from __future__ import annotations

import dagster as dg
from recross.retriever_names import RETRIEVERS

TARGETS_NAME = "targets"  # the dynamic dimension, as the instance stores it
TARGETS = dg.DynamicPartitionsDefinition(name=TARGETS_NAME)
RETRIEVER_PARTITIONS = dg.StaticPartitionsDefinition(list(RETRIEVERS))
TARGET_X_RETRIEVER = dg.MultiPartitionsDefinition({"target": TARGETS,
                                                    "retriever": RETRIEVER_PARTITIONS})
# Upstream tasks: the pool table and every index are partitioned by them (the registry's
# tasks with data here, then the ones users add with `recross upstream add`).
UPSTREAM_TASKS_NAME = "upstream_tasks"
UPSTREAM_TASKS = dg.DynamicPartitionsDefinition(name=UPSTREAM_TASKS_NAME)


def partition_key(target: str, retriever: str) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({"target": target, "retriever": retriever})


def _register(instance: dg.DagsterInstance, dimension: str, names: list[str]) -> list[str]:
    known = set(instance.get_dynamic_partitions(dimension))
    new = [n for n in names if n not in known]
    if new:
        instance.add_dynamic_partitions(dimension, new)
    return new


def register_targets(instance: dg.DagsterInstance, names: list[str]) -> list[str]:
    """Add target partitions not yet known to ``instance``; returns the ones added."""
    return _register(instance, TARGETS_NAME, names)


def register_upstream_tasks(instance: dg.DagsterInstance, names: list[str]) -> list[str]:
    """Add upstream-task partitions not yet known to ``instance`` (in pool order, which is the
    order ranged runs follow); returns the ones added."""
    return _register(instance, UPSTREAM_TASKS_NAME, names)
