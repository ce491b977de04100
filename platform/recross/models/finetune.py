"""A few optimiser steps on a fresh copy of M: mining's many tiny fine-tunes (Algorithm 1).

A plain loop on purpose: mining runs hundreds of 2-10 step fine-tunes, where building a
Seq2SeqTrainer (arguments, accelerator, callbacks, scheduler) costs more than the steps
themselves. Adaptation and upstream training, which run long, use the Trainer.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Literal

import torch
from transformers import get_scheduler

from recross.data.examples import Example
from recross.errors import ModelError
from recross.models.batching import PairCollator, tokenize_examples
from recross.models.loading import Seq2SeqBundle
from recross.models.losses import token_loss


def finetune_steps(bundle: Seq2SeqBundle, examples: Sequence[Example], *, steps: int, lr: float,
                   batch_size: int, max_input_length: int, max_output_length: int,
                   seed: int = 0, warmup_steps: int = 0,
                   schedule: Literal["constant", "linear"] = "constant",
                   weight_decay: float = 0.0, max_grad_norm: float | None = None,
                   label_smoothing: float = 0.0) -> Seq2SeqBundle:
    """Return a copy of ``bundle`` after ``steps`` AdamW steps on shuffled, cycled ``examples``.

    ``warmup_steps`` linear warm-up, then a constant or linearly decaying lr (the reference's
    group fine-tune: 3 warm-up steps, linear decay, weight decay 0.01, clipping at 0.1, label
    smoothing 0.1; gen_better_ds.py).
    """
    if not examples:
        raise ModelError("cannot fine-tune on an empty group of examples.")
    tuned = bundle.copy()
    features = tokenize_examples(tuned.tokenizer, tuned.model, examples,
                                 max_input_length=max_input_length,
                                 max_output_length=max_output_length)
    collate = PairCollator(tuned.tokenizer.pad_token_id)
    rng = random.Random(seed)
    order: list[int] = []
    # fused: one kernel per step; the per-tensor loop costs ~0.9 s a step for M's 49M weights on
    # 2 CPU cores, as much as the forward and backward passes of a small batch.
    optimizer = torch.optim.AdamW(tuned.model.parameters(), lr=lr, weight_decay=weight_decay,
                                  fused=True)
    scheduler = get_scheduler("linear" if schedule == "linear" else "constant_with_warmup",
                              optimizer, num_warmup_steps=warmup_steps, num_training_steps=steps)
    tuned.model.train()
    for _ in range(steps):
        while len(order) < batch_size:
            order.extend(rng.sample(range(len(features)), len(features)))
        batch, order = order[:batch_size], order[batch_size:]
        inputs = {k: v.to(tuned.device) for k, v in collate([features[i] for i in batch]).items()}
        logits = tuned.model(**inputs).logits
        loss = token_loss(logits, inputs["labels"], label_smoothing=label_smoothing)
        loss.backward()
        if max_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(tuned.model.parameters(), max_grad_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
    tuned.model.eval()
    return tuned
