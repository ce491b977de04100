"""Reports of a study: the paper's Table 1 and its Figure 3 (retrieved upstream-task shares).

Table 1: per target task, mean +- std of a metric over the query sets, one column per retriever;
then the overall rows all@mean / median / min / max / std, where a *round* is the i-th query set
(seed index) of every task: average over tasks within a round, then summarise over rounds.
Standard deviations are population ones (ddof=0), so one query set gives 0, not NaN.
The report holds it for SoftEM, gold NLL and rank accuracy, then each retriever's paired delta
to none and to random with its interval (``comparison.py``), then the collapse diagnostics.

    >>> import pandas as pd
    >>> runs = pd.DataFrame({"target_task": ["cb", "cb", "wic", "wic"], "retriever": ["recross"] * 4,
    ...                      "seed": [0, 1, 0, 1], "softem": [40.0, 44.0, 50.0, 54.0]})
    >>> float(build_table1(runs).overall.loc["all@mean", "recross"])
    47.0
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from recross.evaluation.comparison import (
    ALL_TASKS,
    LOWER_IS_BETTER,
    PERCENT_METRICS,
    delta_cell,
)
from recross.io import atomic_write_bytes, atomic_write_text
from recross.retriever_names import RETRIEVERS

OVERALL_ROWS: tuple[str, ...] = ("all@mean", "all@median", "all@min", "all@max", "all@std")
EVALUATION_COLUMNS: tuple[str, ...] = ("target_task", "retriever", "seed")
DISTRIBUTION_COLUMNS: tuple[str, ...] = ("target_task", "retriever", "upstream_task", "share")
_ANNOTATE_MAX_CELLS = 200  # write the percentage in each cell only while it stays legible


def order_retrievers(names: Iterable[str]) -> list[str]:
    """The paper's column order (none, random, sbert, recross-dagger, recross), others after."""
    present = set(names)
    return [r for r in RETRIEVERS if r in present] + sorted(present - set(RETRIEVERS))


@dataclass(frozen=True)
class Table1:
    """Numbers of Table 1: ``mean``/``std`` are target task x retriever; ``overall`` is
    ``OVERALL_ROWS`` x retriever; ``rounds`` counts the complete rounds behind ``overall``."""

    metric: str
    mean: pd.DataFrame
    std: pd.DataFrame
    overall: pd.DataFrame
    rounds: dict[str, int]


def _require(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} frame lacks columns {missing}; it has {list(frame.columns)}")
    if frame.empty:
        raise ValueError(f"{what} frame is empty: nothing to report")


def build_table1(evaluations: pd.DataFrame, *, metric: str = "softem") -> Table1:
    """Table 1 from one row per (target_task, retriever, seed) with a ``metric`` column.

    Repeated rows of one (task, retriever, seed) are averaged. For the overall rows a retriever
    uses only the rounds in which every task it was evaluated on has a score.
    """
    _require(evaluations, (*EVALUATION_COLUMNS, metric), "evaluations")
    scores = (evaluations.dropna(subset=[metric])
              .groupby(list(EVALUATION_COLUMNS), as_index=False)[metric].mean())
    retrievers = order_retrievers(scores["retriever"])
    per_task = scores.groupby(["target_task", "retriever"])[metric]
    mean = per_task.mean().unstack("retriever").reindex(columns=retrievers)
    std = per_task.std(ddof=0).unstack("retriever").reindex(columns=retrievers)
    scores["round"] = scores.groupby(["target_task", "retriever"])["seed"].rank(method="dense")
    overall: dict[str, pd.Series] = {}
    rounds: dict[str, int] = {}
    for retriever, group in scores.groupby("retriever"):
        by_round = group.pivot(index="round", columns="target_task", values=metric).dropna()
        round_means = by_round.mean(axis=1)
        rounds[retriever] = len(round_means)
        overall[retriever] = pd.Series(
            [round_means.mean(), round_means.median(), round_means.min(), round_means.max(),
             round_means.std(ddof=0)], index=list(OVERALL_ROWS))
    overall_frame = pd.DataFrame(overall).reindex(columns=retrievers)
    return Table1(metric=metric, mean=mean, std=std, overall=overall_frame, rounds=rounds)


