"""Per-target partitions: target task x retriever.

Targets are a dynamic dimension so a user's own task (`recross task add`) sits beside the
paper's ten; `register_targets` adds the registry's targets (idempotent) and is called by
`recross run`, by `recross task add`, and by the `target_registry` sensor under `dagster dev`.
"""

from __future__ import annotations

import dagster as dg
from recross.retrieval import RETRIEVERS

TARGETS = dg.DynamicPartitionsDefinition(name="targets")
RETRIEVER_PARTITIONS = dg.StaticPartitionsDefinition(list(RETRIEVERS))
TARGET_X_RETRIEVER = dg.MultiPartitionsDefinition({"target": TARGETS,
                                                    "retriever": RETRIEVER_PARTITIONS})


def partition_key(target: str, retriever: str) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({"target": target, "retriever": retriever})


def register_targets(instance: dg.DagsterInstance, names: list[str]) -> list[str]:
    """Add target partitions not yet known to ``instance``; returns the ones added."""
    known = set(instance.get_dynamic_partitions(TARGETS.name))
    new = [n for n in names if n not in known]
    if new:
        instance.add_dynamic_partitions(TARGETS.name, new)
    return new
