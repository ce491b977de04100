"""Choose the small model's adaptation lr and schedule on upstream tasks held out as pretend-targets.

The small profile's upstream training leaves ``upstream_training.holdout_tasks`` out of its
mixture, so those tasks are unseen by M, like real targets, while the ten real targets' test sets
stay untouched. Per held-out task T: a query set Q of T's inputs, a disjoint labelled set H of T,
R = dense retrieval with M's encoder over a pool sample without T (top ceil(|R|/|Q|) per query,
duplicates kept, METHOD.md step 2), then M adapted on R at each candidate rate and learning-rate
schedule (``adaptation.lr_schedule``: linear decay, or the reference's constant), scored on H.
Re-run:

    HF_HUB_OFFLINE=1 OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/adaptation_lr.py \
        --model /tmp/recross-small/models/upstream/build-minilm-seq2seq --rates 1e-6 1e-5 1e-4
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import time
from pathlib import Path

import numpy as np
import torch
from recross.config import load_settings
from recross.data import load_upstream_pool, resolve_data_dir
from recross.evaluation.metrics import score_predictions
from recross.models import adapt, generate, load_seq2seq, mean_loss, upstream_encoder


def evaluate(bundle, heldout, *, num_beams: int, settings) -> dict[str, float]:
    """SoftEM/EM of generated answers on the held-out set H, and the mean loss of its answers."""
    gen, m = settings.generation, settings.models
    predictions = generate(bundle, [e.input for e in heldout], num_beams=num_beams,
                           max_new_tokens=gen.max_new_tokens, batch_size=gen.batch_size,
                           progress=False)
    return {**score_predictions(predictions, [e.answers for e in heldout]),
            "loss": mean_loss(bundle, heldout, batch_size=16, max_input_length=m.max_input_length,
                              max_output_length=m.max_output_length)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="the trained small upstream model")
    parser.add_argument("--rates", type=float, nargs="+", default=[1e-6, 1e-5, 1e-4])
    parser.add_argument("--schedules", nargs="+", default=["linear"],
                        choices=["linear", "constant"])
    parser.add_argument("--tasks", nargs="+", default=None,
                        help="pretend-targets to use (default: upstream_training.holdout_tasks)")
    parser.add_argument("--query-size", type=int, default=16)
    parser.add_argument("--retrieved-size", type=int, default=256)
    parser.add_argument("--heldout-size", type=int, default=100)
    parser.add_argument("--pool-sample", type=int, default=3000)
    parser.add_argument("--num-beams", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=None, help="default: the profile's")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("adaptation_lr.json"))
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(args.threads)
    settings = load_settings("small")
    m = settings.models
    lengths = {"max_input_length": m.max_input_length, "max_output_length": m.max_output_length}
    pool = load_upstream_pool(resolve_data_dir(settings.data.data_dir))
    bundle = load_seq2seq(args.model, device="cpu")
    encoder = upstream_encoder(bundle, max_length=m.max_input_length, batch_size=m.encode_batch_size)
    rng = random.Random(0)
    holdout = settings.upstream_training.holdout_tasks
    unknown = set(args.tasks or []) - set(holdout)
    if unknown:
        raise SystemExit(f"--tasks {sorted(unknown)} are not held out of M's training, so they "
                         f"are not unseen. Fix: choose among {holdout}.")
    tasks = args.tasks or holdout
    candidates = rng.sample([e for e in pool.examples if e.task not in holdout], args.pool_sample)
    started = time.perf_counter()
    candidate_vectors = encoder.encode([e.input for e in candidates], progress=True)
    print(f"encoded {len(candidates)} pool examples in {time.perf_counter() - started:.0f}s")
    results = []
    for task in tasks:
        own = [e for e in pool.examples if e.task == task]
        picked = rng.sample(own, args.query_size + args.heldout_size)
        queries, heldout = picked[:args.query_size], picked[args.query_size:]
        per_query = math.ceil(args.retrieved_size / len(queries))
        scores = encoder.encode([q.input for q in queries]) @ candidate_vectors.T
        top = np.argsort(-scores, axis=1)[:, :per_query].reshape(-1)[:args.retrieved_size]
        retrieved = [candidates[i] for i in top]
        row = {"task": task, "retrieved_tasks": sorted({e.task for e in retrieved})}

        row["none"] = evaluate(bundle, heldout, num_beams=args.num_beams, settings=settings)
        print(task, "no adaptation", row["none"], flush=True)
        for rate, schedule in [(r, s) for s in args.schedules for r in args.rates]:
            cfg = settings.adaptation.model_copy(update={
                "learning_rate": rate, "epochs": 2, "lr_schedule": schedule,
                "batch_size": args.batch_size or settings.adaptation.batch_size})
            result = adapt(bundle, retrieved, cfg, progress=False, device="cpu", **lengths)
            key = _key(rate, schedule, args.schedules)
            row[key] = {**evaluate(result.bundle, heldout, num_beams=args.num_beams,
                                   settings=settings), "seconds": result.seconds}
            print(task, key, row[key], flush=True)
        results.append(row)
    args.out.write_text(json.dumps(results, indent=2))
    print(f"\n|R| {args.retrieved_size}, batch {args.batch_size or settings.adaptation.batch_size}"
          ", 2 epochs")
    print(f"{'lr':>16s} " + " ".join(f"{t[:14]:>14s} SoftEM  loss" for t in tasks))
    for key in ["none"] + [_key(r, s, args.schedules) for s in args.schedules for r in args.rates]:
        cells = " ".join(f"{r[key]['softem']:21.1f} {r[key]['loss']:5.2f}" for r in results)
        print(f"{key:>16s} {cells}")


def _key(rate: float, schedule: str, schedules: list[str]) -> str:
    """A result's row name: the rate, with its schedule when several are compared."""
    return f"{rate:g}" if len(schedules) == 1 else f"{rate:g} {schedule}"


if __name__ == "__main__":
    main()
