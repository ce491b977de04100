"""What distant-supervision mining (Algorithm 1) costs per tuple, and a whole run, for a profile.

A tuple costs one held-out loss before fine-tuning plus ``rounds x groups`` x (copy M, fine-tune
``finetune_steps`` steps, held-out loss); retrieval of the candidates is negligible. This script
times those parts once, mines a few real tuples (real index over a capped pool, which does not
change the per-tuple cost), and extrapolates to the profile's ``mining.n_tuples``. Re-run:

    HF_HUB_OFFLINE=1 OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/mining_cost.py \
        --profile small --tuples 2 --threads 2 [--model /path/to/trained/small/upstream]
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from pathlib import Path

import torch
from recross.config import load_settings
from recross.data import load_upstream_pool, resolve_data_dir
from recross.index import build_index, open_index
from recross.models import finetune_steps, load_seq2seq, mean_loss, upstream_encoder
from recross.reranking import mine_distant_supervision
from recross.retrieval import DenseRetrieval


def timed(fn, repeat: int = 2) -> float:
    """Median-free small sample: the mean of ``repeat`` calls after one warm-up call."""
    fn()
    started = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - started) / repeat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="small")
    parser.add_argument("--model", default=None, help="upstream model (default: the profile's)")
    parser.add_argument("--tuples", type=int, default=2, help="tuples to mine for the timing")
    parser.add_argument("--cap-per-task", type=int, default=60, help="pool cap for the index")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(args.threads)
    settings = load_settings(args.profile)
    m, ms = settings.models, settings.mining
    lengths = {"max_input_length": m.max_input_length, "max_output_length": m.max_output_length}
    pool = load_upstream_pool(resolve_data_dir(settings.data.data_dir),
                              tasks=settings.data.upstream_tasks, cap_per_task=args.cap_per_task)
    bundle = load_seq2seq(args.model or m.upstream_model, device=args.device)
    print(f"model {bundle.name} on {bundle.device}, {args.threads} threads; pool {len(pool)} "
          f"examples of {len(pool.tasks)} tasks (capped at {args.cap_per_task} per task)")

    rng = random.Random(0)
    group = rng.sample(pool.examples, max(1, ms.candidates // ms.groups))
    heldout = rng.sample(pool.examples, ms.heldout_size)
    t_copy = timed(lambda: bundle.copy())
    t_tune = timed(lambda: finetune_steps(bundle, group, steps=ms.finetune_steps,
                                          lr=ms.finetune_learning_rate,
                                          batch_size=ms.finetune_batch_size, **lengths))
    t_loss = timed(lambda: mean_loss(bundle, heldout, batch_size=32, **lengths))
    fits = ms.rounds * ms.groups
    predicted = t_loss + fits * (t_tune + t_loss)

    with tempfile.TemporaryDirectory(prefix="recross-mining-bench-") as tmp:
        encoder = upstream_encoder(bundle, max_length=m.max_input_length,
                                   batch_size=m.encode_batch_size)
        index = open_index(settings.index, collection="mining-bench", dimension=encoder.dimension,
                           encoder_name=encoder.name, home=Path(tmp))
        started = time.perf_counter()
        build_index(index, pool.examples, encoder.encode, batch_size=256, progress=True)
        t_index = time.perf_counter() - started
        dagger = DenseRetrieval("recross-dagger", pool=pool, index=index, encoder=encoder)
        run = mine_distant_supervision(
            retriever=dagger, upstream=bundle,
            settings=ms.model_copy(update={"n_tuples": args.tuples}), out_dir=Path(tmp) / "mined",
            progress=True, **lengths)
        index.close()

    measured = run.seconds_per_tuple or float("nan")
    rows = [
        ("copy of M", t_copy),
        (f"fine-tune {ms.finetune_steps} steps x batch {ms.finetune_batch_size} (incl. copy)",
         t_tune),
        (f"held-out loss on |Hq|={ms.heldout_size}", t_loss),
        (f"per tuple, predicted: loss + {fits} x (fine-tune + loss)", predicted),
        (f"per tuple, measured (mean of {run.mined})", measured),
        (f"whole run, {ms.n_tuples} tuples (measured x n)", measured * ms.n_tuples),
        (f"(index build for the timing, {len(pool)} examples)", t_index),
    ]
    print(f"\n| step ({args.profile} profile: {ms.rounds} rounds x {ms.groups} groups, "
          f"{ms.candidates} candidates) | seconds |\n|---|---:|")
    for label, seconds in rows:
        print(f"| {label} | {seconds:.2f} |")
    print(f"\nwhole run: ~{measured * ms.n_tuples / 60:.1f} min for {ms.n_tuples} tuples")


if __name__ == "__main__":
    main()
