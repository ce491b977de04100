"""Keeps the target partitions in step with the registry and the user's tasks folder."""

import dagster as dg
from recross.pipeline.target import known_targets

from recross_assets.partitions import TARGETS
from recross_assets.resources import RecrossResource


@dg.sensor(minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Adds the paper's targets and every `recross task add` task as partitions.")
def target_registry(context: dg.SensorEvaluationContext, recross: RecrossResource):
    known = set(context.instance.get_dynamic_partitions(TARGETS.name))
    new = [t for t in known_targets(recross.settings()) if t not in known]
    if not new:
        return dg.SkipReason("every target is registered")
    return dg.SensorResult(dynamic_partitions_requests=[TARGETS.build_add_request(new)])
