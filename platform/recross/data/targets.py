"""Target (unseen) tasks: the labelled test set E and the unlabelled query sets Q.

A paper target: query sets are drawn from ``validation-1000.json`` (train-split rows), so they
never overlap the test set, which comes from ``test-1000.json`` (the official validation split).
A pretend-target (an upstream task used as a target, see ``PRETEND_TARGETS``) has one file: its
source rows are split by a seeded shuffle into test rows and query rows, so no source row (under
any template) is in both.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from recross.data.examples import Example, load_examples
from recross.data.pool import upstream_file
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
    seen: dict[object, int] = {}  # every input is a str by now (checked above)
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
    registry = TaskRegistry.from_data_dir(data_dir)
    registry.check(task, role="target task")
    folder = data_dir / task
    if not (folder / TEST_FILE).is_file():
        if task in registry.upstream and upstream_file(folder) is not None:
            return _pretend_target(folder, task, query_size=query_size,
                                   n_query_sets=n_query_sets, test_sample_size=test_sample_size,
                                   base_seed=base_seed)
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


# Share of a pretend-target's source rows kept for its test set when no sample size is given.
PRETEND_TEST_SHARE = 0.5


def _pretend_target(folder: Path, task: str, *, query_size: int, n_query_sets: int,
                    test_sample_size: int | None, base_seed: int) -> TargetTask:
    """An upstream task as a target: source rows shuffled (seeded), the first ones tested (up to
    ``test_sample_size`` examples), query sets drawn from the remaining rows only."""
    rows = load_examples(folder / str(upstream_file(folder)), task=task)
    by_source: dict[int, list[Example]] = {}
    for example in rows:
        by_source.setdefault(example.source_index, []).append(example)
    order = sorted(by_source)
    random.Random(base_seed).shuffle(order)
    wanted = test_sample_size or int(len(rows) * PRETEND_TEST_SHARE)
    test: list[Example] = []
    cut = 0
    while cut < len(order) and len(test) < wanted:
        test.extend(by_source[order[cut]])
        cut += 1
    test = test[:wanted]
    queries = [e for source in order[cut:] for e in by_source[source]]
    if not queries:
        raise DataError(f"pretend-target {task!r} has {len(rows)} examples, all taken by its test "
                        f"set of {wanted}. Fix: lower data.test_sample_size.")
    sets = draw_query_sets(queries, task=task, size=query_size, n_sets=n_query_sets,
                           base_seed=base_seed)
    return TargetTask(name=task, test=test, query_sets=sets)
