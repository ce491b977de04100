"""Which targets a partition can name: the paper's targets with data, and users' own tasks
(a query file and an optional labelled file stored under ``RECROSS_HOME/tasks/NAME``)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

from recross.config import Settings
from recross.data import PAPER_TARGETS, resolve_data_dir
from recross.data.pool import upstream_file
from recross.data.registry import PRETEND_TARGETS
from recross.data.user_files import read_labelled_examples, read_query_inputs
from recross.io import atomic_write_bytes, atomic_write_json
from recross.paths import StatePaths, slug

log = logging.getLogger(__name__)


def user_task_dir(settings: Settings, name: str) -> Path:
    return StatePaths(Path(settings.home)).user_tasks / slug(name)


def is_user_task(settings: Settings, name: str) -> bool:
    return (user_task_dir(settings, name) / "task.json").is_file()


def register_user_task(settings: Settings, name: str, queries: Path, *,
                       labelled: Path | None = None, column: str = "input",
                       refuse_repeats: bool = False,
                       warn: Callable[[str], None] = log.warning) -> Path:
    """Store a user's query file (and optional labelled file) under RECROSS_HOME/tasks/NAME.

    Both files are read and checked before anything is written, and ``task.json`` (what makes
    the folder a task) comes last, so a bad file leaves no half-added task behind.
    """
    inputs = read_query_inputs(queries, column=column, refuse_repeats=refuse_repeats, warn=warn)
    examples = (None if labelled is None
                else read_labelled_examples(labelled, task=name, column=column))
    folder = user_task_dir(settings, name)
    atomic_write_bytes(folder / "queries.jsonl", "".join(
        json.dumps({"input": text}) + "\n" for text in inputs).encode("utf-8"))
    spec: dict[str, object] = {"name": name, "queries": len(inputs), "source": str(queries)}
    if examples is not None:
        atomic_write_bytes(folder / "test.jsonl", "".join(
            json.dumps({"input": e.input, "answers": list(e.answers)}) + "\n"
            for e in examples).encode("utf-8"))
        spec["test_examples"] = len(examples)
    atomic_write_json(folder / "task.json", spec)
    return folder


def known_targets(settings: Settings) -> list[str]:
    """Every target a partition can name: the paper's targets and the pretend-targets with data,
    then the user's tasks."""
    data_dir = resolve_data_dir(settings.data.data_dir)
    paper = [t for t in PAPER_TARGETS if (data_dir / t / "test-1000.json").is_file()]
    pretend = [t for t in PRETEND_TARGETS if upstream_file(data_dir / t) is not None]
    users_root = StatePaths(Path(settings.home)).user_tasks
    users = sorted(p.parent.name for p in users_root.glob("*/task.json"))
    return paper + pretend + [u for u in users if u not in paper + pretend]