def table1_markdown(table: Table1, *, digits: int = 2) -> str:
    """Markdown of Table 1: ``mean ± std`` per task, the overall rows below, best mean in bold."""
    columns = list(table.mean.columns)
    header = f"| target task | {' | '.join(columns)} |"
    rounds = ", ".join(f"{r}: {table.rounds[r]}" for r in columns)
    unit = " (%)" if table.metric in PERCENT_METRICS else ""
    better = ", lower is better" if table.metric in LOWER_IS_BETTER else ""
    title = (f"Table 1: {table.metric}{unit}{better}, mean ± std over query sets; all@ rows over "
             f"rounds ({rounds}).")
    lines = [title, "", header, "|" + "---|" * (len(columns) + 1)]

    def row(label: str, values: pd.Series, cells: list[str], bold_best: bool) -> str:
        pick = values.min if table.metric in LOWER_IS_BETTER else values.max
        best = pick() if bold_best and values.notna().any() else None
        shown = [f"**{c}**" if best is not None and v == best else c
                 for c, v in zip(cells, values)]
        return f"| {label} | {' | '.join(shown)} |"

    for task in table.mean.index:
        means, stds = table.mean.loc[task], table.std.loc[task]
        cells = ["–" if pd.isna(m) else f"{m:.{digits}f} ± {s:.{digits}f}"
                 for m, s in zip(means, stds)]
        lines.append(row(task, means, cells, bold_best=True))
    for name in OVERALL_ROWS:
        values = table.overall.loc[name]
        cells = ["–" if pd.isna(v) else f"{v:.{digits}f}" for v in values]
        lines.append(row(name, values, cells, bold_best=name != "all@std"))
    return "\n".join(lines) + "\n"


def table1_frame(table: Table1) -> pd.DataFrame:
    """Table 1 as numbers: a row per task then the overall rows; per retriever ``<r>`` (mean,
    or the overall statistic) and ``<r>_std`` (std over query sets, empty on overall rows)."""
    columns: dict[str, pd.Series] = {}
    for retriever in table.mean.columns:
        columns[retriever] = pd.concat([table.mean[retriever], table.overall[retriever]])
        columns[f"{retriever}_std"] = table.std[retriever].reindex(
            [*table.mean.index, *OVERALL_ROWS])
    frame = pd.DataFrame(columns)
    frame.index.name = "row"
    return frame


def task_share_matrix(distributions: pd.DataFrame) -> pd.DataFrame:
    """Mean share of each upstream task (columns) per (retriever, target_task) (row index).

    With a ``seed`` column, a task missing from one seed's retrieved set counts as 0 there.
    Upstream tasks are ordered by their total share, largest first.
    """
    _require(distributions, DISTRIBUTION_COLUMNS, "task-distribution")
    keys = ["retriever", "target_task", *(["seed"] if "seed" in distributions.columns else [])]
    wide = distributions.pivot_table(index=keys, columns="upstream_task", values="share",
                                     aggfunc="sum", fill_value=0.0)
    wide = wide.groupby(level=["retriever", "target_task"]).mean()
    return wide[wide.sum().sort_values(ascending=False, kind="stable").index]


