"""Reading results back: finished seed runs of a study as a tidy frame, and `recross compare`."""

from __future__ import annotations

import re

import mlflow
import pandas as pd

from recross.config import Settings
from recross.errors import TrackingError
from recross.evaluation.comparison import DELTA_COLUMNS
from recross.evaluation.reports import report_markdown
from recross.redaction import redact, secret_values
from recross.tracking.runs import METRICS
from recross.tracking.store import guarded, open_store, tracking_uri

RUN_COLUMNS: tuple[str, ...] = (
    "run_id", "parent_run_id", "target_task", "retriever", "seed", *METRICS, "upstream_model",
    "dagster_run_id", "start_time")


def _finished_runs(settings: Settings, experiment: str | None) -> pd.DataFrame:
    """Every finished run of the experiment, newest first (mlflow.search_runs' frame)."""
    name = experiment or settings.tracking.experiment
    store = tracking_uri(settings)
    secrets = secret_values(settings)
    client = open_store(store, secrets)
    if guarded(store, secrets, "find the experiment",
               lambda: client.get_experiment_by_name(name)) is None:
        raise TrackingError(f"no experiment {name!r} at {redact(store, secrets)}. Fix: run an "
                            "evaluation first, or set tracking.experiment / MLFLOW_TRACKING_URI "
                            "to the study you mean.")
    return guarded(store, secrets, "search runs", lambda: mlflow.search_runs(
        experiment_names=[name], filter_string="attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"]))


def fetch_runs(settings: Settings, *, experiment: str | None = None,
               latest_only: bool = True) -> pd.DataFrame:
    """Finished seed runs of the study as a tidy frame (``RUN_COLUMNS``), via mlflow.search_runs.

    ``latest_only`` keeps the newest run of each (target task, retriever, seed), so a
    re-materialized partition replaces, not duplicates, its numbers.
    """
    raw = _finished_runs(settings, experiment)
    frame = pd.DataFrame({column: pd.Series(dtype=object) for column in RUN_COLUMNS})
    needed = ("tags.target_task", "tags.retriever", "tags.seed")
    if raw.empty or any(column not in raw.columns for column in needed):
        return frame
    raw = raw.dropna(subset=list(needed))
    for column in RUN_COLUMNS:
        source = {"run_id": "run_id", "start_time": "start_time",
                  "parent_run_id": "tags.mlflow.parentRunId"}.get(column)
        source = source or (f"metrics.{column}" if column in METRICS else f"tags.{column}")
        frame[column] = raw[source].to_numpy() if source in raw.columns else None
    frame["seed"] = frame["seed"].astype(int)
    if latest_only:
        frame = frame.drop_duplicates(["target_task", "retriever", "seed"], keep="first")
    return frame.sort_values(["target_task", "retriever", "seed"]).reset_index(drop=True)


_DELTA_METRIC = re.compile(r"^metrics\.delta_(?P<metric>.+)_vs_(?P<vs>[a-z0-9-]+)$")


def fetch_deltas(settings: Settings, *, experiment: str | None = None) -> pd.DataFrame:
    """The paired deltas logged on the newest parent run of each (target task, retriever), as
    ``DELTA_COLUMNS`` rows (``delta_<metric>_vs_<baseline>`` with ``_ci_low`` / ``_ci_high``)."""
    raw = _finished_runs(settings, experiment)
    needed = ("tags.target_task", "tags.retriever")
    if raw.empty or any(column not in raw.columns for column in needed):
        return pd.DataFrame(columns=list(DELTA_COLUMNS))
    parents = raw.dropna(subset=list(needed))
    if "tags.seed" in parents.columns:
        parents = parents[parents["tags.seed"].isna()]
    parents = parents.drop_duplicates(list(needed), keep="first")
    rows = []
    for column in parents.columns:
        found = _DELTA_METRIC.match(column)
        if found is None:
            continue
        for _, run in parents.iterrows():
            delta = run[column]
            if pd.isna(delta):
                continue
            rows.append({"target_task": run["tags.target_task"],
                         "retriever": run["tags.retriever"], "vs": found["vs"],
                         "metric": found["metric"], "delta": float(delta),
                         "low": float(run.get(f"{column}_ci_low", float("nan"))),
                         "high": float(run.get(f"{column}_ci_high", float("nan")))})
    return pd.DataFrame(rows, columns=list(DELTA_COLUMNS))


def compare_table(settings: Settings, *, experiment: str | None = None) -> str:
    """`recross compare`: Table 1 per metric (SoftEM, gold NLL, rank accuracy and coverage;
    mean +- std per retriever), then each retriever's paired deltas vs none and vs random."""
    runs = fetch_runs(settings, experiment=experiment)
    if runs.empty:
        return (f"no finished evaluation runs in experiment "
                f"{experiment or settings.tracking.experiment!r}")
    deltas = fetch_deltas(settings, experiment=experiment)
    return report_markdown(runs, deltas, confidence=settings.evaluation.confidence)
