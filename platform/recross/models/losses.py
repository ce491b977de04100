"""Losses: the training loss of every fine-tune, and how well a model fits labelled examples
(mining's held-out measure, METHOD.md Algorithm 1)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from recross.data.examples import Example
from recross.models.batching import (
    IGNORE_INDEX,
    PairCollator,
    length_sorted_batches,
    tokenize_examples,
)
from recross.models.loading import Seq2SeqBundle


def token_loss(logits: torch.Tensor, labels: torch.Tensor, *,
               label_smoothing: float = 0.0) -> torch.Tensor:
    """Mean over answer tokens of the (label-smoothed) negative log-likelihood.

    With ``label_smoothing`` epsilon: ``(1 - eps) * nll + eps * mean over the vocabulary of
    -log p``, the fairseq formula the reference trained with (label_smoothed_nll_loss,
    metax/models/utils.py), which summed over tokens where this averages (the same step under
    Adam, up to its epsilon, and under clipping, which rescales any sum to the clip norm).
    """
    return F.cross_entropy(logits.float().transpose(1, 2), labels, ignore_index=IGNORE_INDEX,
                           label_smoothing=label_smoothing)


def example_losses(bundle: Seq2SeqBundle, examples: Sequence[Example], *, batch_size: int,
                   max_input_length: int, max_output_length: int) -> list[float]:
    """Per example, the mean token negative log-likelihood of its (first) answer."""
    model = bundle.model
    features = tokenize_examples(bundle.tokenizer, model, examples,
                                 max_input_length=max_input_length,
                                 max_output_length=max_output_length)
    collate = PairCollator(bundle.tokenizer.pad_token_id)
    losses = [0.0] * len(features)
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        for batch in length_sorted_batches([len(f["input_ids"]) for f in features], batch_size):
            inputs = {k: v.to(bundle.device) for k, v in collate([features[i] for i in batch]).items()}
            logits = model(**inputs).logits
            labels = inputs["labels"]
            token_loss = F.cross_entropy(logits.float().transpose(1, 2), labels,
                                         ignore_index=IGNORE_INDEX, reduction="none")
            counts = (labels != IGNORE_INDEX).sum(dim=1).clamp(min=1)
            for i, value in zip(batch, (token_loss.sum(dim=1) / counts).tolist()):
                losses[i] = value
    model.train(was_training)
    return losses


def mean_loss(bundle: Seq2SeqBundle, examples: Sequence[Example], *, batch_size: int,
              max_input_length: int, max_output_length: int) -> float:
    """The mean over examples of :func:`example_losses` (each example weighs the same)."""
    losses = example_losses(bundle, examples, batch_size=batch_size,
                            max_input_length=max_input_length, max_output_length=max_output_length)
    return sum(losses) / len(losses)
