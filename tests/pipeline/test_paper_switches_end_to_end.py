"""The tiny profile with every reference-code switch of the paper profile turned on runs the
whole method: euclid index, mining with the reference fine-tune, a two-class lower-cased
reranker scored by logits, adaptation with the reference's schedule, loss, batches, answers and
input format, and the reference's scoring."""

from __future__ import annotations

import json

import pytest
from recross.config import deep_merge, load_settings
from recross.models.adaptation import ADAPTED_FILE
from recross.pipeline import (
    adaptation,
    evaluation,
    reranker_training,
    retrieval,
    target_data,
    upstream,
)
from recross.reranking import load_cross_encoder

pytestmark = pytest.mark.slow
TARGET = "super_glue-cb"
SWITCHES = {
    "models": ["input_format"],
    "index": ["upstream_distance"],
    "adaptation": ["lr_schedule", "max_grad_norm", "label_smoothing", "length_grouped_batches",
                   "answer_choice"],
    "mining": ["finetune_warmup_steps", "finetune_schedule", "finetune_weight_decay",
               "finetune_max_grad_norm", "finetune_label_smoothing"],
    "reranker": ["head", "score", "lowercase"],
    "evaluation": ["undouble_predictions", "empty_em_matches"],
}


def paper_switches() -> dict:
    """The paper profile's value of every reference switch (sizes and model names stay tiny)."""
    paper = load_settings("paper", environ={})
    return {section: {key: getattr(getattr(paper, section), key) for key in keys}
            for section, keys in SWITCHES.items()}


def test_tiny_run_with_the_reference_switches_completes(tmp_path, data_dir):
    base = {"home": str(tmp_path / "home"), "data": {"data_dir": str(data_dir)},
            "tracking": {"tracking_uri": f"sqlite:///{tmp_path / 'mlflow.db'}"},
            "retrieval": {"n_query_sets": 1}}
    settings = load_settings("tiny", overrides=deep_merge(base, paper_switches()), environ={})
    assert settings.index.upstream_distance == "euclid" and settings.reranker.head == "two-class"

    pool, _ = upstream.write_pool_table(settings)
    upstream.ensure_upstream_model(settings, pool, progress=False)
    built = upstream.build_pool_index(settings, pool, "upstream", progress=False)
    assert built.collection.endswith("__euclid") and "reference-input" in built.encoder
    reranker_training.mine(settings, pool, progress=False)
    reranker_training.train_reranker(settings, progress=False)
    assert load_cross_encoder(reranker_training.reranker_dir(settings), device="cpu").num_labels == 2

    query_sets = target_data.make_query_sets(settings, TARGET)
    sets = retrieval.retrieve_for_target(settings, pool, target=TARGET, retriever="recross",
                                         query_sets=query_sets)
    assert [len(s) for s in sets] == [settings.retrieval.retrieved_size]
    adapted = adaptation.adapt_for_target(settings, pool, target=TARGET, retriever="recross",
                                          seeds=[qs.seed for qs in query_sets], progress=False)
    params = json.loads((adapted[0].path / ADAPTED_FILE).read_text())["params"]
    assert {k: params[k] for k in ("lr_schedule", "answer_choice", "input_format")} == {
        "lr_schedule": "constant", "answer_choice": "random", "input_format": "reference"}
    test = target_data.test_examples(settings, TARGET)
    table = evaluation.evaluate_for_target(settings, target=TARGET, retriever="recross",
                                           adapted=adapted, test=test, progress=False)
    assert len(table) == 1 and 0.0 <= table.softem.iloc[0] <= 100.0
