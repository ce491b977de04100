"""A step whose input was never produced fails with the library's message plus the asset to
materialize: the library speaks of products, only the asset layer names Dagster assets."""

from __future__ import annotations

import dagster as dg
import pytest
from recross.errors import MissingProductError
from recross.pipeline.target_data import load_query_sets
from recross_assets.definitions import TARGET_ASSETS
from recross_assets.defs.targets import retrieved_sets
from recross_assets.partitions import TARGETS, partition_key


def test_library_message_names_the_product_not_an_asset(tmp_path) -> None:
    with pytest.raises(MissingProductError) as caught:
        load_query_sets(tmp_path / "query_sets.json")
    assert caught.value.product == "query_sets"
    assert "asset" not in str(caught.value) and "Dagster" not in str(caught.value)


def test_asset_failure_names_the_asset_to_materialize(tiny_resources, tmp_path) -> None:
    key = str(partition_key("super_glue-cb", "random"))
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        instance.add_dynamic_partitions(TARGETS.name, ["super_glue-cb"])
        result = dg.materialize(TARGET_ASSETS, selection=[retrieved_sets], instance=instance,
                                resources=tiny_resources, partition_key=key,
                                raise_on_error=False)
        failures = [e for e in result.all_events if e.is_step_failure]
    assert not result.success and failures
    message = failures[0].step_failure_data.user_failure_data.description
    assert "no query sets" in message
    assert f"In Dagster: materialize the query_sets asset for partition {key} first" in message
