"""The `Example` record and its parsing from the ReCross JSON layout.

A data file is one JSON array; each element is ``[input, [answers...], "task|split|template|#idx"]``.
Parsing errors name the file, the element index and what was expected.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recross.errors import DataError


@dataclass(frozen=True, slots=True)
class Example:
    """One prompted text-to-text example of a task.

    ``task`` is the registry name (the data folder, e.g. ``anli_r3``); ``source_task`` is the
    dataset named inside the id (``anli``). ``example_id`` is the id string of the data file,
    unique across the local data.
    """

    example_id: str
    input: str
    answers: tuple[str, ...]
    task: str
    split: str
    template: str
    source_index: int
    source_task: str

    def to_record(self) -> dict[str, Any]:
        """A flat dict (answers as a list) for tables, JSONL and payloads."""
        return {"example_id": self.example_id, "input": self.input, "answers": list(self.answers),
                "task": self.task, "split": self.split, "template": self.template,
                "source_index": self.source_index, "source_task": self.source_task}


_REPAIR = "Fix: repair or re-download the file (recross data download --force)."


def parse_example(raw: Any, *, task: str, where: str) -> Example:
    """Parse one element of a data file; ``where`` is ``"<file>[<index>]"`` for messages."""
    expected = 'a 3-element array ["<input>", ["<answer>", ...], "<task>|<split>|<template>|#<index>"]'
    if not isinstance(raw, list) or len(raw) != 3:
        raise DataError(f"{where}: expected {expected}, got {_describe(raw)}. {_REPAIR}")
    text, answers, ident = raw
    if not isinstance(text, str) or not text.strip():
        raise DataError(f"{where}: the input (element 0) must be non-empty text, got "
                        f"{_describe(text)}. {_REPAIR}")
    if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
        raise DataError(f"{where}: the answers (element 1) must be a list of strings, "
                        f"got {_describe(answers)}. {_REPAIR}")
    if not isinstance(ident, str) or ident.count("|") != 3 or "|#" not in ident:
        raise DataError(f"{where}: the id (element 2) must look like "
                        f"'<task>|<split>|<template>|#<index>', got {ident!r}. {_REPAIR}")
    source_task, split, template, index = ident.split("|")
    try:
        source_index = int(index.lstrip("#"))
    except ValueError:
        raise DataError(f"{where}: the id {ident!r} ends in {index!r}, not '#<integer>'. "
                        f"{_REPAIR}") from None
    return Example(example_id=ident, input=text, answers=tuple(answers), task=task, split=split,
                   template=template, source_index=source_index, source_task=source_task)


def load_examples(path: Path, *, task: str) -> list[Example]:
    """Read and validate a whole data file of ``task``; an empty file is an error."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: no such file. Fix: check the data directory "
                        "(RECROSS_DATA_DIR) or run `recross data download`.") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not valid JSON ({exc}); the file is malformed or truncated. "
                        "Fix: re-download it with `recross data download --force`.") from None
    if not isinstance(raw, list):
        raise DataError(f"{path}: expected a JSON array of examples, got {_describe(raw)}. "
                        f"{_REPAIR}")
    if not raw:
        raise DataError(f"{path}: the file holds no examples (task {task!r} is empty). "
                        "Fix: re-download it or leave the task out.")
    return [parse_example(item, task=task, where=f"{path}[{i}]") for i, item in enumerate(raw)]


def _describe(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    shown = text if len(text) <= 80 else text[:77] + "..."
    return f"{type(value).__name__} {shown}"
