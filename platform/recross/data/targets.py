"""Target (unseen) tasks: the labelled test set E and the unlabelled query sets Q.

Query sets are drawn from ``validation-1000.json`` (train-split rows), so they never overlap the
test set, which comes from ``test-1000.json`` (the official validation split).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from recross.data.examples import Example, load_examples
from recross.data.registry import TaskRegistry
from recross.errors import DataError

TEST_FILE = "test-1000.json"
QUERY_FILE = "validation-1000.json"


@dataclass(frozen=True)
class QuerySet:
    """The unlabelled query inputs Q of a target task. Holds no answers, by construction."""

    task: str
    seed: int
    inputs: tuple[str, ...]
    example_ids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        validate_query_inputs(self.inputs, where=f"query set of {self.task!r} (seed {self.seed})")

    def __len__(self) -> int:
        return len(self.inputs)


def validate_query_inputs(inputs: Sequence[object], *, where: str = "query set",
                          max_size: int | None = None) -> None:
    """Reject empty, non-text, blank, duplicated or over-long query sets with a clear message."""
    if len(inputs) == 0:
        raise DataError(f"{where} is empty. Fix: give at least one unlabelled input of the task.")
    if max_size is not None and len(inputs) > max_size:
        raise DataError(f"{where} has {len(inputs)} inputs, more than the limit {max_size}. "
                        "Fix: sample fewer queries (the method needs only a handful, e.g. 16).")
    for i, text in enumerate(inputs):
        if not isinstance(text, str):
            raise DataError(f"{where}: input {i} is {type(text).__name__}, not text. "
                            "Fix: give every query as a string.")
        if not text.strip():
            raise DataError(f"{where}: input {i} is blank. Fix: remove empty lines/rows.")
    seen: dict[str, int] = {}
    for i, text in enumerate(inputs):
        if text in seen:
            raise DataError(f"{where}: inputs {seen[text]} and {i} are identical. "
                            "Fix: de-duplicate the queries.")
        seen[text] = i


@dataclass(frozen=True)
class TargetTask:
    """A target task: its test set E (labelled) and its query sets Q_1..Q_n (unlabelled)."""

    name: str
    test: list[Example]
    query_sets: list[QuerySet]


def draw_query_sets(candidates: Sequence[Example], *, task: str, size: int, n_sets: int,
                    base_seed: int = 0) -> list[QuerySet]:
    """``n_sets`` seeded samples of ``size`` distinct inputs; seed ``base_seed + i`` for set i."""
    unique: dict[str, Example] = {}
    for ex in candidates:
        unique.setdefault(ex.input, ex)
    pool = list(unique.values())
    if size > len(pool):
        raise DataError(f"task {task!r} has {len(pool)} distinct query candidates, fewer than "
                        f"|Q|={size}. Fix: lower retrieval.query_size.")
    sets = []
    for i in range(n_sets):
        seed = base_seed + i
        picked = random.Random(seed).sample(pool, size)
        sets.append(QuerySet(task=task, seed=seed, inputs=tuple(e.input for e in picked),
                             example_ids=tuple(e.example_id for e in picked)))
    return sets


def load_target(data_dir: Path, task: str, *, query_size: int, n_query_sets: int,
                test_sample_size: int | None = None, base_seed: int = 0) -> TargetTask:
    """Load a target's test set (optionally a seeded subsample) and its query sets."""
    TaskRegistry.from_data_dir(data_dir).check(task, role="target task")
    folder = data_dir / task
    if not (folder / TEST_FILE).is_file():
        raise DataError(f"target task {task!r} has no {TEST_FILE} in {folder}. "
                        "Fix: run `recross data download` or choose one of the paper's targets.")
    test = load_examples(folder / TEST_FILE, task=task)
    if test_sample_size is not None and test_sample_size < len(test):
        test = random.Random(base_seed).sample(test, test_sample_size)
    queries = load_examples(folder / QUERY_FILE, task=task)
    test_inputs = {ex.input for ex in test}
    queries = [ex for ex in queries if ex.input not in test_inputs]
    sets = draw_query_sets(queries, task=task, size=query_size, n_sets=n_query_sets,
                           base_seed=base_seed)
    return TargetTask(name=task, test=test, query_sets=sets)