def plot_task_shares(distributions: pd.DataFrame, path: Path) -> Path:
    """Figure 3: a heatmap per retriever (targets as rows, upstream tasks as columns) -> PNG.

    Uses a bare ``Figure`` (Agg canvas), so it neither needs a display nor touches pyplot state.
    """
    shares = task_share_matrix(distributions)
    retrievers = order_retrievers(shares.index.get_level_values("retriever"))
    targets = sorted(shares.index.get_level_values("target_task").unique())
    upstream = list(shares.columns)
    vmax = max(float(shares.to_numpy().max()), 1e-9)
    width = max(6.0, 0.32 * len(upstream) + 3.0)
    panel_height = 0.35 * len(targets) + 1.4
    figure = Figure(figsize=(width, panel_height * len(retrievers) + 1.6), layout="constrained")
    axes = figure.subplots(len(retrievers), 1, squeeze=False, sharex=True)[:, 0]
    annotate = len(targets) * len(upstream) <= _ANNOTATE_MAX_CELLS
    image = None
    for ax, retriever in zip(axes, retrievers):
        panel = shares.loc[retriever].reindex(index=targets, columns=upstream, fill_value=0.0)
        image = ax.imshow(panel.to_numpy(), aspect="auto", cmap="Blues", vmin=0.0, vmax=vmax)
        ax.set_title(retriever, fontsize=10, loc="left")
        ax.set_yticks(range(len(targets)), labels=targets, fontsize=8)
        ax.set_xticks(range(len(upstream)), labels=upstream, rotation=90, fontsize=8)
        ax.set_ylabel("target task", fontsize=8)
        if annotate:
            for (row, col), value in pd.DataFrame(panel.to_numpy()).stack().items():
                if value > 0:
                    ax.text(col, row, f"{100 * value:.0f}", ha="center", va="center", fontsize=6,
                            color="white" if value > 0.6 * vmax else "black")
    axes[-1].set_xlabel("upstream task", fontsize=8)
    if image is not None:  # None only for a table without retrievers: nothing to scale
        figure.colorbar(image, ax=list(axes), label="share of the retrieved set", shrink=0.8)
    figure.suptitle("Upstream tasks in the retrieved sets (Figure 3)", fontsize=11)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=120)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def delta_markdown(deltas: pd.DataFrame, *, baseline: str, metric: str,
                   confidence: float = 0.95) -> str:
    """One delta table: every retriever minus ``baseline`` on ``metric``, per task and all@mean,
    as ``+1.50 [-0.40, +3.20]``; a difference whose interval holds 0 reads "no difference"."""
    chosen = deltas[(deltas["vs"] == baseline) & (deltas["metric"] == metric)]
    if chosen.empty:
        return ""
    retrievers = order_retrievers(chosen["retriever"])
    found = set(chosen["target_task"])
    tasks = sorted(found - {ALL_TASKS}) + ([ALL_TASKS] if ALL_TASKS in found else [])
    cells = {(r.target_task, r.retriever): delta_cell(r.delta, r.low, r.high)
             for r in chosen.itertuples(index=False)}
    better = "lower" if metric in LOWER_IS_BETTER else "higher"
    title = (f"Δ {metric} vs {baseline} ({better} is better), {100 * confidence:.0f}% paired "
             "bootstrap interval over test examples and query sets.")
    lines = [title, "",
             f"| target task | {' | '.join(retrievers)} |", "|" + "---|" * (len(retrievers) + 1)]
    for task in tasks:
        lines.append(f"| {task} | {' | '.join(cells.get((task, r), '–') for r in retrievers)} |")
    return "\n".join(lines) + "\n"


REPORTED_METRICS: tuple[str, ...] = ("softem", "nll", "rank_acc", "rank_coverage")
DELTA_METRICS: tuple[str, ...] = ("softem", "nll", "rank_acc")


def report_markdown(evaluations: pd.DataFrame, deltas: pd.DataFrame | None = None, *,
                    warnings: Iterable[str] = (), confidence: float = 0.95) -> str:
    """Table 1 for SoftEM, gold NLL, rank accuracy and its coverage (those the evaluations
    have), the delta tables vs none and vs random, then the diagnostics in sentences."""
    parts = [table1_markdown(build_table1(evaluations, metric=m)) for m in REPORTED_METRICS
             if m in evaluations.columns and evaluations[m].notna().any()]
    if deltas is not None and not deltas.empty:
        parts += [text for b in ("none", "random") for m in DELTA_METRICS
                  if (text := delta_markdown(deltas, baseline=b, metric=m, confidence=confidence))]
    notes = list(warnings)
    if notes:
        parts.append("Diagnostics:\n\n" + "".join(f"- {note}\n" for note in notes))
    return "\n".join(parts)


@dataclass(frozen=True)
class ReportPaths:
    table_markdown: Path
    table_csv: Path
    shares_csv: Path | None
    heatmap_png: Path | None
    deltas_csv: Path | None = None


def write_report(out_dir: Path, evaluations: pd.DataFrame,
                 distributions: pd.DataFrame | None = None, *,
                 metric: str = "softem", deltas: pd.DataFrame | None = None,
                 warnings: Iterable[str] = (), confidence: float = 0.95) -> ReportPaths:
    """Write Table 1 (Markdown: every reported metric, deltas and diagnostics; CSV: ``metric``),
    the deltas (CSV) and, with distributions, Figure 3 (CSV of shares + PNG)."""
    table = build_table1(evaluations, metric=metric)
    markdown, csv = out_dir / "table1.md", out_dir / "table1.csv"
    atomic_write_text(markdown, report_markdown(evaluations, deltas, warnings=warnings,
                                                confidence=confidence))
    atomic_write_text(csv, table1_frame(table).to_csv())
    deltas_csv = None
    if deltas is not None and not deltas.empty:
        deltas_csv = out_dir / "deltas.csv"
        atomic_write_text(deltas_csv, deltas.to_csv(index=False))
    if distributions is None or distributions.empty:
        return ReportPaths(markdown, csv, None, None, deltas_csv)
    shares_csv = out_dir / "task_shares.csv"
    atomic_write_text(shares_csv, task_share_matrix(distributions).to_csv())
    png = plot_task_shares(distributions, out_dir / "task_shares.png")
    return ReportPaths(markdown, csv, shares_csv, png, deltas_csv)
