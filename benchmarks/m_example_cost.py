"""What one upstream training example of M costs on this CPU, and what it buys, per lever.

Each variant trains a fresh copy of the same initial M for the same batches (the same examples in
the same order, batch 16, constant lr 2e-4 after 3 warm-up steps) and reports CPU seconds per
step (process time: comparable on a shared machine), the mean training loss of the last third of
the steps, and the held-out loss of the trained copy on other mixture examples, always read at
the use-time input length (``models.max_input_length``). Levers: ``in128`` trains on inputs cut to
128 tokens (``upstream_training.max_input_length``), ``frozen-emb`` freezes the word embeddings of
both sides and so the LM head tied to the decoder's, ``dec3`` keeps 3 of the 6 decoder layers.
It also prints the share of encoder positions that are padding in the length-grouped batches
(what packing short examples could at most save).

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/m_example_cost.py --steps 30 --threads 1
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/m_example_cost.py --init .recross/models/upstream/build-minilm-seq2seq
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch
from recross.config import load_settings
from recross.data import load_upstream_pool, resolve_data_dir
from recross.models.batching import tokenize_examples
from recross.models.loading import Seq2SeqBundle, load_seq2seq
from recross.models.losses import mean_loss
from recross.models.training import make_trainer
from recross.models.upstream_training import in_length_blocks, training_mixture

VARIANTS = {"base256": {}, "in128": {"max_input": 128},
            "in128+frozen-emb": {"max_input": 128, "freeze_embeddings": True},
            "in128+dec3": {"max_input": 128, "decoder_layers": 3}}


def apply_variant(bundle: Seq2SeqBundle, *, freeze_embeddings: bool = False,
                  decoder_layers: int | None = None, **_: object) -> None:
    model = bundle.model
    if freeze_embeddings:
        model.encoder.get_input_embeddings().weight.requires_grad_(False)
        model.decoder.get_input_embeddings().weight.requires_grad_(False)  # and the tied LM head
    if decoder_layers is not None:
        stack = model.decoder.bert.encoder.layer
        model.decoder.bert.encoder.layer = stack[:decoder_layers]
        model.config.decoder.num_hidden_layers = decoder_layers


def padding_share(features: list[dict], batch_size: int) -> float:
    padded = real = 0
    for i in range(0, len(features), batch_size):
        lengths = [len(f["input_ids"]) for f in features[i:i + batch_size]]
        padded += max(lengths) * len(lengths)
        real += sum(lengths)
    return 1.0 - real / padded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--init", default="build:minilm-seq2seq", help="a build: name or M's dir")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--heldout", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(args.threads)
    settings = load_settings("small")
    m = settings.models
    pool = load_upstream_pool(resolve_data_dir(settings.data.data_dir),
                              cap_per_task=settings.data.upstream_cap_per_task)
    size = args.steps * args.batch_size
    # Examples after the first 3,840 (those the small M was trained on): held-out ones, then the
    # training slice (so the held-out set does not move with --steps).
    mixture = training_mixture(pool, size=3840 + args.heldout + size, seed=42,
                               exclude_tasks=settings.upstream_training.holdout_tasks)
    heldout, train = mixture[3840:3840 + args.heldout], mixture[3840 + args.heldout:]
    print(f"init {args.init}; {args.steps} steps x {args.batch_size}; held-out {len(heldout)}; "
          f"threads {args.threads}")
    print("| variant | CPU s/step | wall s/step | train loss (last third) | held-out loss "
          "(256 tok) | padding share |\n|---|---|---|---|---|---|")
    for name in args.variants.split(","):
        variant = VARIANTS[name]
        bundle = load_seq2seq(args.init, device="cpu")
        if name == args.variants.split(",")[0]:
            before = mean_loss(bundle, heldout, batch_size=32, max_input_length=m.max_input_length,
                               max_output_length=m.max_output_length)
            print(f"| (init) | | | | {before:.3f} | |")
        apply_variant(bundle, **variant)
        features = tokenize_examples(bundle.tokenizer, bundle.model, train,
                                     max_input_length=variant.get("max_input", m.max_input_length),
                                     max_output_length=m.max_output_length)
        # the same examples per step in every variant: blocks ordered by the full-length inputs
        order = in_length_blocks([{**f, "index": [i]} for i, f in enumerate(tokenize_examples(
            bundle.tokenizer, bundle.model, train, max_input_length=m.max_input_length,
            max_output_length=m.max_output_length))], batch_size=args.batch_size, seed=42)
        features = [features[f["index"][0]] for f in order]
        bundle.model.train()
        with tempfile.TemporaryDirectory() as scratch:
            trainer = make_trainer(bundle.model, bundle.tokenizer, features,
                                   output_dir=Path(scratch), device="cpu", learning_rate=2e-4,
                                   batch_size=args.batch_size, seed=42, progress=False,
                                   max_steps=args.steps, weight_decay=0.01, warmup_steps=3,
                                   lr_schedule="constant", logging_steps=1, sampling="sequential")
            cpu, wall = time.process_time(), time.perf_counter()
            trainer.train()
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
        tail = losses[-max(1, len(losses) // 3):]
        bundle.model.eval()
        after = mean_loss(bundle, heldout, batch_size=32, max_input_length=m.max_input_length,
                          max_output_length=m.max_output_length)
        print(f"| {name} | {cpu / args.steps:.2f} | {wall / args.steps:.2f} | "
              f"{sum(tail) / len(tail):.3f} | {after:.3f} | "
              f"{padding_share(features, args.batch_size):.2f} |", flush=True)


if __name__ == "__main__":
    main()
