"""Turning (input, answer) pairs into model batches, the same way for training, adaptation and losses."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from recross.data.examples import Example

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
    sources = tokenizer(list(inputs), max_length=max_input_length, truncation=True)["input_ids"]
    labels = tokenizer(text_target=list(targets), max_length=max_output_length + 1,
                       truncation=True)["input_ids"]
    start = model.config.decoder_start_token_id
    labels = [_fit(ids[1:] if ids and ids[0] == start else ids, max_output_length) for ids in labels]
    return [{"input_ids": src, "labels": lab} for src, lab in zip(sources, labels)]


def _fit(ids: list[int], width: int) -> list[int]:
    """Truncate to ``width`` tokens, keeping the final end-of-sequence token."""
    return ids if len(ids) <= width else ids[:width - 1] + ids[-1:]


def tokenize_examples(tokenizer: PreTrainedTokenizerBase, model: PreTrainedModel,
                      examples: Sequence[Example], *, max_input_length: int,
                      max_output_length: int) -> list[dict[str, list[int]]]:
    return tokenize_pairs(tokenizer, model, [e.input for e in examples],
                          [target_text(e) for e in examples], max_input_length=max_input_length,
                          max_output_length=max_output_length)


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
