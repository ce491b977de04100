"""A target's inputs: its seeded query sets Q (unlabelled) and its labelled test set E."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from recross.config import Settings
from recross.data import Example, QuerySet, load_target, resolve_data_dir
from recross.data.targets import draw_query_sets
from recross.data.user_files import read_labelled_examples, read_query_inputs
from recross.errors import MissingProductError
from recross.io import atomic_write_json
from recross.pipeline.target_registry import is_user_task, user_task_dir


def make_query_sets(settings: Settings, target: str) -> list[QuerySet]:
    """The target's query sets: seeded draws of |Q| inputs (a user task with <= |Q| inputs: one set)."""
    r = settings.retrieval
    if is_user_task(settings, target):
        inputs = read_query_inputs(user_task_dir(settings, target) / "queries.jsonl")
        if len(inputs) <= r.query_size:
            return [QuerySet(task=target, seed=0, inputs=tuple(inputs))]
        rows = [Example(example_id=f"{target}|user|-|#{i}", input=t, answers=(), task=target,
                        split="user", template="-", source_index=i, source_task=target)
                for i, t in enumerate(inputs)]
        return draw_query_sets(rows, task=target, size=r.query_size, n_sets=r.n_query_sets)
    return load_target(resolve_data_dir(settings.data.data_dir), target, query_size=r.query_size,
                       n_query_sets=r.n_query_sets).query_sets


def save_query_sets(path: Path, sets: Sequence[QuerySet]) -> None:
    atomic_write_json(path, [{"task": q.task, "seed": q.seed, "inputs": list(q.inputs),
                              "example_ids": list(q.example_ids)} for q in sets])


def load_query_sets(path: Path) -> list[QuerySet]:
    if not path.is_file():
        raise MissingProductError(f"{path}: no query sets. Fix: draw them first "
                                  "(make_query_sets, then save_query_sets).", product="query_sets")
    return [QuerySet(task=q["task"], seed=q["seed"], inputs=tuple(q["inputs"]),
                     example_ids=tuple(q["example_ids"])) for q in json.loads(path.read_text())]


def test_source(settings: Settings, target: str) -> str:
    """The file the test set E is read from (a dataset's source in MLflow)."""
    if is_user_task(settings, target):
        return str(user_task_dir(settings, target) / "test.jsonl")
    return str(resolve_data_dir(settings.data.data_dir) / target / "test-1000.json")


def test_examples(settings: Settings, target: str) -> list[Example] | None:
    """The labelled test set E (a user task: its labelled file, or None when it has none)."""
    if is_user_task(settings, target):
        path = user_task_dir(settings, target) / "test.jsonl"
        return read_labelled_examples(path, task=target) if path.is_file() else None
    return load_target(resolve_data_dir(settings.data.data_dir), target, query_size=1,
                       n_query_sets=1,
                       test_sample_size=settings.data.test_sample_size).test
