"""The reranker's settings reach it: head, score (logit / probability), lower-casing, max length,
warm-up and the scoring batch size; the paper profile's reference switches train end to end."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from mining_helpers import TINY, one_torch_thread
from recross.reranking import CrossEncoderScorer, build_cross_encoder, load_cross_encoder
from recross.reranking import cross_encoder as cross_encoder_module
from recross.reranking.cross_encoder import pair_scores, train_cross_encoder

PAIRS = [("Is THE review positive?", "Great Film"), ("summarize", "A dialogue")]


@pytest.mark.parametrize("head", ["one-logit", "two-class"])
def test_scores_are_the_positive_logit_or_its_probability(head):
    model = build_cross_encoder("build:tiny-bert", max_length=24, device="cpu", head=head)
    assert model.num_labels == (2 if head == "two-class" else 1) and model.max_length == 24
    raw = np.asarray(model.predict(PAIRS, activation_fn=torch.nn.Identity()), dtype=np.float32)
    logit = pair_scores(model, PAIRS, batch_size=4, score="logit")
    probability = pair_scores(model, PAIRS, batch_size=4, score="probability")
    if head == "two-class":
        np.testing.assert_allclose(logit, raw[:, 1], rtol=1e-5)
        np.testing.assert_allclose(probability, torch.softmax(torch.tensor(raw), 1)[:, 1],
                                   rtol=1e-5)
    else:
        np.testing.assert_allclose(logit, raw, rtol=1e-5)
        np.testing.assert_allclose(probability, torch.sigmoid(torch.tensor(raw)), rtol=1e-5)
    assert not np.allclose(logit, probability)


def test_scorer_lower_cases_pairs_and_uses_its_batch_size(monkeypatch):
    model = build_cross_encoder("build:tiny-bert", max_length=24, device="cpu")
    calls = []
    real = model.predict

    def spy(pairs, **kwargs):
        calls.append((list(pairs), kwargs["batch_size"]))
        return real(pairs, **kwargs)

    monkeypatch.setattr(model, "predict", spy)
    CrossEncoderScorer(model, batch_size=3, lowercase=True).score(["Q A"], ["Cand B", "C"])
    CrossEncoderScorer(model, batch_size=5).score(["Q A"], ["Cand B"])
    assert calls == [([("q a", "cand b"), ("q a", "c")], 3), ([("Q A", "Cand B")], 5)]


def test_reference_switches_train_a_two_class_lower_cased_reranker(mined, tmp_path, monkeypatch):
    recorded = {}
    real_args = cross_encoder_module.CrossEncoderTrainingArguments

    def record_args(**kwargs):
        recorded.update(kwargs)
        return real_args(**kwargs)

    monkeypatch.setattr(cross_encoder_module, "CrossEncoderTrainingArguments", record_args)
    settings = TINY.reranker.model_copy(update={
        "head": "two-class", "score": "logit", "lowercase": True, "warmup_steps": 100,
        "epochs": 1, "max_length": 48, "score_batch_size": 7})
    with one_torch_thread():
        report = train_cross_encoder(mined.table, base=TINY.models.reranker_base,
                                     settings=settings, output_dir=tmp_path / "reranker",
                                     device="cpu", progress=False)
    assert recorded["warmup_steps"] == 100
    model = load_cross_encoder(report.path, device="cpu", max_length=settings.max_length)
    assert model.num_labels == 2 and model.max_length == 48
    scores = CrossEncoderScorer(model, lowercase=True, score="logit").score(["a"], ["b", "c"])
    assert scores.shape == (1, 2) and np.isfinite(scores).all()


def test_mining_takes_its_loss_batch_size_and_reference_fine_tune(tiny_dagger, tiny_bundle,
                                                                  tmp_path, mine_into,
                                                                  monkeypatch):
    from recross.reranking import mining

    batch_sizes, tunes = [], []
    real_loss, real_tune = mining.mean_loss, mining.finetune_steps
    monkeypatch.setattr(mining, "mean_loss", lambda *a, batch_size, **k: (
        batch_sizes.append(batch_size), real_loss(*a, batch_size=batch_size, **k))[1])
    monkeypatch.setattr(mining, "finetune_steps", lambda *a, **k: (
        tunes.append(k), real_tune(*a, **k))[1])
    mine_into(tiny_dagger, tiny_bundle, tmp_path / "mined", n_tuples=1, loss_batch_size=5,
              finetune_warmup_steps=1, finetune_schedule="linear", finetune_weight_decay=0.01,
              finetune_max_grad_norm=0.1, finetune_label_smoothing=0.1)
    assert batch_sizes and set(batch_sizes) == {5}
    assert {(k["warmup_steps"], k["schedule"], k["weight_decay"], k["max_grad_norm"],
             k["label_smoothing"]) for k in tunes} == {(1, "linear", 0.01, 0.1, 0.1)}
