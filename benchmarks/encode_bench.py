"""Encoding throughput (naive padding vs length-sorted batches) and adaptation time on |R| examples.

Prints one table. The machine's load average is printed too: on a shared machine, wall-clock
numbers move with it, CPU seconds less so. Re-run:

    HF_HUB_OFFLINE=1 OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/encode_bench.py \
        --threads 2 [--model .recross/models/upstream/build-minilm-seq2seq]
"""

from __future__ import annotations

import argparse
import os
import random
import time
from collections.abc import Callable

import numpy as np
import torch
from recross.config import load_settings
from recross.data import load_upstream_pool, resolve_data_dir
from recross.models import adapt, load_seq2seq, sentence_encoder, upstream_encoder
from recross.models.encoders import mean_pool


def _timed(work: Callable[[], object]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - wall, time.process_time() - cpu


def _naive_encode(bundle, texts, *, max_length: int, batch_size: int) -> np.ndarray:
    """The baseline: every batch padded to max_length, in input order."""
    encoder, out = bundle.model.get_encoder(), []
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            batch = bundle.tokenizer(texts[start:start + batch_size], padding="max_length",
                                     truncation=True, max_length=max_length, return_tensors="pt")
            hidden = encoder(**batch).last_hidden_state
            out.append(mean_pool(hidden, batch["attention_mask"]).numpy())
    return np.concatenate(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="small")
    parser.add_argument("--model", default=None, help="default: the profile's build (untrained)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--n", type=int, default=512, help="pool texts encoded length-sorted")
    parser.add_argument("--n-naive", type=int, default=128, help="texts encoded naively")
    parser.add_argument("--adapt-size", type=int, default=512, help="|R|; 0 skips adaptation")
    parser.add_argument("--epochs", type=float, default=2)
    parser.add_argument("--mode", choices=["full", "lora"], default=None, help="default: profile's")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(args.threads)
    settings = load_settings(args.profile)
    m = settings.models
    pool = load_upstream_pool(resolve_data_dir(settings.data.data_dir))
    sample = random.Random(0).sample(pool.examples, max(args.n, args.adapt_size))
    texts = [e.input for e in sample[:args.n]]
    bundle = load_seq2seq(args.model or m.upstream_model, device="cpu")
    encoder = upstream_encoder(bundle, max_length=m.max_input_length, batch_size=m.encode_batch_size)
    sbert = sentence_encoder(m.sbert_model, max_length=m.max_input_length,
                             batch_size=m.encode_batch_size, device="cpu")
    print(f"model {bundle.name}; {args.threads} threads; max input {m.max_input_length}; "
          f"batch {m.encode_batch_size}; load average before {os.getloadavg()[0]:.1f}")
    rows = []
    naive = texts[:args.n_naive]
    wall, cpu = _timed(lambda: _naive_encode(bundle, naive, max_length=m.max_input_length,
                                             batch_size=m.encode_batch_size))
    rows.append(("upstream encoder, naive pad-to-max", len(naive), wall, cpu))
    wall, cpu = _timed(lambda: encoder.encode(texts))
    rows.append(("upstream encoder, length-sorted", len(texts), wall, cpu))
    wall, cpu = _timed(lambda: sbert.encode(texts))
    rows.append((f"sentence encoder {m.sbert_model}", len(texts), wall, cpu))
    print(f"\n{'what':44s} {'n':>5s} {'wall s':>8s} {'CPU s':>8s} {'ex/s':>8s}")
    for what, n, wall, cpu in rows:
        print(f"{what:44s} {n:5d} {wall:8.1f} {cpu:8.1f} {n / wall:8.1f}")
    if args.adapt_size:
        cfg = settings.adaptation.model_copy(
            update={"epochs": args.epochs, "mode": args.mode or settings.adaptation.mode})
        adapted = []
        wall, cpu = _timed(lambda: adapted.append(adapt(
            bundle, sample[:args.adapt_size], cfg, max_input_length=m.max_input_length,
            max_output_length=m.max_output_length, progress=False, device="cpu")))
        what = (f"adapt {cfg.mode} |R|={args.adapt_size}, {args.epochs:g} ep, bs {cfg.batch_size}, "
                f"{adapted[0].params['steps']} steps")
        print(f"{what:44s} {args.adapt_size:5d} {wall:8.1f} {cpu:8.1f} "
              f"{args.adapt_size * args.epochs / wall:8.1f}")
    print(f"\nload average after {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
