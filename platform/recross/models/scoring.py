"""Teacher-forced answer likelihoods: how probable a model finds given answers to given inputs.

Used by evaluation for the gold answers' NLL and for rank classification over answer choices.
Each input is encoded once and its encoder states are shared by all of its candidate answers
(one encoder pass and k short decoder passes, not k full passes); :func:`generate_and_score`
also generates the answer from the same encoder states, so the likelihoods add only decoder
passes to an evaluation.

    >>> from recross.models import load_seq2seq
    >>> bundle = load_seq2seq("build:tiny-bart", device="cpu")
    >>> scores = answer_log_likelihoods(bundle, ["Is it? yes or no"], [["yes", "no"]],
    ...                                 batch_size=8, max_input_length=64, max_output_length=8)
    >>> [s.tokens for s in scores[0]]       # each answer's token and the end token
    [2, 2]
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from transformers import PreTrainedModel
from transformers.modeling_outputs import BaseModelOutput

from recross.models.batching import (
    IGNORE_INDEX,
    length_sorted_batches,
    tokenize_inputs,
    tokenize_targets,
)
from recross.models.loading import Seq2SeqBundle
from recross.progress import progress_bar


@dataclass(frozen=True)
class AnswerScore:
    """Summed log-likelihood (nats) of an answer's ``tokens`` label tokens, end token included."""

    log_likelihood: float
    tokens: int


