"""The `target_registry` sensor: known targets become partitions once, then each new user task."""

from __future__ import annotations

import dagster as dg
from recross.pipeline.target_registry import known_targets, register_user_task
from recross_assets.partitions import TARGETS
from recross_assets.sensors import target_registry


def test_target_registry_adds_every_known_target_once_then_only_new_user_tasks(
        tiny_resources, tiny_platform_settings, tmp_path):
    settings = tiny_platform_settings
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        def evaluate():
            with dg.build_sensor_context(instance=instance, resources={
                    "recross": tiny_resources["recross"]}) as context:
                return target_registry(context)

        first = evaluate()
        assert isinstance(first, dg.SensorResult)
        [added] = first.dynamic_partitions_requests
        assert added.partitions_def_name == TARGETS.name
        assert list(added.partition_keys) == known_targets(settings)
        assert "super_glue-cb" in added.partition_keys
        instance.add_dynamic_partitions(TARGETS.name, list(added.partition_keys))

        assert isinstance(evaluate(), dg.SkipReason)  # nothing new: no request

        queries = tmp_path / "reviews.txt"
        queries.write_text("Is this review positive? Loved it.\nIs this review positive? Meh.\n")
        register_user_task(settings, "my_reviews", queries)
        third = evaluate()
        assert isinstance(third, dg.SensorResult)
        assert [list(r.partition_keys) for r in third.dynamic_partitions_requests] == \
            [["my_reviews"]]
