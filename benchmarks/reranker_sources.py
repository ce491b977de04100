"""Does the reranker do better over SBERT's candidates than over M's own? Measured on the pretend-targets.

For each pretend-target (held out of M's training and of mining, so the reranker never saw it),
one query set of its own inputs retrieves ``--candidates`` distinct examples from the pool by
each first stage (``sbert``: the MiniLM index; ``upstream``: M's index, what ``recross``
reranks), the target's own task excluded as in retrieval. The reranker scores every
(query, candidate) pair; a candidate's score is the mean over the queries (METHOD.md step 3).
Reported per target and source, for the top ``--top`` of the first stage's own order and of the
reranked order: the share of examples from the target's close relatives (the family each
pretend-target was chosen for, recross.data.registry), and the reranker's AUC of relatives
against the other candidates. The relatives stand in for "helpful" (a probe on glue-mrpc:
sbert's R, 67% paws, lowered the gold loss most; issue 21). Re-run:

    HF_HUB_OFFLINE=1 OMP_NUM_THREADS=2 .venv/bin/python benchmarks/reranker_sources.py \
        --home /tmp/h-rerank/home --reranker /path/to/reranker --queries 4 --candidates 96 --top 32
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from recross.config import load_settings
from recross.data.registry import PRETEND_TARGETS
from recross.index.filters import TaskFilter
from recross.pipeline.indexes import OpenIndexes
from recross.pipeline.target_data import make_query_sets
from recross.pipeline.upstream import read_pool
from recross.reranking import CrossEncoderScorer, load_cross_encoder
from recross.reranking.cross_encoder import win_rate
from recross.retrieval import DenseRetrieval

# The relatives left in the pool for each pretend-target (recross.data.registry.PRETEND_TARGETS,
# as the pool names them; paws is paws_x-en here, and trec and multi_news have no data).
RELATIVES: dict[str, tuple[str, ...]] = {
    "glue-mrpc": ("paws_x-en", "glue-qqp"),
    "cos_e-v1.11": ("cosmos_qa", "social_i_qa", "qasc"),
    "rotten_tomatoes": ("imdb", "amazon_polarity", "yelp_review_full", "app_reviews"),
    "quoref": ("adversarial_qa-dbidaf", "adversarial_qa-dbert", "adversarial_qa-droberta",
               "duorc-SelfRC", "duorc-ParaphraseRC", "ropes"),
    "xsum": ("cnn_dailymail-3.0.0", "samsum", "gigaword"),
    "ag_news": ("dbpedia_14",),
}


def auc(scores: np.ndarray, positive: np.ndarray) -> float:
    pos, neg = scores[positive], scores[~positive]
    if not len(pos) or not len(neg):
        return float("nan")
    return win_rate(pos, neg)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True, help="state folder with both indexes")
    parser.add_argument("--reranker", type=Path, required=True)
    parser.add_argument("--profile", default="small")
    parser.add_argument("--queries", type=int, default=4)
    parser.add_argument("--candidates", type=int, default=96)
    parser.add_argument("--top", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--csv", type=Path, default=Path("reranker_sources.csv"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    settings = load_settings(args.profile, overrides={"home": str(args.home)})
    r = settings.reranker
    scorer = CrossEncoderScorer(load_cross_encoder(args.reranker, device="cpu",
                                                   max_length=r.max_length),
                                batch_size=r.score_batch_size, lowercase=r.lowercase,
                                score=r.score)
    pool = read_pool(settings)
    rows = []
    with OpenIndexes(settings, pool) as indexes:
        for target in PRETEND_TARGETS:
            queries = list(make_query_sets(settings, target)[0].inputs[:args.queries])
            relatives = set(RELATIVES[target])
            for source, name in (("sbert", "sbert"), ("upstream", "recross-dagger")):
                handle = indexes.get(source)  # type: ignore[arg-type]
                dense = DenseRetrieval(name, pool=pool, index=handle.index,
                                       encoder=handle.encoder, exclude_target_task=False)
                items = dense.candidates(queries, size=2 * args.candidates,
                                         filters=TaskFilter(exclude_tasks=(target,)))
                distinct = list({i.example.example_id: i.example for i in items}.values())
                cands = distinct[:args.candidates]
                family = np.array([c.task in relatives for c in cands])
                scores = scorer.score(queries, [c.input for c in cands]).mean(axis=0)
                reranked = np.argsort(-scores, kind="stable")[:args.top]
                rows.append({"target": target, "source": source, "candidates": len(cands),
                             "family_in_candidates": family.mean(),
                             "family_top_first_stage": family[:args.top].mean(),
                             "family_top_reranked": family[reranked].mean(),
                             "reranker_auc_family": auc(scores, family)})
                print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    table.to_csv(args.csv, index=False)
    means = table.groupby("source")[["family_in_candidates", "family_top_first_stage",
                                     "family_top_reranked", "reranker_auc_family"]].mean()
    print(f"\n| target | source | relatives in {args.candidates} candidates | in top {args.top}, "
          f"first stage | in top {args.top}, reranked | reranker AUC relatives vs rest |\n"
          "|---|---|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['target']} | {row['source']} | {row['family_in_candidates']:.2f} | "
              f"{row['family_top_first_stage']:.2f} | {row['family_top_reranked']:.2f} | "
              f"{row['reranker_auc_family']:.2f} |")
    for source, row in means.iterrows():
        print(f"| mean | {source} | {row.family_in_candidates:.2f} | "
              f"{row.family_top_first_stage:.2f} | {row.family_top_reranked:.2f} | "
              f"{row.reranker_auc_family:.2f} |")


if __name__ == "__main__":
    main()
