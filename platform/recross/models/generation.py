"""Answer generation for evaluation: batched, greedy or beam search, answers returned in input order."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from recross.models.batching import length_sorted_batches, tokenize_inputs
from recross.models.loading import Seq2SeqBundle
from recross.progress import progress_bar


def generate(bundle: Seq2SeqBundle, inputs: Sequence[str], *, num_beams: int, max_new_tokens: int,
             batch_size: int, max_input_length: int = 512, progress: bool = True) -> list[str]:
    """One decoded answer per input (paper: 4 beams, up to 64 new tokens).

    Inputs are batched by length (less padding), decoded without special tokens and stripped;
    they are formatted, and decoding starts, as the model's input format says
    (:mod:`recross.models.input_format`).
    """
    tokenizer, model = bundle.tokenizer, bundle.model
    ids = tokenize_inputs(tokenizer, model, inputs, max_length=max_input_length)
    answers: list[str] = [""] * len(ids)
    was_training = model.training
    model.eval()
    batches = length_sorted_batches([len(x) for x in ids], batch_size)
    with torch.inference_mode():
        for batch in progress_bar(batches, enabled=progress, desc="generate", unit="batch"):
            padded = tokenizer.pad([{"input_ids": ids[i]} for i in batch], return_tensors="pt")
            padded = {k: v.to(bundle.device) for k, v in padded.items()}
            out = model.generate(**padded, num_beams=num_beams, max_new_tokens=max_new_tokens,
                                 do_sample=False, early_stopping=num_beams > 1)
            for i, text in zip(batch, tokenizer.batch_decode(out, skip_special_tokens=True)):
                answers[i] = text.strip()
    model.train(was_training)
    return answers
