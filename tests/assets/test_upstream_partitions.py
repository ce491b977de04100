"""Upstream data as per-task partitions: keys from the registry, the pool as a union of tables,
the build plan per backend, and a user's upstream task end to end (tiny profile)."""

from __future__ import annotations

import json

import dagster as dg
import pytest
from click.testing import CliRunner
from recross.cli import cli
from recross.data import load_upstream_pool
from recross.index import TaskFilter
from recross.pipeline import upstream
from recross.pipeline.indexes import OpenIndexes
from recross.pipeline.upstream_partitions import upstream_partitions, write_pool_partition
from recross.pipeline.upstream_registry import register_user_upstream
from recross_assets.index_writers import CPU_POOL, ENCODING_POOL, index_build_plan
from recross_assets.main_job import missing_ranges, partition_range_tags
from recross_assets.partitions import UPSTREAM_TASKS_NAME, register_upstream_tasks

USER_TASK = "my_reviews"
USER_ROWS = [{"input": f"Review: the gadget number {i} {'works' if i % 2 else 'broke'}. Good?",
              "answers": ["yes" if i % 2 else "no"]} for i in range(5)]


@pytest.fixture
def user_file(tmp_path):
    path = tmp_path / "reviews.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in USER_ROWS))
    return path


def test_partition_keys_are_the_registrys_tasks_with_data_then_the_users(tiny_settings, data_dir,
                                                                         user_file):
    every = upstream_partitions(tiny_settings.model_copy(update={"data": tiny_settings.data.
                                                                 model_copy(update={
                                                                     "upstream_tasks": None})}))
    assert len(every) == 34 and "wiki_hop-original" not in every and "multi_news" not in every
    assert upstream_partitions(tiny_settings) == tiny_settings.data.upstream_tasks
    register_user_upstream(tiny_settings, USER_TASK, user_file)
    assert upstream_partitions(tiny_settings) == [*tiny_settings.data.upstream_tasks, USER_TASK]


def test_the_pool_union_matches_the_single_table_and_keeps_its_fingerprint(tiny_settings,
                                                                          data_dir, user_file):
    s = tiny_settings
    single = load_upstream_pool(data_dir, tasks=s.data.upstream_tasks,
                                cap_per_task=s.data.upstream_cap_per_task)
    union = upstream.read_pool(s)
    assert [e.example_id for e in union.examples] == [e.example_id for e in single.examples]
    before = upstream.pool_fingerprint(union)
    write_pool_partition(s, "sciq")  # rebuilt from the same data
    assert upstream.pool_fingerprint(upstream.read_pool(s)) == before
    register_user_upstream(s, USER_TASK, user_file)
    with_user = upstream.read_pool(s)
    assert with_user.user_tasks == [USER_TASK] and len(with_user) == len(single) + 5
    assert upstream.collection_fingerprint(with_user) == before  # the collections stay
    assert upstream.pool_fingerprint(with_user) != before  # whole-pool caches do not
    assert len(upstream.read_pool(s, with_user_tasks=False)) == len(single)  # what M sees


def test_a_user_task_may_not_shadow_a_data_task(tiny_settings, user_file):
    from recross.errors import DataError

    with pytest.raises(DataError, match="already a task of the data's registry"):
        register_user_upstream(tiny_settings, "sciq", user_file)


def test_missing_partitions_run_as_contiguous_ranges():
    order = ["a", "b", "c", "d", "e"]
    assert missing_ranges(order, ["a", "b", "d"]) == [["a", "b"], ["d"]]
    assert missing_ranges(order, []) == []
    assert partition_range_tags(["a", "b"]) == {"dagster/asset_partition_range_start": "a",
                                                "dagster/asset_partition_range_end": "b"}


def test_edge_and_local_mode_serialise_partition_builds_and_say_why():
    for backend, reason in (("edge", "one writer per collection"), ("local", "one process")):
        plan = index_build_plan(backend)
        assert not plan.parallel and plan.pool == CPU_POOL
        assert plan.backfill_policy.max_partitions_per_run is None  # single run
        assert reason in plan.concurrency and "serialised" in plan.concurrency
    server = index_build_plan("server")
    assert server.parallel and server.pool == ENCODING_POOL
    assert server.backfill_policy.max_partitions_per_run == 1


def test_the_index_assets_show_the_serialisation_reason_in_the_ui():
    from recross_assets.definitions import defs

    for name in ("upstream_index", "sbert_index", "bm25_index", "hybrid_index"):
        asset = defs.get_assets_def(name)
        assert asset.partitions_def.name == UPSTREAM_TASKS_NAME
        assert "Partition builds: serialised: Qdrant Edge" in asset.descriptions_by_key[asset.key]
    assert defs.get_assets_def("upstream_model").partitions_def is None  # depends on them all


