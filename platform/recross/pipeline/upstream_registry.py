"""A user's own upstream tasks: labelled examples stored under ``RECROSS_HOME/upstream_tasks``.

`recross upstream add NAME --data FILE` stores the file's examples here; the task then is one
more partition of the upstream assets, indexed beside the data's tasks so retrieval can return
it and filters can name it. M is never trained on it (see the README).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from recross.config import Settings
from recross.data import Example, TaskRegistry, resolve_data_dir
from recross.data.user_files import read_labelled_examples
from recross.errors import DataError
from recross.io import atomic_write_bytes, atomic_write_json
from recross.paths import StatePaths, slug

SPEC_FILE = "task.json"  # written last: what makes the folder a task
EXAMPLES_FILE = "examples.jsonl"


def user_upstream_dir(settings: Settings, name: str) -> Path:
    return StatePaths(Path(settings.home)).user_upstream_tasks / slug(name)


def user_upstream_tasks(settings: Settings) -> list[str]:
    """The upstream tasks users added, by name (sorted: a stable partition order)."""
    root = StatePaths(Path(settings.home)).user_upstream_tasks
    return sorted(json.loads(p.read_text("utf-8"))["name"] for p in root.glob(f"*/{SPEC_FILE}"))


def _check_name(settings: Settings, name: str) -> None:
    if not name or name != slug(name) or "|" in name:
        raise DataError(f"upstream task name {name!r} is not a plain name. Fix: use letters, "
                        f"digits, '.', '_' or '-', e.g. {slug(name) or 'my_task'!r}.")
    registry = TaskRegistry.from_data_dir(resolve_data_dir(settings.data.data_dir))
    if name in registry.known:
        raise DataError(f"{name!r} is already a task of the data's registry; a user task would "
                        "shadow it. Fix: choose another name.")


def register_user_upstream(settings: Settings, name: str, data: Path, *, column: str = "input",
                           template: str | None = None) -> tuple[Path, int]:
    """Store the labelled ``data`` file as upstream task ``name``; returns (folder, examples).

    Every example gets ``task=name`` and ``template`` (default: ``name``), the payload fields
    retrieval filters on. The file is read and checked before anything is written, and the
    spec comes last, so a bad file leaves no half-added task. Adding a name again replaces its
    examples (their point ids follow the row numbers, so unchanged rows are not re-encoded).
    """
    _check_name(settings, name)
    examples = [dataclasses.replace(e, template=template or name)
                for e in read_labelled_examples(data, task=name, column=column)]
    if not examples:
        raise DataError(f"{data} holds no examples. Fix: give a file with labelled rows.")
    folder = user_upstream_dir(settings, name)
    atomic_write_bytes(folder / EXAMPLES_FILE, "".join(
        json.dumps(e.to_record()) + "\n" for e in examples).encode("utf-8"))
    atomic_write_json(folder / SPEC_FILE, {"name": name, "examples": len(examples),
                                           "template": template or name, "source": str(data)})
    return folder, len(examples)


def read_user_upstream(settings: Settings, name: str) -> list[Example]:
    """The stored examples of the user upstream task ``name``."""
    path = user_upstream_dir(settings, name) / EXAMPLES_FILE
    if not path.is_file():
        raise DataError(f"{name!r} is not a user upstream task here ({path} is missing). Fix: "
                        f"add it with `recross upstream add {name} --data FILE`.")
    rows = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line]
    return [Example(**{**row, "answers": tuple(row["answers"])}) for row in rows]