class _Scorer:
    """Tokenized inputs and candidates of one call; encodes batches and scores candidates."""

    def __init__(self, bundle: Seq2SeqBundle, inputs: Sequence[str],
                 candidates: Sequence[Sequence[str]], *, max_input_length: int,
                 max_output_length: int) -> None:
        if len(inputs) != len(candidates):
            raise ValueError(f"{len(inputs)} inputs for {len(candidates)} candidate lists")
        self.bundle = bundle
        model, tokenizer = bundle.model, bundle.tokenizer
        self.sources = tokenize_inputs(tokenizer, model, inputs, max_length=max_input_length)
        flat = tokenize_targets(tokenizer, model, [a for c in candidates for a in c],
                                max_output_length=max_output_length)
        self.labels: list[list[list[int]]] = []
        start = 0
        for answers in candidates:
            self.labels.append(flat[start:start + len(answers)])
            start += len(answers)
        self.scores: list[list[AnswerScore]] = [[] for _ in inputs]

    def encode(self, batch: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Encoder states and attention mask of the inputs ``batch`` (padded together)."""
        padded = self.bundle.tokenizer.pad([{"input_ids": self.sources[i]} for i in batch],
                                           return_tensors="pt")
        padded = {k: v.to(self.bundle.device) for k, v in padded.items()}
        states = self.bundle.model.get_encoder()(**padded).last_hidden_state
        return states, padded["attention_mask"]

    def score(self, batch: Sequence[int], states: torch.Tensor, mask: torch.Tensor, *,
              pairs_per_pass: int) -> None:
        """Score every candidate of ``batch`` from its encoder states, ``pairs_per_pass`` at once."""
        pairs = [(row, i, labels) for row, i in enumerate(batch) for labels in self.labels[i]]
        for start in range(0, len(pairs), pairs_per_pass):
            chunk = pairs[start:start + pairs_per_pass]
            rows = torch.tensor([row for row, _, _ in chunk], device=self.bundle.device)
            totals, counts = _score_pairs(self.bundle.model, states[rows], mask[rows],
                                          [labels for _, _, labels in chunk], self.bundle.device)
            for (_, i, _), total, count in zip(chunk, totals, counts):
                self.scores[i].append(AnswerScore(total, count))


def _input_batches(lengths: Sequence[int], pairs: Sequence[int],
                   batch_size: int) -> list[list[int]]:
    """Inputs grouped by length so that a batch holds about ``batch_size`` (input, answer) pairs."""
    batches: list[list[int]] = []
    current: list[int] = []
    count = 0
    for [index] in length_sorted_batches(lengths, 1):
        if current and count + pairs[index] > batch_size:
            batches.append(current)
            current, count = [], 0
        current.append(index)
        count += pairs[index]
    return [*batches, current] if current else batches


def answer_log_likelihoods(bundle: Seq2SeqBundle, inputs: Sequence[str],
                           candidates: Sequence[Sequence[str]], *, batch_size: int,
                           max_input_length: int, max_output_length: int,
                           progress: bool = False) -> list[list[AnswerScore]]:
    """For each input, the score of each of its candidate answers (same order, no generation).

    Inputs and answers are tokenized like training batches (the model's input format,
    ``max_input_length`` / ``max_output_length`` tokens); ``batch_size`` counts (input, answer)
    pairs.
    """
    scorer = _Scorer(bundle, inputs, candidates, max_input_length=max_input_length,
                     max_output_length=max_output_length)
    batches = _input_batches([len(s) for s in scorer.sources], [len(c) for c in candidates],
                             batch_size)
    with _evaluating(bundle.model):
        for batch in progress_bar(batches, enabled=progress, desc="score", unit="batch"):
            states, mask = scorer.encode(batch)
            scorer.score(batch, states, mask, pairs_per_pass=batch_size)
    return scorer.scores


def generate_and_score(bundle: Seq2SeqBundle, inputs: Sequence[str],
                       candidates: Sequence[Sequence[str]], *, num_beams: int,
                       max_new_tokens: int, batch_size: int, likelihood_batch_size: int,
                       max_input_length: int, max_output_length: int,
                       progress: bool = True) -> tuple[list[str], list[list[AnswerScore]]]:
    """One generated answer per input (as :func:`recross.models.generation.generate`) and the
    scores of its candidates (as :func:`answer_log_likelihoods`), from one encoder pass."""
    scorer = _Scorer(bundle, inputs, candidates, max_input_length=max_input_length,
                     max_output_length=max_output_length)
    answers = [""] * len(inputs)
    batches = length_sorted_batches([len(s) for s in scorer.sources], batch_size)
    tokenizer, model = bundle.tokenizer, bundle.model
    with _evaluating(model):
        for batch in progress_bar(batches, enabled=progress, desc="generate", unit="batch"):
            states, mask = scorer.encode(batch)
            out = model.generate(encoder_outputs=BaseModelOutput(last_hidden_state=states),
                                 attention_mask=mask, num_beams=num_beams,
                                 max_new_tokens=max_new_tokens, do_sample=False,
                                 early_stopping=num_beams > 1)
            for i, text in zip(batch, tokenizer.batch_decode(out, skip_special_tokens=True)):
                answers[i] = text.strip()
            scorer.score(batch, states, mask, pairs_per_pass=likelihood_batch_size)
    return answers, scorer.scores


@contextmanager
def _evaluating(model: torch.nn.Module) -> Iterator[None]:
    """Eval mode and no autograd for the duration; the model's training flag is restored."""
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            yield
    finally:
        model.train(was_training)


def _score_pairs(model: PreTrainedModel, states: torch.Tensor, attention: torch.Tensor,
                 labels: Sequence[list[int]],
                 device: torch.device) -> tuple[list[float], list[int]]:
    """Summed label log-probabilities and label counts of each (encoder states, labels) row."""
    width = max(1, max(len(ids) for ids in labels))
    padded = torch.full((len(labels), width), IGNORE_INDEX, dtype=torch.long)
    for row, ids in enumerate(labels):
        padded[row, :len(ids)] = torch.tensor(ids, dtype=torch.long)
    padded = padded.to(device)
    decoder_inputs = model.prepare_decoder_input_ids_from_labels(labels=padded)
    logits = model(encoder_outputs=BaseModelOutput(last_hidden_state=states),
                   attention_mask=attention, decoder_input_ids=decoder_inputs).logits
    log_probs = torch.log_softmax(logits.float(), dim=-1)
    mask = padded != IGNORE_INDEX
    picked = log_probs.gather(-1, padded.clamp(min=0).unsqueeze(-1)).squeeze(-1) * mask
    return picked.sum(dim=1).tolist(), mask.sum(dim=1).tolist()