def test_downstream_assets_depend_on_every_upstream_partition():
    """retrieved_sets (target x retriever) reads whole indexes: an all-partitions mapping, which
    Dagster's own validation (`dagster definitions validate`) checks."""
    from recross_assets.definitions import defs

    graph = defs.resolve_asset_graph()
    graph.validate_partitions()
    retrieved = dg.AssetKey("retrieved_sets")
    for index in ("upstream_index", "sbert_index", "bm25_index", "hybrid_index"):
        mapping = graph.get_partition_mapping(retrieved, dg.AssetKey(index))
        assert isinstance(mapping, dg.AllPartitionMapping), index


@pytest.mark.slow
def test_a_user_upstream_task_is_indexed_alone_retrievable_and_filterable(
        tiny_platform_settings, tiny_resources, dagster_instance, user_file, monkeypatch,
        platform_home, data_dir, tmp_path):
    from recross_assets.defs.upstream import sbert_index, upstream_index, upstream_model
    from recross_assets.defs.upstream import upstream_pool as pool_asset

    s = tiny_platform_settings
    keys = upstream_partitions(s)
    register_upstream_tasks(dagster_instance, keys)
    graph = [pool_asset, upstream_model, upstream_index, sbert_index]
    for asset in graph:  # the upstream side as the main job builds it: one run per asset
        tags = partition_range_tags(keys) if asset.partitions_def else {}
        assert dg.materialize(graph, selection=[asset], instance=dagster_instance,
                              resources=tiny_resources, tags=tags).success
    event = dagster_instance.get_latest_materialization_event(upstream_index.key)
    assert event.asset_materialization.metadata["points"].value == 12  # its partition's

    for name, value in {"RECROSS_HOME": str(s.home), "RECROSS_PROFILE": "tiny",
                        "RECROSS_DATA_DIR": str(data_dir), "DAGSTER_HOME": str(tmp_path),
                        "MLFLOW_TRACKING_URI": s.tracking.tracking_uri}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr("recross_assets.cli._instance", lambda: dagster_instance)
    runner = CliRunner()
    added = runner.invoke(cli, ["upstream", "add", USER_TASK, "--data", str(user_file)])
    assert added.exit_code == 0, added.output
    assert USER_TASK in dagster_instance.get_dynamic_partitions(UPSTREAM_TASKS_NAME)
    for asset in (pool_asset, upstream_index, sbert_index):
        assert dagster_instance.get_materialized_partitions(asset.key) == {*keys, USER_TASK}
    event = dagster_instance.get_latest_materialization_event(upstream_index.key)
    assert event.asset_materialization.partition == USER_TASK
    assert event.asset_materialization.metadata["written"].value == 5  # only it was encoded

    pool = upstream.read_pool(s)
    with OpenIndexes(s, pool) as indexes:
        handle = indexes.get("upstream")
        assert handle.index.count() == len(pool) == 6 * 12 + 5
        query = handle.encoder.encode([USER_ROWS[0]["input"]])
        only = handle.index.search(query, k=5, filters=TaskFilter(include_tasks=(USER_TASK,)))
        assert {h.task for h in only[0]} == {USER_TASK} and len(only[0]) == 5
        assert {h.template for h in only[0]} == {USER_TASK}
        never = handle.index.search(query, k=77, filters=TaskFilter(exclude_tasks=(USER_TASK,)))
        assert len(never[0]) == 72 and USER_TASK not in {h.task for h in never[0]}

    queries = tmp_path / "queries.txt"
    queries.write_text("\n".join(r["input"] for r in USER_ROWS[:2]) + "\n")
    out = tmp_path / "retrieved.jsonl"
    retrieved = runner.invoke(cli, ["retrieve", "--queries", str(queries), "--name", "probe",
                                    "--retriever", "recross-dagger", "--size", "4",
                                    "--include-task", USER_TASK, "--out", str(out)])
    assert retrieved.exit_code == 0, retrieved.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows and {r["task"] for r in rows} == {USER_TASK}


def test_one_partition_built_alone_warns_that_the_union_is_pending(tmp_path):
    """Each run builds some partitions (one per run on a server): the union check must not
    block downstream assets while other partitions are still to come; it warns with counts."""
    from recross_assets.defs.upstream import sbert_index, upstream_pool
    from recross_assets.resources import default_resources

    resources = default_resources(profile="tiny", home=str(tmp_path / "home"))  # nothing built
    (tmp_path / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
        register_upstream_tasks(instance, ["ag_news"])
        result = dg.materialize([upstream_pool, sbert_index], instance=instance,
                                resources=resources, partition_key="ag_news")
    assert result.success
    [check] = [e.asset_check_evaluation_data for e in result.all_events
               if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    points = check.metadata["collection_points"].value
    assert 0 < points < check.metadata["pool"].value
