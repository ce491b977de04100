"""Retrieval through Dagster on a target that sits in the tiny pool (ag_news): launchpad filters
set through run config reach the retriever, and without them the blocking leakage check fails
and keeps the partition from being adapted."""

from __future__ import annotations

import dagster as dg
import pandas as pd
import pytest
from recross.pipeline.layout import TargetPaths
from recross_assets.defs.targets import adapted_models, query_sets, retrieved_sets
from recross_assets.partitions import TARGETS
from recross_assets.resources import ProfileResource, RecrossResource

pytestmark = pytest.mark.slow
TARGET = "ag_news"  # a pretend-target that the tiny profile keeps in its upstream pool


@pytest.fixture(scope="module")
def instance(dagster_instance):
    dagster_instance.add_dynamic_partitions(TARGETS.name, [TARGET])
    return dagster_instance


def _partition(retriever: str) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({"target": TARGET, "retriever": retriever})


def _check(instance, name: str):
    key = dg.AssetCheckKey(dg.AssetKey("retrieved_sets"), name)
    record = instance.event_log_storage.get_latest_asset_check_execution_by_key([key])[key]
    return record.event.dagster_event.event_specific_data


def test_launchpad_filters_set_through_run_config_reach_the_retriever(
        instance, tiny_resources, tiny_platform_settings):
    excluded = [TARGET, "sciq"]
    result = dg.materialize([query_sets, retrieved_sets], instance=instance,
                            resources=tiny_resources, partition_key=str(_partition("random")),
                            run_config={"ops": {"retrieved_sets": {
                                "config": {"exclude_tasks": excluded}}}})

    assert result.success
    paths = TargetPaths.of(tiny_platform_settings, TARGET, "random")
    tasks = {t for seed in range(tiny_platform_settings.retrieval.n_query_sets)
             for t in pd.read_parquet(paths.retrieved(seed))["task"]}
    assert tasks and not tasks & set(excluded)
    assert _check(instance, "no_target_leakage").passed
    [materialization] = result.asset_materializations_for_node("retrieved_sets")
    assert materialization.metadata["filter.exclude_tasks"].value == ",".join(excluded)


def test_a_target_in_the_pool_fails_the_blocking_leakage_check_and_is_not_adapted(
        instance, tiny_resources):
    """With the library's own guard off (retrieval.exclude_target_task), random retrieval draws
    ag_news examples for ag_news: the check must catch it and block adaptation."""
    tiny = tiny_resources["recross"]
    leaky = RecrossResource(profile=ProfileResource(
        profile="tiny", home=tiny.profile.home,
        overrides="{retrieval: {exclude_target_task: false}}"), qdrant=tiny.qdrant,
        mlflow=tiny.mlflow)
    result = dg.materialize([query_sets, retrieved_sets, adapted_models], instance=instance,
                            resources={**tiny_resources, "recross": leaky},
                            partition_key=str(_partition("random")), raise_on_error=False)

    leakage = _check(instance, "no_target_leakage")
    assert not leakage.passed
    assert leakage.metadata["target_examples_retrieved"].value > 0
    assert not result.success
    started = {e.step_key for e in result.all_events if e.event_type_value == "STEP_START"}
    assert "adapted_models" not in started  # blocked, not merely failed
