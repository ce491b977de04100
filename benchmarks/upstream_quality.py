"""Build (or reuse) the profile's upstream model and measure its zero-shot SoftEM on the targets.

Prints the training budget and time, then a table of SoftEM / EM on N test examples of each of the
ten paper targets, using the profile's generation settings. Re-run:

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/upstream_quality.py --profile small --n-test 200
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch
from recross.config import load_settings
from recross.data import PAPER_TARGETS, load_target, load_upstream_pool, resolve_data_dir
from recross.evaluation.metrics import score_predictions
from recross.models.generation import generate
from recross.models.loading import load_seq2seq
from recross.models.upstream_training import build_upstream_model
from recross.paths import StatePaths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="small")
    parser.add_argument("--home", type=Path, default=None, help="state folder (RECROSS_HOME)")
    parser.add_argument("--n-test", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--num-beams", type=int, default=None, help="default: the profile's")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(args.threads)
    settings = load_settings(args.profile, overrides={"home": str(args.home)} if args.home else None)
    data_dir = resolve_data_dir(settings.data.data_dir)
    pool = load_upstream_pool(data_dir, tasks=settings.data.upstream_tasks,
                              cap_per_task=settings.data.upstream_cap_per_task)
    out_dir = StatePaths(settings.home).upstream_model(settings.models.upstream_model)
    result = build_upstream_model(settings, pool, out_dir=out_dir)
    curve = result.loss_curve
    print(f"upstream model {result.name} -> {out_dir}")
    print(f"trained now: {result.trained}; steps {result.steps}; examples {result.examples_seen}; "
          f"training seconds {result.seconds:.0f} (CPU {result.cpu_seconds:.0f}); loss {curve[0]['loss']:.3f} -> "
          f"{curve[-1]['loss']:.3f}" if curve else "no loss curve (loaded, not trained)")
    bundle = load_seq2seq(out_dir, device=settings.models.device)
    gen = settings.generation
    beams = args.num_beams or gen.num_beams
    rows = []
    print(f"\n{'target':28s} {'n':>4s} {'SoftEM':>7s} {'EM':>6s} {'sec':>6s}")
    for task in PAPER_TARGETS:
        target = load_target(data_dir, task, query_size=1, n_query_sets=1,
                             test_sample_size=args.n_test)
        started = time.perf_counter()
        predictions = generate(bundle, [e.input for e in target.test], num_beams=beams,
                               max_new_tokens=gen.max_new_tokens, batch_size=gen.batch_size,
                               max_input_length=settings.models.max_input_length, progress=False)
        seconds = time.perf_counter() - started
        scores = score_predictions(predictions, [e.answers for e in target.test])
        rows.append({"task": task, "n": len(predictions), **scores, "seconds": seconds,
                     "sample": list(zip(predictions[:3], [e.answers for e in target.test[:3]]))})
        print(f"{task:28s} {len(predictions):4d} {scores['softem']:7.2f} {scores['em']:6.2f} "
              f"{seconds:6.0f}", flush=True)
    mean = sum(r["softem"] for r in rows) / len(rows)
    print(f"{'all (mean)':28s} {'':4s} {mean:7.2f}   (num_beams={beams})")
    report = StatePaths(settings.home).reports / "upstream_quality.json"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(json.dumps({"training": result.to_json(), "num_beams": beams,
                                  "targets": rows, "softem_mean": mean}, indent=2))
    print(f"report: {report}")


if __name__ == "__main__":
    main()
