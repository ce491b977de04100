"""Zero-shot quality of the upstream model M on the pretend-targets against its training budget.

Trains M in sequence to each budget (training examples) by extending the previous one (a constant
learning rate after warm-up, ``upstream_training.lr_schedule=constant``: the steps of a smaller
budget are never redone), and after each budget measures M zero-shot on the six pretend-targets
(held out of its training): the gold answers' NLL, rank-classification accuracy and SoftEM per
target and their mean, each budget against the previous one with a paired 95% bootstrap interval
(over the same test examples). Prints a markdown table and writes ``m_budget.csv`` (one row per
budget x target, ``mean`` included) and ``m_budget.md`` to ``--out``. Resumable: a finished
budget's model and scores are read back, a killed training resumes from its last checkpoint.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/m_budget.py --home /tmp/m-budget \\
        --budgets 4000,16000,48000 --test-sample 200 --device cpu --threads 2

Imports nothing of Qdrant, MLflow or Dagster, so it runs where only torch, transformers, pandas,
pydantic and pyyaml exist (the device pack).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from recross.config import Settings, dotted_overrides, load_settings
from recross.data import load_target, load_upstream_pool, resolve_data_dir
from recross.data.registry import PRETEND_TARGETS
from recross.evaluation.intervals import PairedDelta, paired_bootstrap
from recross.evaluation.metrics import example_scores
from recross.models.loading import load_seq2seq
from recross.models.upstream_training import UpstreamTrainingResult, build_upstream_model
from recross.pipeline.example_scoring import answer_choices, run_model_on_test

METRICS = ("nll", "rank_acc", "softem")
_PER_EXAMPLE = {"nll": "nll", "rank_acc": "rank_correct", "softem": "softem"}


def budget_settings(base: Settings, budget: int, *, warmup_steps: int) -> Settings:
    """``base`` with an extendable schedule and ``max_steps`` covering ``budget`` examples."""
    training = base.upstream_training
    steps = math.ceil(budget / training.batch_size)
    return base.model_copy(update={"upstream_training": training.model_copy(update={
        "lr_schedule": "constant", "warmup_steps": warmup_steps, "max_steps": steps})})


def train_to(settings: Settings, pool, out_dir: Path) -> UpstreamTrainingResult:
    return build_upstream_model(settings, pool, out_dir=out_dir, progress=False)


def score_budget(settings: Settings, model_dir: Path, tests: dict, path: Path) -> pd.DataFrame:
    """Per test example of every pretend-target: nll, rank_correct, softem (cached at ``path``)."""
    if path.is_file():
        return pd.read_csv(path)
    bundle = load_seq2seq(model_dir, device=settings.models.device)
    frames = []
    for task, test in tests.items():
        found = run_model_on_test(settings, bundle, test, answer_choices(settings, test),
                                  progress=False)
        softem = [float(example_scores(p, e.answers, settings.evaluation)[0])
                  for p, e in zip(found.predictions, test)]
        frames.append(pd.DataFrame({"task": task, "example_id": [e.example_id for e in test],
                                    "nll": found.likelihoods["nll"].astype(float),
                                    "rank_correct": found.likelihoods["rank_correct"].astype(float),
                                    "softem": 100.0 * np.array(softem),
                                    "prediction": found.predictions}))
        print(f"  {task}: {found.seconds:.0f} s", flush=True)
    scores = pd.concat(frames, ignore_index=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    scores.to_csv(path.with_suffix(".tmp"), index=False)
    os.replace(path.with_suffix(".tmp"), path)
    return scores


def _matrices(scores: pd.DataFrame, metric: str, tasks: list[str]) -> list[np.ndarray]:
    """Per task a ``1 x examples`` matrix of the metric (rank accuracy in percent, as SoftEM)."""
    scale = 100.0 if metric == "rank_acc" else 1.0
    column = _PER_EXAMPLE[metric]
    return [scale * scores.loc[scores["task"] == t, column].to_numpy(dtype=float)[None, :]
            for t in tasks]


def budget_rows(budget: int, result: UpstreamTrainingResult, trained_examples: int,
                scores: pd.DataFrame, previous: pd.DataFrame | None,
                settings: Settings) -> list[dict]:
    """One row per target and one ``mean`` row: the metrics and the deltas to the previous budget."""
    tasks = list(dict.fromkeys(scores["task"]))
    e = settings.evaluation
    rows = []
    for name, chosen in [*((t, [t]) for t in tasks), ("mean", tasks)]:
        row: dict = {"budget": budget, "target": name, "steps": result.steps,
                     "examples_seen": result.examples_seen,
                     "train_seconds": round(result.seconds, 1),
                     "train_cpu_seconds": round(result.cpu_seconds, 1),
                     "train_examples_per_s": round(trained_examples / result.seconds, 2)
                     if result.seconds else math.nan,
                     "final_train_loss": result.loss_curve[-1]["loss"] if result.loss_curve
                     else math.nan}
        for metric in METRICS:
            # the mean is over the targets the metric can score (rank: those with choices)
            scored = [t for t, m in zip(chosen, _matrices(scores, metric, chosen))
                      if np.isfinite(m).any()]
            row[metric] = float(np.mean([np.nanmean(m) for m in _matrices(scores, metric, scored)])
                                ) if scored else math.nan
            delta = PairedDelta(math.nan, math.nan, math.nan)
            if previous is not None and scored:
                delta = paired_bootstrap(_matrices(scores, metric, scored),
                                         _matrices(previous, metric, scored),
                                         resamples=e.bootstrap_resamples, confidence=e.confidence)
            row[f"delta_{metric}"] = delta.delta
            row[f"delta_{metric}_ci_low"], row[f"delta_{metric}_ci_high"] = delta.low, delta.high
            row[f"delta_{metric}_text"] = str(delta)
        rows.append(row)
    return rows


def markdown(table: pd.DataFrame) -> str:
    """The mean rows as a budget table, then every target's metrics per budget."""
    mean = table[table["target"] == "mean"]
    lines = [("| examples | steps | train s | CPU s | examples/s | train loss | nll | rank acc | "
             "SoftEM | Δnll vs previous | Δrank acc | ΔSoftEM |"), "|" + "---|" * 12]
    for r in mean.itertuples(index=False):
        lines.append(f"| {r.budget:,} | {r.steps} | {r.train_seconds:.0f} | "
                     f"{r.train_cpu_seconds:.0f} | {r.train_examples_per_s:.1f} | "
                     f"{r.final_train_loss:.3f} | {r.nll:.3f} | {r.rank_acc:.1f} | {r.softem:.1f} | "
                     f"{r.delta_nll_text} | {r.delta_rank_acc_text} | {r.delta_softem_text} |")
    lines += ["", ("| target | examples | nll | rank acc | SoftEM | Δnll vs previous | Δrank acc | "
              "ΔSoftEM |"), "|" + "---|" * 8]
    for r in table[table["target"] != "mean"].sort_values(["target", "budget"]).itertuples(
            index=False):
        lines.append(f"| {r.target} | {r.budget:,} | {r.nll:.3f} | {r.rank_acc:.1f} | "
                     f"{r.softem:.1f} | {r.delta_nll_text} | {r.delta_rank_acc_text} | "
                     f"{r.delta_softem_text} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True, help="state folder for M and scores")
    parser.add_argument("--profile", default="small")
    parser.add_argument("--data-dir", type=Path, default=None, help="default: RECROSS_DATA_DIR")
    parser.add_argument("--budgets", default="4000,16000,48000", help="training examples, rising")
    parser.add_argument("--test-sample", type=int, default=200, help="test examples per target")
    parser.add_argument("--device", default=None, help="cpu / cuda / auto (default: the profile's)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--warmup-steps", type=int, default=30)
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="a setting over the profile's, e.g. upstream_training.save_steps=500, "
                             "generation.batch_size=128 (VALUE read as YAML); repeatable")
    parser.add_argument("--out", type=Path, default=None, help="default: HOME/reports/m_budget")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.threads:
        torch.set_num_threads(args.threads)
    overrides = {"home": str(args.home), **dotted_overrides(
        [*args.set, *([f"data.data_dir={args.data_dir}"] if args.data_dir else []),
         *([f"models.device={args.device}"] if args.device else [])])}
    base = load_settings(args.profile, overrides=overrides)
    budgets = [int(b) for b in args.budgets.split(",")]
    if budgets != sorted(set(budgets)):
        parser.error("--budgets must rise")
    out = args.out or args.home / "reports" / "m_budget"
    out.mkdir(parents=True, exist_ok=True)
    data_dir = resolve_data_dir(base.data.data_dir)
    pool = load_upstream_pool(data_dir, tasks=base.data.upstream_tasks,
                              cap_per_task=base.data.upstream_cap_per_task)
    tests = {t: load_target(data_dir, t, query_size=1, n_query_sets=1,
                            test_sample_size=args.test_sample).test for t in PRETEND_TARGETS}
    print(f"pool {len(pool)} examples; holdout {base.upstream_training.holdout_tasks}; "
          f"device {base.models.device}; test {args.test_sample} per target", flush=True)
    rows: list[dict] = []
    previous: pd.DataFrame | None = None
    steps_before = 0
    for budget in budgets:
        settings = budget_settings(base, budget, warmup_steps=args.warmup_steps)
        model_dir = args.home / "models" / "m_budget" / f"examples-{budget}"
        result = train_to(settings, pool, model_dir)
        trained = (result.steps - steps_before) * settings.upstream_training.batch_size
        print(f"budget {budget}: {result.steps} steps ({'trained' if result.trained else 'reused'}"
              f"), {result.seconds:.0f} s, CPU {result.cpu_seconds:.0f} s", flush=True)
        started = time.perf_counter()
        scores = score_budget(settings, model_dir, tests, out / f"examples-{budget}.csv")
        print(f"  evaluated in {time.perf_counter() - started:.0f} s", flush=True)
        rows += budget_rows(budget, result, trained, scores, previous, settings)
        previous, steps_before = scores, result.steps
        table = pd.DataFrame(rows)
        table.to_csv(out / "m_budget.csv", index=False)
        (out / "m_budget.md").write_text(markdown(table) + "\n", encoding="utf-8")
        (out / "upstream_training.json").write_text(json.dumps(result.to_json(), indent=2),
                                                        encoding="utf-8")
    print(markdown(pd.DataFrame(rows)))
    print(f"\nwritten: {out / 'm_budget.csv'}, {out / 'm_budget.md'}")


if __name__ == "__main__":
    main()
