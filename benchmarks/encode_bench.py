"""Encoding throughput (naive padding, length-sorted, onnx-int8) and adaptation time on |R| examples.

Prints a speed table, then how far the onnx-int8 vectors are from the fp32 ones on the same
texts: cosine per text (mean, worst) and the overlap of each text's 10 nearest neighbours in
the sample, which is what retrieval sees. The machine's load average is printed too: on a shared
machine, wall-clock numbers move with it, CPU seconds less so. The int8 graphs are exported on
first use and cached (``--int8-cache``); their build time is printed, not counted as encoding.
Re-run:

    HF_HUB_OFFLINE=1 OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/encode_bench.py \
        --threads 2 [--model .recross/models/upstream/build-minilm-seq2seq]
    # adaptation rows only, one per batch size, side by side:
    ... encode_bench.py --model ... --n 0 --adapt-size 512 --adapt-batch-sizes 4 8 16
"""

from __future__ import annotations

import argparse
import os
import random
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from recross.config import Settings, load_settings
from recross.data import load_upstream_pool, resolve_data_dir
from recross.models import adapt, load_seq2seq, sentence_encoder, upstream_encoder
from recross.models.encoders import mean_pool
from recross.models.loading import Seq2SeqBundle
from recross.paths import StatePaths

NEIGHBOURS = 10


def _timed(work: Callable[[], object]) -> tuple[object, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def _neighbours(unit: np.ndarray) -> np.ndarray:
    """Each row's NEIGHBOURS nearest other rows by cosine."""
    scores = unit @ unit.T
    np.fill_diagonal(scores, -np.inf)
    return np.argsort(-scores, axis=1)[:, :NEIGHBOURS]


def _agreement(reference: np.ndarray, other: np.ndarray) -> tuple[float, float, float]:
    """Cosine per row (mean, min) and mean top-NEIGHBOURS overlap of ``other`` with ``reference``."""
    a, b = _unit(reference), _unit(other)
    cosines = (a * b).sum(axis=1)
    overlap = np.mean([len(set(x) & set(y)) / NEIGHBOURS
                       for x, y in zip(_neighbours(a), _neighbours(b))])
    return float(cosines.mean()), float(cosines.min()), float(overlap)


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


def encoding_rows(bundle: Seq2SeqBundle, texts: list[str], settings: Settings,
                  args: argparse.Namespace) -> None:
    """Encoding rows (naive, length-sorted, onnx-int8) and int8-vs-fp32 agreement, printed."""
    m = settings.models
    encoder = upstream_encoder(bundle, max_length=m.max_input_length, batch_size=m.encode_batch_size)
    sbert = sentence_encoder(m.sbert_model, max_length=m.max_input_length,
                             batch_size=m.encode_batch_size, device="cpu")
    cache = args.int8_cache or StatePaths(settings.home).int8_encoders
    (encoder_int8, sbert_int8), wall, _ = _timed(lambda: (
        upstream_encoder(bundle, max_length=m.max_input_length, batch_size=m.encode_batch_size,
                         onnx_int8_cache=cache),
        sentence_encoder(m.sbert_model, max_length=m.max_input_length,
                         batch_size=m.encode_batch_size, device="cpu", onnx_int8_cache=cache)))
    print(f"onnx-int8 graphs ready in {wall:.1f} s (exported on first use, then cached in {cache})")
    rows = []
    naive = texts[:args.n_naive]
    if naive:
        _, wall, cpu = _timed(lambda: _naive_encode(bundle, naive, max_length=m.max_input_length,
                                                    batch_size=m.encode_batch_size))
        rows.append(("upstream encoder, naive pad-to-max", len(naive), wall, cpu))
    vectors = {}
    for what, enc in [("upstream encoder, length-sorted", encoder),
                      ("upstream encoder, onnx-int8", encoder_int8),
                      (f"sentence encoder {m.sbert_model}", sbert),
                      ("sentence encoder, onnx-int8", sbert_int8)]:
        vectors[what], wall, cpu = _timed(lambda enc=enc: enc.encode(texts))
        rows.append((what, len(texts), wall, cpu))
    print(f"\n{'what':44s} {'n':>5s} {'wall s':>8s} {'CPU s':>8s} {'ex/s':>8s}")
    for what, n, wall, cpu in rows:
        print(f"{what:44s} {n:5d} {wall:8.1f} {cpu:8.1f} {n / wall:8.1f}")
    print(f"\n{'onnx-int8 vs fp32, same texts':44s} {'cos mean':>8s} {'cos min':>8s} "
          f"{f'top-{NEIGHBOURS} overlap':>15s}")
    for what, fp32, int8 in [("upstream encoder", "upstream encoder, length-sorted",
                              "upstream encoder, onnx-int8"),
                             ("sentence encoder", f"sentence encoder {m.sbert_model}",
                              "sentence encoder, onnx-int8")]:
        mean, worst, overlap = _agreement(vectors[fp32], vectors[int8])
        print(f"{what:44s} {mean:8.4f} {worst:8.4f} {overlap:15.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="small")
    parser.add_argument("--model", default=None, help="default: the profile's build (untrained)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--n", type=int, default=512,
                        help="pool texts encoded length-sorted; 0 skips the encoding rows")
    parser.add_argument("--n-naive", type=int, default=128, help="texts encoded naively; 0 skips")
    parser.add_argument("--int8-cache", type=Path, default=None,
                        help="where the int8 graphs are cached (default: the profile's state folder)")
    parser.add_argument("--adapt-size", type=int, default=512, help="|R|; 0 skips adaptation")
    parser.add_argument("--epochs", type=float, default=2)
    parser.add_argument("--mode", choices=["full", "lora"], default=None, help="default: profile's")
    parser.add_argument("--adapt-batch-sizes", type=int, nargs="+", default=[0],
                        help="one adaptation row per batch size; 0: the profile's")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(args.threads)
    settings = load_settings(args.profile)
    m = settings.models
    pool = load_upstream_pool(resolve_data_dir(settings.data.data_dir))
    sample = random.Random(0).sample(pool.examples, max(args.n, args.adapt_size))
    bundle = load_seq2seq(args.model or m.upstream_model, device="cpu")
    print(f"model {bundle.name}; {args.threads} threads; max input {m.max_input_length}; "
          f"batch {m.encode_batch_size}; load average before {os.getloadavg()[0]:.1f}")
    if args.n:
        encoding_rows(bundle, [e.input for e in sample[:args.n]], settings, args)
    if args.adapt_size:
        print(f"\n{'adaptation':44s} {'|R|':>5s} {'wall s':>8s} {'CPU s':>8s} {'ex/s':>8s}")
    for batch_size in args.adapt_batch_sizes if args.adapt_size else []:
        cfg = settings.adaptation.model_copy(update={
            "epochs": args.epochs, "mode": args.mode or settings.adaptation.mode,
            "batch_size": batch_size or settings.adaptation.batch_size})
        adapted, wall, cpu = _timed(lambda cfg=cfg: adapt(
            bundle, sample[:args.adapt_size], cfg, max_input_length=m.max_input_length,
            max_output_length=m.max_output_length, progress=False, device="cpu"))
        what = (f"adapt {cfg.mode}, {args.epochs:g} ep, bs {cfg.batch_size}, "
                f"{adapted.params['steps']} steps")
        print(f"{what:44s} {args.adapt_size:5d} {wall:8.1f} {cpu:8.1f} "
              f"{args.adapt_size * args.epochs / wall:8.1f}", flush=True)
    print(f"\nload average after {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
