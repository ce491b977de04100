"""What one seed's evaluation costs before and after the likelihood metrics (issue 17).

Before: generate an answer per test example (SoftEM/EM). After: the same generation plus a
teacher-forced decoder pass over each example's gold answers and choices (gold NLL, rank
classification), sharing the generation's encoder pass. M's own scores are computed once per target and test sample and reused by
every retriever, so a partition pays "after" per adapted seed and nothing more for M. Times M
itself (an adapted model has the same architecture and cost). Re-run:

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/evaluation_cost.py --profile tiny
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/evaluation_cost.py --profile small \
        --model .recross/models/upstream/build-minilm-seq2seq [--target super_glue-cb]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from recross.config import load_settings
from recross.models import load_seq2seq
from recross.pipeline import target_data, upstream
from recross.pipeline.example_scoring import answer_choices, generate_answers, run_model_on_test


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="tiny")
    parser.add_argument("--target", default="super_glue-cb")
    parser.add_argument("--model", type=Path, default=None,
                        help="a trained M (default: train the profile's M in a temp home; tiny)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as home:
        settings = load_settings(args.profile, overrides={"home": home})
        if args.model is None:
            upstream.ensure_upstream_model(settings, upstream.read_pool(settings), progress=False)
            model_dir = upstream.upstream_model_dir(settings)
        else:
            model_dir = args.model
        bundle = load_seq2seq(model_dir, device=settings.models.device)
        test = target_data.test_examples(settings, args.target)
        choices = answer_choices(settings, test)
        inputs = [e.input for e in test]
        generate_answers(settings, bundle, inputs[:4], progress=False)  # warm-up
        started = time.perf_counter()
        generate_answers(settings, bundle, inputs, progress=False)
        before = time.perf_counter() - started
        after = run_model_on_test(settings, bundle, test, choices, progress=False)
    covered = sum(c is not None for c in choices)
    print("| profile | target | n_test | rank-scorable | before: generate | after: generate + "
          "likelihoods (shared encoder pass) | overhead |")
    print("|---|---|---|---|---|---|---|")
    print(f"| {args.profile} | {args.target} | {len(test)} | {covered} "
          f"({100 * covered / len(test):.0f}%) | {before:.2f} s | {after.seconds:.2f} s | "
          f"{100 * (after.seconds - before) / before:+.0f}% |")

if __name__ == "__main__":
    main()
