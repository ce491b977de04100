"""`recross compare` with the paired deltas, and the datasets of a run, on a real sqlite store."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from click.testing import CliRunner
from mlflow.tracking import MlflowClient
from recross.cli import cli
from recross.config import Settings, load_settings
from recross.tracking import Tracker, compare_table
from recross.tracking.datasets import log_dataset, task_distribution_text
from recross.tracking.queries import fetch_deltas

TARGET = "super_glue-cb"


def _settings(home: Path) -> Settings:
    return load_settings("tiny", overrides={
        "home": str(home), "tracking": {"tracking_uri": f"sqlite:///{home}/mlflow.db"}},
        environ={})


def _log_study(settings: Settings) -> None:
    """Two retrievers as track_partition logs them: seed runs with metrics, parent with deltas."""
    tracker = Tracker(settings)
    parents = {
        "none": {},
        "recross": {"delta_softem_vs_none": 1.5, "delta_softem_vs_none_ci_low": -0.4,
                    "delta_softem_vs_none_ci_high": 3.2, "delta_nll_vs_none": -0.12,
                    "delta_nll_vs_none_ci_low": -0.14, "delta_nll_vs_none_ci_high": -0.10},
    }
    for retriever, deltas in parents.items():
        with tracker.parent_run(name=f"{TARGET}/{retriever}",
                                tags={"target_task": TARGET, "retriever": retriever}) as parent:
            for seed in (0, 1):
                with tracker.seed_run(parent=parent, target_task=TARGET, retriever=retriever,
                                      seed=seed) as run:
                    run.log_metrics({"softem": 40.0 + seed, "em": 30.0, "nll": 2.0 - seed / 10,
                                     "rank_acc": 55.0, "rank_coverage": 100.0})
            parent.log_metrics({"softem": 40.5, **deltas})


def test_compare_prints_every_metric_and_the_deltas_with_intervals(tmp_path: Path) -> None:
    settings = _settings(tmp_path / "home")
    _log_study(settings)
    deltas = fetch_deltas(settings)
    assert set(zip(deltas["retriever"], deltas["metric"], deltas["vs"])) == {
        ("recross", "softem", "none"), ("recross", "nll", "none")}
    table = compare_table(settings)
    assert "Table 1: softem (%)" in table and "Table 1: nll, lower is better" in table
    assert "Table 1: rank_acc (%)" in table
    softem = table.split("Δ softem vs none")[1].split("Δ")[0]
    assert f"| {TARGET} | no difference (+1.50 [-0.40, +3.20]) |" in softem
    assert f"| {TARGET} | -0.12 [-0.14, -0.10] |" in table.split("Δ nll vs none")[1]


def test_recross_compare_command_prints_the_delta_tables(tmp_path: Path, monkeypatch) -> None:
    home = tmp_path / "home"
    _log_study(_settings(home))
    monkeypatch.setenv("RECROSS_HOME", str(home))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{home}/mlflow.db")
    result = CliRunner().invoke(cli, ["--profile", "tiny", "compare"])
    assert result.exit_code == 0, result.output
    assert "Δ nll vs none" in result.output and "-0.12 [-0.14, -0.10]" in result.output


def test_a_retrieved_set_is_a_dataset_of_its_run_with_digest_source_and_tasks(
        tmp_path: Path) -> None:
    settings = _settings(tmp_path / "home")
    tracker = Tracker(settings)
    rows = pd.DataFrame({"example_id": ["samsum|t|a|#1", "ag_news|t|b|#2", "samsum|t|a|#3"],
                         "task": ["samsum", "ag_news", "samsum"], "template": ["a", "b", "a"],
                         "score": [0.9, 0.8, 0.7]})
    digests = []
    for seed, scores in ((0, rows), (1, rows.assign(score=0.1))):
        with tracker.seed_run(parent=None, target_task=TARGET, retriever="recross",
                              seed=seed) as run:
            digests.append(log_dataset(run, scores, name=f"R seed {seed}",
                                       source=str(tmp_path / "seed.parquet"), context="training"))
    assert digests[0] == digests[1]  # the same R is recognisable at a glance
    [logged] = MlflowClient(tracker.uri).get_run(run.run_id).inputs.dataset_inputs
    tags = {tag.key: tag.value for tag in logged.tags}
    assert logged.dataset.digest == digests[1] and logged.dataset.name == "R seed 1"
    assert tags == {"mlflow.data.context": "training",
                    "recross.task_distribution": "samsum 67%, ag_news 33%"}
    assert "seed.parquet" in logged.dataset.source
    many = task_distribution_text(["a"] * 9 + [str(i) for i in range(9)])
    assert many.startswith("a 50%, ") and many.endswith(", 6 6%, other 11%")  # 8 named
