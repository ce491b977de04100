"""The whole graph materialized for real (tiny profile): one target x every retriever."""

from __future__ import annotations

import dagster as dg
import pytest
from mlflow.tracking import MlflowClient
from recross.retrieval import RETRIEVERS
from recross_assets.main_job import run_main_job

pytestmark = pytest.mark.slow
TARGET = "super_glue-cb"


@pytest.fixture(scope="module")
def first_run(tiny_platform_settings, tiny_resources, dagster_instance):
    lines: list[str] = []
    result = run_main_job(tiny_platform_settings, instance=dagster_instance,
                          resources=tiny_resources, echo=lines.append)
    return result, lines


def test_every_partition_and_the_report_are_materialized(first_run, dagster_instance):
    result, lines = first_run
    assert result.targets == [TARGET] and result.retrievers == list(RETRIEVERS)
    for asset in ("query_sets", "retrieved_sets", "adapted_models", "evaluations"):
        done = dagster_instance.get_materialized_partitions(dg.AssetKey(asset))
        assert {str(dg.MultiPartitionKey({"target": TARGET, "retriever": r}))
                for r in RETRIEVERS} <= done
    assert dagster_instance.get_latest_materialization_event(dg.AssetKey("report"))
    assert "all@mean" in result.report_markdown
    assert (result.report_dir / "task_shares.png").stat().st_size > 1000
    assert any("upstream_model" in line for line in lines)


def test_blocking_asset_checks_all_passed(first_run, dagster_instance):
    checks = [("upstream_index", "point_count_equals_pool"), ("sbert_index", "point_count_equals_pool"),
              ("retrieved_sets", "size_is_R"), ("retrieved_sets", "no_target_leakage"),
              ("evaluations", "softem_in_range")]
    for asset, name in checks:
        assert _check_evaluation(dagster_instance, asset, name).passed, (asset, name)
    # The reranker's check only warns (a reranker at chance does not corrupt retrieval); the tiny
    # random model's 3 mined tuples cannot be expected to beat chance, but the check must run.
    reranker_check = _check_evaluation(dagster_instance, "reranker", "heldout_accuracy_above_chance")
    assert "heldout_pairwise_accuracy" in reranker_check.metadata


def _check_evaluation(instance, asset: str, name: str):
    key = dg.AssetCheckKey(dg.AssetKey(asset), name)
    record = instance.event_log_storage.get_latest_asset_check_execution_by_key([key])
    return record[key].event.dagster_event.event_specific_data


def test_mlflow_has_one_run_per_seed_and_retriever_with_config_params(first_run,
                                                                      tiny_platform_settings):
    s = tiny_platform_settings
    client = MlflowClient(tracking_uri=s.tracking.tracking_uri)
    experiment = client.get_experiment_by_name(s.tracking.experiment)
    runs = client.search_runs([experiment.experiment_id], "tags.seed != ''", max_results=500)
    seen = {(r.data.tags["retriever"], r.data.tags["seed"]) for r in runs}
    assert seen == {(ret, str(seed)) for ret in RETRIEVERS
                    for seed in range(s.retrieval.n_query_sets)}
    for run in runs:
        assert run.data.tags["target_task"] == TARGET
        assert 0.0 <= run.data.metrics["softem"] <= 100.0 and "em" in run.data.metrics
        assert run.data.tags["mlflow.parentRunId"]
    parent = client.get_run(runs[0].data.tags["mlflow.parentRunId"])
    assert parent.data.params["retrieval.retrieved_size"] == str(s.retrieval.retrieved_size)
    assert parent.data.params["adaptation.learning_rate"] == str(s.adaptation.learning_rate)
    assert parent.data.tags["dagster_run_id"]


def test_second_run_reuses_everything(first_run, tiny_platform_settings, tiny_resources,
                                      dagster_instance):
    again = run_main_job(tiny_platform_settings, instance=dagster_instance,
                         resources=tiny_resources, echo=lambda _: None)
    assert again.materialized == 0 and again.skipped > 0
    assert again.report_markdown == first_run[0].report_markdown
