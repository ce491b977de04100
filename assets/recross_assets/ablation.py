"""Ablations (the paper's Table 3): ReCross with one of |Q|, |R|, mu changed at a time."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd
from recross.evaluation.reports import build_table1
from recross.pipeline.reporting import collect_evaluations

from recross_assets.studies import run_study

# METHOD.md "Ablations": the values the paper varied, the main setting being |Q|=16, |R|=512, mu=2.
GRID: dict[str, tuple[str, str, tuple[float, ...]]] = {
    "|Q|": ("retrieval", "query_size", (1, 8, 16, 32)),
    "|R|": ("retrieval", "retrieved_size", (256, 512, 1024)),
    "mu": ("retrieval", "upsample_ratio", (2, 3, 4)),
}


def run_ablation(profile: str, *, targets: Sequence[str], n_query_sets: int,
                 test_sample_size: int | None, retriever: str = "recross",
                 base_config: Path | None = None,
                 echo: Callable[[str], None] = print) -> pd.DataFrame:
    """One study per grid cell; returns Table 3: a row per setting, SoftEM per target + all@mean."""
    rows = []
    for label, (section, key, values) in GRID.items():
        for value in values:
            study = f"ablation-{key}-{value}"
            echo(f"[recross] ablation {label}={value}")
            settings, _ = run_study(profile, {
                "study": study, "targets": list(targets), "retrievers": [retriever],
                "tracking": {"experiment": "recross-ablations"},
                "data": {"test_sample_size": test_sample_size},
                section: {key: value, "n_query_sets": n_query_sets},
            }, base_config=base_config, echo=echo)
            table = build_table1(collect_evaluations(settings))
            row = {"setting": f"{label}={value:g}"}
            row.update({t: table.mean.loc[t, retriever] for t in table.mean.index})
            row["all@mean"] = table.overall.loc["all@mean", retriever]
            rows.append(row)
    return pd.DataFrame(rows)
