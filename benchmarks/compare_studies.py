"""Studies of the same targets one setting apart (e.g. full vs LoRA adaptation, or a sweep of
adaptation rates): each retriever's paired difference B - A per metric, with its interval.

Rows pair on (target, seed, test example): the query sets and test samples are drawn the same in
every study when their targets and test sample agree, and a study with one query set pairs with
the first query set of one with three. One ``--other``: per target and all@mean. Several (a
sweep): one row per study and retriever, all@mean only, so the candidates read side by side.

    python benchmarks/compare_studies.py --base pretend-cpu --other pretend-cpu-lora \
        --retrievers sbert,bm25 --config benchmarks/pretend-cpu.yaml
    python benchmarks/compare_studies.py --base pretend-cpu --retrievers random,sbert \
        --other pretend-lr1e-6,pretend-lr6e-6,pretend-lr1e-4 --config benchmarks/pretend-cpu.yaml
    python benchmarks/compare_studies.py --base pretend-cpu --other pretend-m16k \
        --other-home .recross-m16k --retrievers none,sbert --config benchmarks/pretend-cpu.yaml
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
from recross.config import load_settings
from recross.evaluation.comparison import (
    ALL_TASKS,
    EXAMPLE_COLUMNS,
    LOWER_IS_BETTER,
    compare_retrievers,
)
from recross.evaluation.intervals import PairedDelta
from recross.pipeline.comparisons import collect_example_tables
from recross.pipeline.reporting import collect_evaluations


def study_examples(profile: str, config: Path | None, study: str, retrievers: list[str],
                   home: Path | None = None) -> pd.DataFrame:
    """The per-example rows of ``retrievers`` in ``study``, retrievers renamed ``name@study``."""
    settings = load_settings(profile, config, overrides={
        "study": study, **({"home": str(home)} if home else {})})
    evaluations = collect_evaluations(settings)
    evaluations = evaluations[evaluations["retriever"].isin(retrievers)]
    rows = collect_example_tables(settings, evaluations)
    if rows.empty:
        raise SystemExit(f"study {study!r} has no evaluated {', '.join(retrievers)} yet. Fix: run "
                         "benchmarks/pretend_study.py for it first, or name other retrievers.")
    return rows.assign(retriever=rows["retriever"] + "@" + study)


def cell(d: PairedDelta) -> str:
    return f"{d.delta:+.2f} [{d.low:+.2f}, {d.high:+.2f}]{'' if d.holds_zero else ' (real)'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="study A")
    parser.add_argument("--other", required=True,
                        help="study B, or several comma-separated (each reported as B - A)")
    parser.add_argument("--retrievers", default="sbert")
    parser.add_argument("--profile", default="small")
    parser.add_argument("--config", type=Path, default=None)
    parser.add_argument("--other-home", type=Path, default=None,
                        help="state folder of the --other studies (default: the base's), e.g. "
                             "a study of another M in its own folder")
    args = parser.parse_args()
    retrievers, others = args.retrievers.split(","), args.other.split(",")
    rows = pd.concat([study_examples(args.profile, args.config, args.base, retrievers),
                      *(study_examples(args.profile, args.config, study, retrievers,
                                       home=args.other_home) for study in others)],
                     ignore_index=True)
    table = []
    for other in others:
        for retriever in retrievers:
            for metric in EXAMPLE_COLUMNS:
                deltas = compare_retrievers(rows, system=f"{retriever}@{other}",
                                            baseline=f"{retriever}@{args.base}", metric=metric)
                if len(others) > 1:
                    if ALL_TASKS in deltas:
                        table.append({"study": other, "retriever": retriever, "metric": metric,
                                      f"B - {args.base}": cell(deltas[ALL_TASKS])})
                    continue
                table += [{"retriever": retriever, "metric": metric, "target": target,
                           f"{other} - {args.base}": cell(d)} for target, d in deltas.items()]
    frame = pd.DataFrame(table)
    if len(others) > 1:
        frame = frame.pivot_table(index=["study", "retriever"], columns="metric",
                                  values=f"B - {args.base}", aggfunc="first").reset_index()
    print(f"B - A with A = {args.base}; 95% paired bootstrap intervals over shared (target, seed, "
          f"example); lower is better for {', '.join(sorted(LOWER_IS_BETTER))}\n")
    print(frame.to_markdown(index=False))


if __name__ == "__main__":
    main()
