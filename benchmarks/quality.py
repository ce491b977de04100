"""Quality benchmark: the paper's protocol (Table 1 layout + heatmap) at the chosen scale.

Every target, N query sets, the five methods; runs the same Dagster asset graph as the main job
(one study per adaptation mode), reusing the upstream model, indexes and reranker in RECROSS_HOME.
`--modes full,lora` adds the full-vs-LoRA comparison (SoftEM, adaptation time, stored bytes).

    python benchmarks/quality.py --profile small --query-sets 2 --test-sample 200
    python benchmarks/quality.py --profile paper --query-sets 5          # on a GPU machine
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd
from recross.data.registry import expand_targets
from recross.paths import StatePaths
from recross.pipeline.layout import TargetPaths
from recross_assets.studies import run_study


def adaptation_cost(settings, targets, retrievers, seeds) -> dict[str, float]:
    """Mean adaptation seconds and stored bytes per adapted model of a study."""
    seconds, sizes = [], []
    for target in targets:
        for retriever in retrievers:
            for seed in seeds:
                folder = TargetPaths.of(settings, target, retriever).adapted(seed)
                record = folder / "recross_adapted.json"
                if record.is_file():
                    seconds.append(json.loads(record.read_text())["seconds"])
                    sizes.append(sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()))
    return {"adapt_seconds": sum(seconds) / max(len(seconds), 1),
            "stored_mb": sum(sizes) / max(len(sizes), 1) / 2**20, "models": len(sizes)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="small", choices=["tiny", "small", "paper"])
    parser.add_argument("--targets", default="all",
                        help="comma-separated tasks; 'all' (the paper's ten) and 'pretend' (the "
                             "pretend-targets) stand for their selections")
    parser.add_argument("--query-sets", type=int, default=2)
    parser.add_argument("--test-sample", type=int, default=200, help="0: whole test sets")
    parser.add_argument("--modes", default="full", help="full, lora or full,lora")
    parser.add_argument("--config", type=Path, default=None, help="base YAML config")
    args = parser.parse_args()
    targets = expand_targets(args.targets.split(","))
    sample = args.test_sample or None
    print(f"profile {args.profile}; {len(targets)} targets; {args.query_sets} query sets; "
          f"test sample {sample or 'all'} per target (fewer where a test set is smaller)")
    comparison = []
    for mode in args.modes.split(","):
        settings, result = run_study(args.profile, {
            "study": f"quality-{args.profile}-{mode}", "targets": targets,
            "tracking": {"experiment": f"recross-quality-{args.profile}"},
            "retrieval": {"n_query_sets": args.query_sets},
            "data": {"test_sample_size": sample}, "adaptation": {"mode": mode},
        }, base_config=args.config)
        print(f"\n## adaptation: {mode}  ({result.seconds / 60:.1f} min)\n")
        print(result.report_markdown)
        print(f"\nheatmap: {result.report_dir / 'task_shares.png'}")
        cost = adaptation_cost(settings, targets, result.retrievers, range(args.query_sets))
        comparison.append({"mode": mode, **cost,
                           "softem_all@mean (recross)": _overall(result.report_dir)})
    table = pd.DataFrame(comparison)
    print("\n" + table.to_markdown(index=False, floatfmt=".2f"))
    out = StatePaths(settings.home).reports / f"quality-{args.profile}-modes.csv"
    table.to_csv(out, index=False)
    print(f"saved {out}")


def _overall(report_dir: Path) -> float | None:
    table = pd.read_csv(report_dir / "table1.csv", index_col=0)
    return float(table.loc["all@mean", "recross"]) if "recross" in table.columns else None


if __name__ == "__main__":
    main()
