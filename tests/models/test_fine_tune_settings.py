"""Every fine-tuning setting reaches what uses it: optimiser lr and schedule, clipping, label
smoothing in the loss, batching and answer choice (adaptation.*, mining.finetune_*)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
from recross.config import AdaptationSettings
from recross.models import adapt, finetune_steps
from recross.models import finetune as finetune_module
from recross.models.batching import PairCollator, tokenize_answer_options, tokenize_examples
from recross.models.losses import token_loss
from recross.models.training import SampledAnswerDataset, make_trainer


def _trainer(tiny_bundle, examples, tmp_path: Path, **options):
    features = tokenize_examples(tiny_bundle.tokenizer, tiny_bundle.model, examples,
                                 max_input_length=32, max_output_length=8)
    trainer = make_trainer(tiny_bundle.model, tiny_bundle.tokenizer, features,
                           output_dir=tmp_path, device="cpu", learning_rate=6e-6, batch_size=4,
                           seed=0, progress=False, **options)
    trainer.create_optimizer_and_scheduler(num_training_steps=10)
    return trainer


def test_adaptation_lr_reaches_the_optimizer_unchanged_and_stays_constant(tiny_bundle, examples):
    settings = AdaptationSettings(learning_rate=6e-6, batch_size=4, epochs=1,
                                  lr_schedule="constant")
    result = adapt(tiny_bundle, examples, settings, max_input_length=32, max_output_length=8,
                   progress=False, device="cpu")
    assert [entry["learning_rate"] for entry in result.log] == [6e-6] * len(result.log) != []
    decaying = adapt(tiny_bundle, examples, settings.model_copy(update={"lr_schedule": "linear"}),
                     max_input_length=32, max_output_length=8, progress=False, device="cpu")
    rates = [entry["learning_rate"] for entry in decaying.log]
    assert rates[0] == pytest.approx(6e-6) and rates[-1] < rates[0]


def test_trainer_carries_schedule_clip_smoothing_and_batching(tiny_bundle, examples, tmp_path):
    trainer = _trainer(tiny_bundle, examples, tmp_path, lr_schedule="constant",
                       max_grad_norm=0.1, label_smoothing=0.1, sampling="random")
    assert trainer.optimizer.param_groups[0]["lr"] == 6e-6
    assert [trainer.lr_scheduler.lr_lambdas[0](step) for step in (0, 5, 9)] == [1.0] * 3
    assert trainer.args.max_grad_norm == 0.1 and trainer.label_smoothing == 0.1
    assert trainer.args.train_sampling_strategy == "random"
    default = _trainer(tiny_bundle, examples, tmp_path / "d")
    assert default.args.train_sampling_strategy == "group_by_length"
    assert default.lr_scheduler.lr_lambdas[0](9) < 1.0  # linear decay


def test_label_smoothing_reaches_the_trainer_loss(tiny_bundle, examples, tmp_path):
    smoothed = _trainer(tiny_bundle, examples, tmp_path, label_smoothing=0.1)
    plain = _trainer(tiny_bundle, examples, tmp_path / "p")
    features = tokenize_examples(tiny_bundle.tokenizer, tiny_bundle.model, examples[:4],
                                 max_input_length=32, max_output_length=8)
    batch = PairCollator(tiny_bundle.tokenizer.pad_token_id)(features)
    with torch.no_grad():
        logits = tiny_bundle.model(**batch).logits
        got = smoothed.compute_loss(tiny_bundle.model, dict(batch))
        unsmoothed = plain.compute_loss(tiny_bundle.model, dict(batch))
    assert got.item() == pytest.approx(
        token_loss(logits, batch["labels"], label_smoothing=0.1).item(), rel=1e-5)
    assert unsmoothed.item() == pytest.approx(token_loss(logits, batch["labels"]).item(), rel=1e-5)
    assert got.item() != pytest.approx(unsmoothed.item(), rel=1e-4)


def test_token_loss_is_the_reference_label_smoothed_nll_per_token():
    torch.manual_seed(0)
    logits, labels = torch.randn(2, 3, 7), torch.tensor([[1, 2, -100], [4, -100, -100]])
    lprobs = torch.log_softmax(logits, dim=-1)
    mask = labels != -100
    target = labels.clamp(min=0).unsqueeze(-1)
    nll = -lprobs.gather(-1, target).squeeze(-1)[mask].sum()
    smooth = -lprobs.sum(-1)[mask].sum()
    eps = 0.1  # metax/models/utils.py label_smoothed_nll_loss, then divided by the token count
    expected = ((1 - eps) * nll + eps / 7 * smooth) / mask.sum()
    assert token_loss(logits, labels, label_smoothing=eps).item() == pytest.approx(
        expected.item(), rel=1e-6)


def test_mining_fine_tune_takes_warmup_linear_decay_clip_and_smoothing(tiny_bundle, examples,
                                                                      monkeypatch):
    schedulers, clips, smoothing = [], [], []
    real_scheduler, real_loss = finetune_module.get_scheduler, finetune_module.token_loss

    def record_scheduler(*args, **kwargs):
        schedulers.append(real_scheduler(*args, **kwargs))
        return schedulers[-1]

    def record_loss(*args, label_smoothing=0.0):
        smoothing.append(label_smoothing)
        return real_loss(*args, label_smoothing=label_smoothing)

    monkeypatch.setattr(finetune_module, "get_scheduler", record_scheduler)
    monkeypatch.setattr(finetune_module, "token_loss", record_loss)
    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_",
                        lambda params, max_norm: clips.append(max_norm))
    finetune_steps(tiny_bundle, examples, steps=6, lr=3e-5, batch_size=2, max_input_length=32,
                   max_output_length=8, warmup_steps=3, schedule="linear", weight_decay=0.01,
                   max_grad_norm=0.1, label_smoothing=0.1)
    lambdas = [schedulers[0].lr_lambdas[0](step) for step in range(6)]
    assert lambdas[:4] == [0.0, 1 / 3, 2 / 3, 1.0] and lambdas[5] < lambdas[4] < 1.0
    assert schedulers[0].optimizer.param_groups[0]["weight_decay"] == 0.01
    assert clips == [0.1] * 6 and smoothing == [0.1] * 6


def test_random_answer_choice_draws_each_gold_answer_seeded(tiny_bundle, examples):
    multi = [replace(e, answers=("yes", "no", "maybe")) for e in examples[:2]]
    options = tokenize_answer_options(tiny_bundle.tokenizer, tiny_bundle.model, multi,
                                      max_input_length=32, max_output_length=8)
    assert [len(o) for o in options] == [3, 3]
    dataset = SampledAnswerDataset(options, seed=1)
    draws = [tuple(dataset[0]["labels"]) for _ in range(30)]
    assert len(set(draws)) == 3  # over the epochs every gold answer is taught
    again = SampledAnswerDataset(options, seed=1)
    assert [tuple(again[0]["labels"]) for _ in range(30)] == draws  # seeded
