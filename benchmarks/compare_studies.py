"""Two studies of the same targets and query sets, one setting apart (e.g. full vs LoRA adaptation):
each retriever's paired difference B - A per metric, per target and all@mean, with its interval.

Rows pair on (target, seed, test example): the query sets and test samples are drawn the same in
both studies when their targets, query-set count and test sample agree.

    python benchmarks/compare_studies.py --base pretend-cpu --other pretend-cpu-lora \
        --retrievers sbert,bm25 --config benchmarks/pretend-cpu.yaml
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
from recross.config import load_settings
from recross.evaluation.comparison import EXAMPLE_COLUMNS, LOWER_IS_BETTER, compare_retrievers
from recross.pipeline.comparisons import collect_example_tables
from recross.pipeline.reporting import collect_evaluations


def study_examples(profile: str, config: Path | None, study: str,
                   retrievers: list[str]) -> pd.DataFrame:
    """The per-example rows of ``retrievers`` in ``study``, retrievers renamed ``name@study``."""
    settings = load_settings(profile, config, overrides={"study": study})
    evaluations = collect_evaluations(settings)
    evaluations = evaluations[evaluations["retriever"].isin(retrievers)]
    rows = collect_example_tables(settings, evaluations)
    if rows.empty:
        raise SystemExit(f"study {study!r} has no evaluated {', '.join(retrievers)} yet. Fix: run "
                         "benchmarks/pretend_study.py for it first, or name other retrievers.")
    return rows.assign(retriever=rows["retriever"] + "@" + study)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="study A")
    parser.add_argument("--other", required=True, help="study B (reported as B - A)")
    parser.add_argument("--retrievers", default="sbert")
    parser.add_argument("--profile", default="small")
    parser.add_argument("--config", type=Path, default=None)
    args = parser.parse_args()
    retrievers = args.retrievers.split(",")
    rows = pd.concat([study_examples(args.profile, args.config, study, retrievers)
                      for study in (args.base, args.other)], ignore_index=True)
    table = []
    for retriever in retrievers:
        for metric in EXAMPLE_COLUMNS:
            deltas = compare_retrievers(rows, system=f"{retriever}@{args.other}",
                                        baseline=f"{retriever}@{args.base}", metric=metric)
            for target, d in deltas.items():
                real = "" if d.holds_zero else " (real)"
                table.append({"retriever": retriever, "metric": metric, "target": target,
                              f"{args.other} - {args.base}":
                                  f"{d.delta:+.2f} [{d.low:+.2f}, {d.high:+.2f}]{real}"})
    print(f"B - A with B = {args.other}, A = {args.base}; 95% paired bootstrap intervals; "
          f"lower is better for {', '.join(sorted(LOWER_IS_BETTER))}\n")
    print(pd.DataFrame(table).to_markdown(index=False))


if __name__ == "__main__":
    main()
