"""The evaluation step on the tiny profile: it never adapts, scores likelihoods and ranks per
example, computes M's scores once per test sample, and compares each retriever with none."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from recross.config import Settings
from recross.pipeline import baseline as baseline_module
from recross.pipeline import target_data, upstream
from recross.pipeline.adaptation import MissingAdaptedModel, adapt_for_target, find_adapted
from recross.pipeline.comparisons import partition_deltas
from recross.pipeline.evaluation import evaluate_for_target, evaluation_warnings
from recross.pipeline.layout import TargetPaths
from recross.pipeline.logged_evaluation import track_partition
from recross.pipeline.retrieval import retrieve_for_target
from recross.pipeline.target_data import make_query_sets, save_query_sets

pytestmark = pytest.mark.slow
TARGET = "super_glue-cb"


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Settings:
    """M trained (tiny) and the random retriever's sets retrieved; nothing adapted yet."""
    from recross.config import load_settings

    home = tmp_path_factory.mktemp("eval")
    settings = load_settings("tiny", overrides={
        "home": str(home / "home"), "data": {"data_dir": str(data_dir)},
        "tracking": {"tracking_uri": f"sqlite:///{home / 'mlflow.db'}"}}, environ={})
    pool = upstream.read_pool(settings)
    upstream.ensure_upstream_model(settings, pool, progress=False)
    for retriever in ("none", "random"):
        sets = make_query_sets(settings, TARGET)
        save_query_sets(TargetPaths.of(settings, TARGET, retriever).query_sets, sets)
        retrieve_for_target(settings, pool, target=TARGET, retriever=retriever, query_sets=sets)
    return settings


def test_evaluation_fails_naming_the_missing_adapted_models_and_trains_nothing(prepared):
    pool = upstream.read_pool(prepared)
    with pytest.raises(MissingAdaptedModel, match=r"random: no current adapted model for seed 0 "
                                                  r".*seed 1 .*Fix: adapt"):
        track_partition(prepared, pool, target=TARGET, retriever="random", progress=False)
    assert not TargetPaths.of(prepared, TARGET, "random").adapted(0).exists()


def test_scores_per_example_and_m_is_scored_once_for_every_retriever(prepared, monkeypatch):
    pool = upstream.read_pool(prepared)
    seeds = [0, 1]
    adapted = adapt_for_target(prepared, pool, target=TARGET, retriever="random", seeds=seeds,
                               progress=False)
    assert [a.seed for a in find_adapted(prepared, pool, target=TARGET, retriever="random",
                                         seeds=seeds)] == seeds
    test = target_data.test_examples(prepared, TARGET)
    calls: list[int] = []
    real = baseline_module.run_model_on_test
    monkeypatch.setattr(baseline_module, "run_model_on_test",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    none = evaluate_for_target(prepared, target=TARGET, retriever="none",
                               adapted=find_adapted(prepared, pool, target=TARGET,
                                                    retriever="none", seeds=seeds),
                               test=test, progress=False)
    table = evaluate_for_target(prepared, target=TARGET, retriever="random", adapted=adapted,
                                test=test, progress=False)
    assert len(calls) == 1  # M ran once, for both partitions
    frame = pd.read_parquet(TargetPaths.of(prepared, TARGET, "random").predictions(0))
    assert {"prediction", "softem", "nll", "rank_prediction", "rank_correct", "changed"} <= set(
        frame.columns)
    assert frame["nll"].gt(0).all()
    assert 0 < table["rank_coverage"].iloc[0] <= 100
    assert set(table.columns) >= {"nll", "rank_acc", "rank_coverage", "top_share", "changed"}
    assert "changed" not in none.columns or none["changed"].isna().all()
    deltas = partition_deltas(prepared, target=TARGET, retriever="random", seeds=seeds,
                              test=test)
    assert {"delta_nll_vs_none", "delta_nll_vs_none_ci_low", "delta_softem_vs_none_ci_high",
            "delta_rank_acc_vs_none"} <= set(deltas)
    assert deltas["delta_nll_vs_none_ci_low"] <= deltas["delta_nll_vs_none"] \
        <= deltas["delta_nll_vs_none_ci_high"]
    # The tiny random M answers the same thing everywhere: the check must say so.
    assert any("of super_glue-cb's inputs: SoftEM cannot show" in w
               for w in evaluation_warnings(prepared, none))


def test_a_study_that_logs_no_models_keeps_each_seeds_metrics_in_mlflow(prepared):
    """``tracking.log_models: false`` (pretend studies): runs and metrics stay, checkpoints do not."""
    from mlflow import MlflowClient

    settings = prepared.model_copy(deep=True)
    settings.tracking.log_models = False
    settings.tracking.experiment = "no-models"
    pool = upstream.read_pool(settings)
    seeds = [0, 1]
    adapt_for_target(settings, pool, target=TARGET, retriever="random", seeds=seeds,
                     progress=False)
    summary = track_partition(settings, pool, target=TARGET, retriever="random", progress=False)
    client = MlflowClient(settings.tracking.tracking_uri)
    experiment = client.get_experiment_by_name("no-models")
    seed_runs = client.search_runs([experiment.experiment_id],
                                   filter_string=f"tags.mlflow.parentRunId = '{summary.parent_run_id}'")
    assert sorted(int(run.data.tags["seed"]) for run in seed_runs) == seeds
    assert all("softem" in run.data.metrics and "nll" in run.data.metrics for run in seed_runs)
    assert client.search_logged_models([experiment.experiment_id]) == []
