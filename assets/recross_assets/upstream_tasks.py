"""Add a user's upstream task to the Dagster graph: its partition, its pool table, its points.

Only the new partition is built: its ``upstream_pool`` table, then its points in every index
that already holds the other partitions (an index not built yet gets it with the rest on the
next `recross run`). M is not retrained and no other partition is touched.
"""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg
from recross.config import Settings
from recross.errors import DataError
from recross.pipeline.upstream_partitions import upstream_partitions

from recross_assets.defs.upstream import INDEX_ASSETS, upstream_model, upstream_pool
from recross_assets.partitions import register_upstream_tasks


@dataclass
class AddedUpstreamTask:
    name: str
    registered: bool  # False: the partition existed already (its data was replaced)
    built: list[str]  # assets whose partition ``name`` was materialized
    run_id: str


def add_upstream_partition(settings: Settings, name: str, *, instance: dg.DagsterInstance,
                           resources: dict[str, object]) -> AddedUpstreamTask:
    """Register ``name`` (already stored by ``register_user_upstream``) as a partition and
    materialize it in ``upstream_pool`` and in each index that has been built before."""
    if name not in upstream_partitions(settings):
        raise DataError(f"{name!r} is not stored as an upstream task here. Fix: store it first "
                        f"(`recross upstream add {name} --data FILE`).")
    registered = bool(register_upstream_tasks(instance, [name]))
    built = [a for a in INDEX_ASSETS if instance.get_materialized_partitions(a.key)]
    selection = [upstream_pool, *built]
    result = dg.materialize([upstream_pool, upstream_model, *INDEX_ASSETS], selection=selection,
                            instance=instance, resources=resources, partition_key=name,
                            tags={"recross/upstream_add": name})
    return AddedUpstreamTask(name=name, registered=registered,
                             built=[a.key.to_user_string() for a in selection],
                             run_id=result.run_id)
