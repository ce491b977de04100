"""What a model was trained and scored on, as MLflow datasets of its run (the runs table's
Dataset column): the retrieved set R ("training") and the test sample ("evaluation").

Each is logged with a digest of its rows (two runs on the same R show the same digest), its
source file, and its task distribution as an input tag.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Literal

import pandas as pd
from mlflow.data.pandas_dataset import from_pandas
from mlflow.entities import DatasetInput, InputTag

from recross.data import Example
from recross.tracking.runs import TrackedRun

DATASET_COLUMNS: tuple[str, ...] = ("example_id", "task", "template")
_SHOWN_TASKS = 8  # tasks named in the distribution tag; the rest are summed as "other"


def task_distribution_text(tasks: Sequence[str]) -> str:
    """``"samsum 34%, ag_news 20%, other 46%"``: the largest shares of a set's tasks."""
    shares = pd.Series(list(tasks), dtype=object).value_counts(normalize=True)
    shown = [f"{task} {100 * share:.0f}%" for task, share in shares.head(_SHOWN_TASKS).items()]
    rest = float(shares.iloc[_SHOWN_TASKS:].sum())
    return ", ".join(shown + ([f"other {100 * rest:.0f}%"] if rest > 0 else []))


def log_dataset(run: TrackedRun, rows: pd.DataFrame, *, name: str, source: str,
                context: Literal["training", "evaluation"]) -> str:
    """Log ``rows`` (:data:`DATASET_COLUMNS`) as an input of ``run``; returns its digest."""
    frame = rows[list(DATASET_COLUMNS)].reset_index(drop=True)
    with warnings.catch_warnings():  # MLflow warns when it guesses a local file's source type
        warnings.simplefilter("ignore")
        dataset = from_pandas(frame, source=source, name=name)
    tags = [InputTag("mlflow.data.context", context),
            InputTag("recross.task_distribution", task_distribution_text(frame["task"]))]
    run.tracker._guard("log a dataset", lambda: run.tracker.client.log_inputs(
        run.run_id, datasets=[DatasetInput(dataset._to_mlflow_entity(), tags)]))
    return dataset.digest


def test_sample_rows(test: Sequence[Example]) -> pd.DataFrame:
    """The test sample as dataset rows."""
    return pd.DataFrame([{"example_id": e.example_id, "task": e.task, "template": e.template}
                         for e in test], columns=list(DATASET_COLUMNS))
