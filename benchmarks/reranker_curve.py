"""Does the reranker learn something? Held-out pair accuracy and AUC against the number of mined tuples.

Reads one mining folder (tuples of ``mine_distant_supervision``), holds out whole pretend query
TASKS (a share of the tasks, seeded), and trains the profile's cross-encoder on nested prefixes
of the remaining tuples (12, 24, 48, ... in tuple order, which is a random order of tasks). Each
reranker is scored on the same held-out tuples, whose query tasks it never saw:

- pair accuracy: per held-out query, the share of (positive, negative) candidate pairs ranked
  the right way (ties half), averaged per tuple, then per task; 95% interval by the paired
  bootstrap of recross.evaluation.intervals (against chance 0.5, tuples resampled per task);
- AUC: positives against negatives over all held-out pairs; 95% interval by resampling held-out
  tuples (whole tuples: the pairs of one tuple share their candidates).

``--queries-per-tuple`` trains and scores only the first k queries of each tuple
(``reranker.queries_per_tuple``): a tuple's labels belong to its candidates, so its 16 queries
add little beyond the first few, at 16/k times the cost. Prints a markdown table and writes a
CSV; ``--save-best`` keeps the reranker with the highest AUC. Re-run (2 cores, ~0.3 s a pair):

    HF_HUB_OFFLINE=1 OMP_NUM_THREADS=2 .venv/bin/python benchmarks/reranker_curve.py \
        --mined /tmp/h-rerank/home/mining/<folder> --sizes 12,24,48,96 --queries-per-tuple 4 \
        --csv /tmp/reranker_curve.csv [--save-best /tmp/best-reranker]
"""

from __future__ import annotations

import argparse
import random
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from recross.config import load_settings
from recross.evaluation.intervals import paired_bootstrap
from recross.reranking import build_cross_encoder, read_mined
from recross.reranking.cross_encoder import fit_cross_encoder, pair_scores, pair_texts, win_rate


