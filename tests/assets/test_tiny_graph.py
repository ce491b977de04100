"""The whole graph materialized for real (tiny profile): one target x every retriever."""

from __future__ import annotations

import dagster as dg
import pytest
from mlflow.tracking import MlflowClient
from recross.retriever_names import RETRIEVERS
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


def test_progress_is_one_line_per_step_and_events_go_to_a_file(first_run):
    """Dagster's DEBUG events stay out of the output (they go to the printed log file); every
    step line says how long it took."""
    from pathlib import Path

    _, lines = first_run
    header = [line for line in lines if "Dagster's full event log:" in line]
    assert len(header) == 1
    log_file = Path(header[0].rsplit(": ", 1)[1])
    events = log_file.read_text(encoding="utf-8")
    assert "Finished execution of step" in events, events[:2000]
    assert not any("DEBUG" in line for line in lines)
    done = [line for line in lines if ": done in " in line]
    assert done and all("min since the start" in line for line in done)


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
    from recross_assets.defs.report import report

    reports_before = len(dagster_instance.fetch_materializations(report.key, limit=100).records)
    lines: list[str] = []
    again = run_main_job(tiny_platform_settings, instance=dagster_instance,
                         resources=tiny_resources, echo=lines.append)
    assert again.materialized == 0 and again.skipped > 0
    assert again.report_markdown == first_run[0].report_markdown
    assert len(dagster_instance.fetch_materializations(report.key, limit=100).records) == (
        reports_before), "nothing was evaluated since the last report: it must be reused"
    assert any("report: nothing evaluated since the last report, reused" in line
               for line in lines)


def test_evaluations_carry_likelihood_ranks_deltas_datasets_and_the_collapse_warning(
        first_run, dagster_instance, tiny_platform_settings):
    key = str(dg.MultiPartitionKey({"target": TARGET, "retriever": "recross"}))
    [record] = dagster_instance.fetch_materializations(dg.AssetRecordsFilter(
        asset_key=dg.AssetKey("evaluations"), asset_partitions=[key]), limit=1).records
    metadata = record.asset_materialization.metadata
    assert {"nll_mean", "rank_acc_mean", "rank_coverage_mean"} <= set(metadata)
    assert "nll" in metadata["per_seed"].value and "top_share" in metadata["per_seed"].value
    assert "nll_vs_none" in metadata["deltas"].value and "[" in metadata["deltas"].value
    # The tiny random M answers alike everywhere: the warning check fails, with WARN severity.
    collapse = _check_evaluation(dagster_instance, "evaluations", "answers_not_collapsed")
    assert not collapse.passed and collapse.severity == dg.AssetCheckSeverity.WARN
    assert "SoftEM cannot show" in collapse.metadata["warnings"].value

    s = tiny_platform_settings
    client = MlflowClient(tracking_uri=s.tracking.tracking_uri)
    experiment = client.get_experiment_by_name(s.tracking.experiment)
    seed_runs = client.search_runs([experiment.experiment_id],
                                   "tags.retriever = 'recross' and tags.seed = '0'")
    parent = client.get_run(seed_runs[0].data.tags["mlflow.parentRunId"])
    for name in ("nll", "rank_acc", "rank_coverage", "delta_nll_vs_none",
                 "delta_nll_vs_none_ci_low", "delta_nll_vs_none_ci_high",
                 "delta_softem_vs_random", "delta_rank_acc_vs_random_ci_high"):
        assert name in parent.data.metrics, name
    assert {"nll", "rank_acc", "top_share", "changed"} <= set(seed_runs[0].data.metrics)
    contexts = {next(t.value for t in d.tags if t.key == "mlflow.data.context")
                for d in seed_runs[0].inputs.dataset_inputs}
    assert contexts == {"training", "evaluation"}

    report = first_run[0].report_markdown
    assert "Table 1: nll, lower is better" in report and "Table 1: rank_acc (%)" in report
    assert "Δ softem vs none" in report and "Δ nll vs random" in report
    assert "Diagnostics:" in report and "SoftEM cannot show" in report


def test_ablate_runs_a_lora_study_through_the_graph_on_the_main_jobs_upstream(
        first_run, tiny_platform_settings, tmp_path, monkeypatch):
    """`recross ablate` at tiny scale (one grid cell, LoRA): run_study files its results in its
    own folder and experiment, and the adapted models are adapters, not checkpoints."""
    import yaml
    from click.testing import CliRunner
    from recross.cli import cli
    from recross.pipeline.layout import TargetPaths
    from recross_assets import ablation

    s = tiny_platform_settings
    config = tmp_path / "lora.yaml"
    config.write_text(yaml.safe_dump({
        "home": str(s.home), "data": {"data_dir": str(s.data.data_dir)},
        "tracking": {"tracking_uri": s.tracking.tracking_uri}, "adaptation": {"mode": "lora"}}))
    monkeypatch.setattr(ablation, "GRID", {"|R|": ("retrieval", "retrieved_size", (16,))})
    out = CliRunner().invoke(cli, ["--profile", "tiny", "--config", str(config), "ablate",
                                   "--target", TARGET, "--query-sets", "1", "--test-sample", "8"],
                             catch_exceptions=False)

    assert out.exit_code == 0, out.output
    assert "|R|=16" in out.output and "all@mean" in out.output
    study = s.model_copy(update={"study": "ablation-retrieved_size-16"})
    adapted = TargetPaths.of(study, TARGET, "recross").adapted(0)
    assert (adapted / "adapter_config.json").is_file()
    assert not list(adapted.glob("model*.safetensors"))  # the adapter alone, not M again
    client = MlflowClient(tracking_uri=s.tracking.tracking_uri)
    [run] = client.search_runs(
        [client.get_experiment_by_name("recross-ablations").experiment_id],
        "tags.seed = '0'")
    params = client.get_run(run.data.tags["mlflow.parentRunId"]).data.params
    assert params["retrieval.retrieved_size"] == "16" and params["adaptation.mode"] == "lora"


def test_independent_runs_ran_side_by_side(first_run, dagster_instance):
    """With two CPU slots, runs that do not read each other's products overlap in time
    (upstream_model and sbert_index both read only the pool), each in a worker process."""
    from recross_assets.cpu_share import THREADS_TAG, usable_cores

    if usable_cores() < 2:
        pytest.skip("one usable core: the main job runs one run at a time")
    _, lines = first_run
    assert any("up to 2 at once" in line for line in lines)
    records = [r for r in dagster_instance.get_run_records()
               if r.dagster_run.tags.get("recross/main_job") == "true"]
    assert all(r.dagster_run.tags.get(THREADS_TAG, "").isdigit() for r in records)
    spans = [(r.start_time, r.end_time) for r in records if r.start_time and r.end_time]
    assert any(a0 < b1 and b0 < a1 for i, (a0, a1) in enumerate(spans)
               for b0, b1 in spans[i + 1:])
