"""Turning (input, answer) pairs into model batches, the same way for training, adaptation and losses."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from recross.data.examples import Example
from recross.models.input_format import formatted

IGNORE_INDEX = -100  # label positions the loss skips (padding)


def target_text(example: Example) -> str:
    """The answer an upstream example teaches: its first gold answer (BART0's convention)."""
    return example.answers[0] if example.answers else ""


def tokenize_pairs(tokenizer: PreTrainedTokenizerBase, model: PreTrainedModel,
                   inputs: Sequence[str], targets: Sequence[str], *, max_input_length: int,
                   max_output_length: int) -> list[dict[str, list[int]]]:
    """Unpadded ``input_ids``/``labels`` per pair, truncated to the given lengths.

    A label sequence never begins with the decoder's start token (BERT tokenizers prepend [CLS],
    which the built models also use to start decoding), so the model is not taught to repeat it.
    """
    sources = tokenize_inputs(tokenizer, model, inputs, max_length=max_input_length)
    labels = tokenize_targets(tokenizer, model, targets, max_output_length=max_output_length)
    return [{"input_ids": src, "labels": lab} for src, lab in zip(sources, labels)]


def tokenize_inputs(tokenizer: PreTrainedTokenizerBase, model: PreTrainedModel,
                    inputs: Sequence[str], *, max_length: int) -> list[list[int]]:
    """Input ids of each text as ``model`` is fed them (its input format), truncated."""
    return tokenizer(formatted(model, inputs), max_length=max_length,
                     truncation=True)["input_ids"]


def tokenize_targets(tokenizer: PreTrainedTokenizerBase, model: PreTrainedModel,
                     targets: Sequence[str], *, max_output_length: int) -> list[list[int]]:
    """Label ids of each answer as :func:`tokenize_pairs` makes them (no decoder start token)."""
    labels = tokenizer(text_target=formatted(model, targets), max_length=max_output_length + 1,
                       truncation=True)["input_ids"]
    start = model.config.decoder_start_token_id
    return [_fit(ids[1:] if ids and ids[0] == start else ids, max_output_length) for ids in labels]


def _fit(ids: list[int], width: int) -> list[int]:
    """Truncate to ``width`` tokens, keeping the final end-of-sequence token."""
    return ids if len(ids) <= width else ids[:width - 1] + ids[-1:]


def tokenize_examples(tokenizer: PreTrainedTokenizerBase, model: PreTrainedModel,
                      examples: Sequence[Example], *, max_input_length: int,
                      max_output_length: int) -> list[dict[str, list[int]]]:
    return tokenize_pairs(tokenizer, model, [e.input for e in examples],
                          [target_text(e) for e in examples], max_input_length=max_input_length,
                          max_output_length=max_output_length)


def tokenize_answer_options(tokenizer: PreTrainedTokenizerBase, model: PreTrainedModel,
                            examples: Sequence[Example], *, max_input_length: int,
                            max_output_length: int) -> list[list[dict[str, list[int]]]]:
    """Per example, one tokenized pair per gold answer (an example without answers: one, "")."""
    answers = [list(e.answers) or [""] for e in examples]
    flat = tokenize_pairs(tokenizer, model, [e.input for e, a in zip(examples, answers) for _ in a],
                          [answer for a in answers for answer in a],
                          max_input_length=max_input_length, max_output_length=max_output_length)
    options, start = [], 0
    for a in answers:
        options.append(flat[start:start + len(a)])
        start += len(a)
    return options


class PairCollator:
    """Pads a list of tokenized pairs: inputs with the pad id, labels with ``IGNORE_INDEX``."""

    def __init__(self, pad_token_id: int) -> None:
        self.pad_token_id = pad_token_id

    def __call__(self, features: Sequence[dict[str, list[int]]]) -> dict[str, torch.Tensor]:
        width = max(len(f["input_ids"]) for f in features)
        label_width = max(len(f["labels"]) for f in features)
        input_ids = torch.full((len(features), width), self.pad_token_id, dtype=torch.long)
        attention = torch.zeros((len(features), width), dtype=torch.long)
        labels = torch.full((len(features), label_width), IGNORE_INDEX, dtype=torch.long)
        for row, feature in enumerate(features):
            n, m = len(feature["input_ids"]), len(feature["labels"])
            input_ids[row, :n] = torch.tensor(feature["input_ids"])
            attention[row, :n] = 1
            labels[row, :m] = torch.tensor(feature["labels"])
        return {"input_ids": input_ids, "attention_mask": attention, "labels": labels}


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Index batches of similar length (longest first), so padding is minimal."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
