"""Keeps the target and upstream-task partitions in step with the registry and the user's
tasks folders."""

import dagster as dg
from recross.pipeline.target_registry import known_targets
from recross.pipeline.upstream_partitions import upstream_partitions

from recross_assets.partitions import TARGETS, TARGETS_NAME, UPSTREAM_TASKS, UPSTREAM_TASKS_NAME
from recross_assets.resources import RecrossResource


@dg.sensor(minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Adds the paper's targets and every `recross task add` task as partitions.")
def target_registry(context: dg.SensorEvaluationContext, recross: RecrossResource):
    known = set(context.instance.get_dynamic_partitions(TARGETS_NAME))
    new = [t for t in known_targets(recross.settings()) if t not in known]
    if not new:
        return dg.SkipReason("every target is registered")
    return dg.SensorResult(dynamic_partitions_requests=[TARGETS.build_add_request(new)])


@dg.sensor(minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Adds the data's upstream tasks and every `recross upstream add` task as "
                       "partitions of the pool and the indexes.")
def upstream_registry(context: dg.SensorEvaluationContext, recross: RecrossResource):
    known = set(context.instance.get_dynamic_partitions(UPSTREAM_TASKS_NAME))
    new = [t for t in upstream_partitions(recross.settings()) if t not in known]
    if not new:
        return dg.SkipReason("every upstream task is registered")
    return dg.SensorResult(dynamic_partitions_requests=[UPSTREAM_TASKS.build_add_request(new)])
