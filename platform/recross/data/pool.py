"""The upstream pool D: every prompted example of the upstream tasks, with where it came from.

Per task: ``upstream-5000.json``; else ``validation-1000.json`` (train-split rows) as a stand-in,
logged as such; else a warning that the task has no data here.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from recross.data.examples import Example, load_examples
from recross.data.registry import TaskRegistry
from recross.errors import DataError

if TYPE_CHECKING:  # pandas is imported where a frame is built: the CLI checks files without it
    import pandas as pd

log = logging.getLogger(__name__)

UPSTREAM_FILE = "upstream-5000.json"
STANDIN_FILE = "validation-1000.json"


@dataclass
class UpstreamPool:
    """The examples of D in a stable order, plus which file each task came from."""

    examples: list[Example]
    sources: dict[str, str] = field(default_factory=dict)  # task -> file name used
    missing: list[str] = field(default_factory=list)  # upstream tasks with no data here
    # tasks a user added (`recross upstream add`): indexed and retrievable, never trained on
    user_tasks: list[str] = field(default_factory=list)
    _by_id: dict[str, Example] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._by_id = {ex.example_id: ex for ex in self.examples}
        if len(self._by_id) != len(self.examples):
            dup = next(k for k, v in Counter(e.example_id for e in self.examples).items() if v > 1)
            raise DataError(f"the upstream pool holds the example id {dup!r} more than once. "
                            "Fix: remove the duplicated rows from the data files.")

    def __len__(self) -> int:
        return len(self.examples)

    def __contains__(self, example_id: object) -> bool:
        return example_id in self._by_id

    @property
    def tasks(self) -> list[str]:
        return sorted({ex.task for ex in self.examples})

    @property
    def templates(self) -> list[str]:
        return sorted({ex.template for ex in self.examples})

    def task_counts(self) -> dict[str, int]:
        return dict(sorted(Counter(ex.task for ex in self.examples).items()))

    def get(self, example_id: str) -> Example:
        try:
            return self._by_id[example_id]
        except KeyError:
            raise DataError(f"example id {example_id!r} is not in the upstream pool; the index was "
                            "built from another pool. Fix: rebuild the index.") from None

    def lookup(self, example_ids: Iterable[str]) -> list[Example]:
        return [self.get(i) for i in example_ids]

    def to_frame(self) -> pd.DataFrame:
        """One row per example, answers as lists: the ``upstream_pool`` asset's table."""
        import pandas as pd

        return pd.DataFrame.from_records([ex.to_record() for ex in self.examples])

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> UpstreamPool:
        examples = [Example(example_id=r.example_id, input=r.input, answers=tuple(r.answers),
                            task=r.task, split=r.split, template=r.template,
                            source_index=int(r.source_index), source_task=r.source_task)
                    for r in frame.itertuples(index=False)]
        return cls(examples=examples)


def upstream_file(folder: Path) -> str | None:
    """The file that holds an upstream task's examples: the pool file, else its stand-in."""
    for name in (UPSTREAM_FILE, STANDIN_FILE):
        if (folder / name).is_file():
            return name
    return None


def load_upstream_pool(data_dir: Path, *, tasks: Sequence[str] | None = None,
                       cap_per_task: int | None = None) -> UpstreamPool:
    """Load D from ``data_dir``: the registry's upstream tasks (or ``tasks``), capped per task.

    The cap keeps the first ``cap_per_task`` examples of each file (files are already shuffled
    samples), so a capped pool is a deterministic subset of the full one.
    """
    registry = TaskRegistry.from_data_dir(data_dir)
    chosen = list(tasks) if tasks is not None else list(registry.upstream)
    for task in chosen:
        registry.check(task, role="upstream task")
    examples: list[Example] = []
    sources: dict[str, str] = {}
    missing: list[str] = []
    for task in chosen:
        folder = data_dir / task
        file_name = upstream_file(folder)
        if file_name == STANDIN_FILE:
            log.info("upstream task %s: no %s, using %s (train-split rows) as a stand-in",
                     task, UPSTREAM_FILE, STANDIN_FILE)
        if file_name is None:
            log.warning("upstream task %s has no data in %s; it is left out of the pool",
                        task, data_dir)
            missing.append(task)
            continue
        loaded = load_examples(folder / file_name, task=task)
        examples.extend(loaded[:cap_per_task] if cap_per_task else loaded)
        sources[task] = file_name
    if not examples:
        raise DataError(f"no upstream examples found in {data_dir} for tasks {chosen}. "
                        "Fix: check RECROSS_DATA_DIR or run `recross data download`.")
    return UpstreamPool(examples=examples, sources=sources, missing=missing)