def split_by_task(pairs: pd.DataFrame, *, share: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training and held-out pairs, held out by query task (about ``share`` of the tuples)."""
    per_task = pairs.groupby("query_task")["tuple_id"].nunique().sort_index()
    tasks = random.Random(seed).sample(list(per_task.index), len(per_task))
    wanted, held = share * per_task.sum(), []
    for task in tasks:
        if sum(per_task[t] for t in held) >= wanted:
            break
        held.append(task)
    heldout = pairs.query_task.isin(held)
    return pairs[~heldout].reset_index(drop=True), pairs[heldout].reset_index(drop=True)


def accuracy_interval(frame: pd.DataFrame, *, resamples: int) -> tuple[float, float, float]:
    """Pair accuracy (mean over tasks of the mean over tuples) and its 95% interval."""
    per_query = frame.groupby(["query_task", "tuple_id", "query_index"]).apply(
        lambda g: win_rate(g.score[g.label == 1].to_numpy(), g.score[g.label == 0].to_numpy()),
        include_groups=False).rename("win").reset_index()
    per_tuple = per_query.groupby(["query_task", "tuple_id"]).win.mean()
    system = [per_tuple[task].to_numpy()[None, :] for task in per_tuple.index.unique(0)]
    delta = paired_bootstrap(system, [np.full_like(s, 0.5) for s in system], resamples=resamples)
    return 0.5 + delta.delta, 0.5 + delta.low, 0.5 + delta.high


def auc_interval(frame: pd.DataFrame, *, resamples: int, seed: int = 0) -> tuple[float, float, float]:
    """AUC of positives over negatives and its 95% interval (held-out tuples resampled)."""
    groups = {tid: (g.score[g.label == 1].to_numpy(), g.score[g.label == 0].to_numpy())
              for tid, g in frame.groupby("tuple_id")}
    ids = list(groups)
    def auc(chosen: list[int]) -> float:
        return win_rate(np.concatenate([groups[t][0] for t in chosen]),
                        np.concatenate([groups[t][1] for t in chosen]))
    rng = np.random.default_rng(seed)
    draws = [auc([ids[i] for i in rng.integers(0, len(ids), len(ids))]) for _ in range(resamples)]
    low, high = np.percentile(draws, [2.5, 97.5])
    return auc(ids), float(low), float(high)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mined", type=Path, required=True, help="a mining folder")
    parser.add_argument("--profile", default="small")
    parser.add_argument("--sizes", default="12,24,48,96", help="training tuples, nested")
    parser.add_argument("--heldout-share", type=float, default=0.25,
                        help="share of tuples held out, by whole query task")
    parser.add_argument("--queries-per-tuple", type=int, default=None)
    parser.add_argument("--epochs", type=float, default=None, help="default: the profile's")
    parser.add_argument("--learning-rate", type=float, default=None,
                        help="default: the profile's")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--resamples", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0, help="which tasks are held out")
    parser.add_argument("--csv", type=Path, default=Path("reranker_curve.csv"))
    parser.add_argument("--save-best", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    settings = load_settings(args.profile)
    r = settings.reranker
    r = r.model_copy(update={k: v for k, v in (("epochs", args.epochs),
                                                ("learning_rate", args.learning_rate))
                             if v is not None})
    pairs = read_mined(args.mined)
    if args.queries_per_tuple is not None:
        pairs = pairs[pairs.query_index < args.queries_per_tuple].reset_index(drop=True)
    train_all, heldout = split_by_task(pairs, share=args.heldout_share, seed=args.seed)
    order = sorted(train_all.tuple_id.unique())
    held_tasks = sorted(heldout.query_task.unique())
    print(f"{pairs.tuple_id.nunique()} tuples of {pairs.query_task.nunique()} query tasks; "
          f"held out: {heldout.tuple_id.nunique()} tuples of {len(held_tasks)} tasks "
          f"({', '.join(held_tasks)}), {len(heldout)} pairs; training pool {len(order)} tuples")
    heldout_pairs = pair_texts(heldout.query_text.tolist(), heldout.candidate_text.tolist(),
                               lowercase=r.lowercase)
    rows, best_auc = [], -1.0
    sizes = [n for n in (int(s) for s in args.sizes.split(",")) if n <= len(order)]
    for n in sizes:
        train = train_all[train_all.tuple_id.isin(order[:n])]
        model = build_cross_encoder(settings.models.reranker_base, max_length=r.max_length,
                                    seed=r.seed, device="cpu", head=r.head)
        started = time.perf_counter()
        fit_cross_encoder(model, train, settings=r, progress=False)
        seconds = time.perf_counter() - started
        scored = heldout.assign(score=pair_scores(model, heldout_pairs,
                                                  batch_size=r.score_batch_size, score=r.score))
        acc, acc_lo, acc_hi = accuracy_interval(scored, resamples=args.resamples)
        auc, auc_lo, auc_hi = auc_interval(scored, resamples=args.resamples)
        rows.append({"train_tuples": n, "train_tasks": train.query_task.nunique(),
                     "train_pairs": len(train), "pair_accuracy": acc, "acc_low": acc_lo,
                     "acc_high": acc_hi, "auc": auc, "auc_low": auc_lo, "auc_high": auc_hi,
                     "train_seconds": seconds})
        print(f"  {n} tuples: accuracy {acc:.3f} [{acc_lo:.3f}, {acc_hi:.3f}], AUC {auc:.3f} "
              f"[{auc_lo:.3f}, {auc_hi:.3f}], {seconds:.0f} s", flush=True)
        if args.save_best is not None and auc > best_auc:
            best_auc = auc
            shutil.rmtree(args.save_best, ignore_errors=True)
            model.save_pretrained(str(args.save_best))
    table = pd.DataFrame(rows)
    table.to_csv(args.csv, index=False)
    print("\n| train tuples (tasks) | train pairs | pair accuracy [95%] | AUC [95%] | train s |\n"
          "|---:|---:|---|---|---:|")
    for row in rows:
        print(f"| {row['train_tuples']} ({row['train_tasks']}) | {row['train_pairs']} | "
              f"{row['pair_accuracy']:.3f} [{row['acc_low']:.3f}, {row['acc_high']:.3f}] | "
              f"{row['auc']:.3f} [{row['auc_low']:.3f}, {row['auc_high']:.3f}] | "
              f"{row['train_seconds']:.0f} |")
    best = max(rows, key=lambda row: row["auc"])
    excludes = best["auc_low"] > 0.5 or best["auc_high"] < 0.5
    print(f"\nbest AUC {best['auc']:.3f} [{best['auc_low']:.3f}, {best['auc_high']:.3f}] with "
          f"{best['train_tuples']} tuples: the interval {'excludes' if excludes else 'contains'} "
          f"0.5. CSV: {args.csv}")


if __name__ == "__main__":
    main()
