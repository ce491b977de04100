"""A user's own task files: unlabelled queries (JSONL / text / CSV) and labelled evaluation data.

Formats, chosen by extension:
- ``.jsonl``: one object per line with an ``input`` field (``answers`` optional, ignored for retrieval);
- ``.txt``: one input per line;
- ``.csv``: a header row; the inputs are in the column named by ``column`` (default ``input``).
Every problem (empty file, bad encoding, missing column, non-text values) is a DataError naming
the file, the line and the fix.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from recross.data.examples import Example
from recross.errors import DataError

SUPPORTED = (".jsonl", ".txt", ".csv")
LABELLED_SUFFIXES = (".jsonl", ".csv")  # the formats that can carry answers
REPEATS_SHOWN = 5  # repeated inputs named one by one in a warning; the rest are counted
# File names that say what a file holds, not which task it is: never a task's default name.
GENERIC_STEMS = frozenset({
    "queries", "query", "inputs", "input", "data", "dataset", "examples", "samples", "test",
    "train", "dev", "validation", "labelled", "labeled", "retrieved", "predictions", "task",
    "tasks", "file", "unlabelled", "unlabeled"})

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class UserRow:
    input: str
    answers: tuple[str, ...] | None  # None: unlabelled
    line: int  # 1-based line of the file, so messages can point at it


def _read_text(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: no such file. Fix: check the path.") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text (byte {exc.start}). Fix: save it as UTF-8.") from None
    if not text.strip():
        raise DataError(f"{path}: the file is empty. Fix: put at least one input in it.")
    return text


def _jsonl_rows(path: Path, text: str, field: str) -> list[UserRow]:
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{number}: not a JSON object ({exc.msg}). "
                            "Fix: one JSON object per line.") from None
        if not isinstance(obj, dict) or field not in obj:
            raise DataError(f"{path}:{number}: no {field!r} field. Fix: write lines like "
                            f'{{"{field}": "..."}} (or pass --column).')
        value = obj[field]
        if not isinstance(value, str) or not value.strip():
            raise DataError(f"{path}:{number}: {field!r} must be non-empty text, got "
                            f"{type(value).__name__}. Fix: quote it as a string.")
        answers = obj.get("answers")
        if answers is not None:
            if isinstance(answers, str):
                answers = [answers]
            if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
                raise DataError(f"{path}:{number}: 'answers' must be a string or a list of strings.")
            answers = tuple(answers)
        rows.append(UserRow(input=value, answers=answers, line=number))
    return rows


def _csv_rows(path: Path, text: str, field: str) -> list[UserRow]:
    reader = csv.DictReader(text.splitlines())
    if reader.fieldnames is None or field not in reader.fieldnames:
        raise DataError(f"{path}: no column {field!r} (columns: {', '.join(reader.fieldnames or [])}). "
                        "Fix: pass --column with the name of the input column.")
    rows = []
    for number, record in enumerate(reader, start=2):
        value = record.get(field)
        if value is None or not value.strip():
            raise DataError(f"{path}:{number}: empty {field!r} cell. Fix: remove the row or fill it.")
        answers = record.get("answers")
        rows.append(UserRow(input=value, answers=(answers,) if answers else None,
                            line=reader.line_num))
    return rows


def read_user_rows(path: Path, *, column: str = "input") -> list[UserRow]:
    """Read a query or labelled-data file in any supported format."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise DataError(f"{path}: unsupported file type {suffix or '(none)'}. "
                        f"Fix: use one of {', '.join(SUPPORTED)}.")
    text = _read_text(path)
    if suffix == ".jsonl":
        rows = _jsonl_rows(path, text, column)
    elif suffix == ".csv":
        rows = _csv_rows(path, text, column)
    else:
        rows = [UserRow(input=line, answers=None, line=number)
                for number, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if not rows:
        raise DataError(f"{path}: no inputs found. Fix: put at least one input in it.")
    return rows


def repeated_lines(rows: Sequence[UserRow]) -> dict[int, list[int]]:
    """Each input given more than once: {its first line: the lines that repeat it}."""
    first: dict[str, int] = {}
    repeats: dict[int, list[int]] = {}
    for row in rows:
        if row.input in first:
            repeats.setdefault(first[row.input], []).append(row.line)
        else:
            first[row.input] = row.line
    return repeats


def describe_repeats(repeats: dict[int, list[int]]) -> str:
    """``line 6 repeats line 4; lines 9, 12 repeat line 2`` (the first few, then a count)."""
    parts = [f"line {lines[0]} repeats line {first}" if len(lines) == 1 else
             f"lines {', '.join(map(str, lines))} repeat line {first}"
             for first, lines in list(repeats.items())[:REPEATS_SHOWN]]
    hidden = len(repeats) - REPEATS_SHOWN
    return "; ".join(parts) + (f"; and {hidden} more repeated inputs" if hidden > 0 else "")


def read_query_inputs(path: Path, *, column: str = "input", refuse_repeats: bool = False,
                      warn: Callable[[str], None] = log.warning) -> list[str]:
    """The distinct unlabelled inputs of a query file, in order (answers are dropped).

    Real query sets repeat inputs (a log of user inputs, BIG-bench's known_unknowns), and one
    query counted twice would weigh its neighbours double, so repeats are dropped with a warning
    naming their lines; ``refuse_repeats`` makes them an error instead.
    """
    rows = read_user_rows(path, column=column)
    repeats = repeated_lines(rows)
    inputs = list(dict.fromkeys(row.input for row in rows))
    if repeats and refuse_repeats:
        raise DataError(f"{path}: repeated inputs ({describe_repeats(repeats)}). Fix: "
                        "de-duplicate the file, or drop --refuse-repeats to use the "
                        f"{len(inputs)} distinct inputs.")
    if repeats:
        warn(f"{path}: {len(rows) - len(inputs)} repeated input(s) skipped "
             f"({describe_repeats(repeats)}); using the {len(inputs)} distinct inputs")
    return inputs


def user_task_name(name: str | None, default: str, *, source: str) -> str:
    """The task name runs and registered models are filed under: ``name`` when given, else
    ``default`` (a file's stem) unless it is generic, since every ``queries.jsonl`` would
    otherwise become one task called "queries"."""
    if name:
        return name
    if default.lower().rstrip("0123456789-_") in GENERIC_STEMS:
        raise DataError(f"{source}: the name {default!r} says what the file holds, not which task "
                        "it is, and would file every such task under one name. Fix: pass "
                        "--name MY_TASK.")
    return default


def read_labelled_examples(path: Path, *, task: str, column: str = "input") -> list[Example]:
    """Labelled examples for evaluation; every row needs answers."""
    examples = []
    for i, row in enumerate(read_user_rows(path, column=column)):
        if not row.answers:
            raise DataError(f"{path}: row {i + 1} has no answers; evaluation needs labelled data. "
                            "Fix: add an 'answers' field (JSONL) or column (CSV).")
        examples.append(Example(example_id=f"{task}|user|-|#{i}", input=row.input,
                                answers=row.answers, task=task, split="user", template="-",
                                source_index=i, source_task=task))
    return examples


def truncate_inputs(inputs: Sequence[str], *, tokenizer, max_length: int) -> tuple[list[str], int]:
    """Cut inputs to the model's limit; returns the texts and how many were truncated (to warn)."""
    out, cut = [], 0
    for text in inputs:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        if len(ids) > max_length:
            cut += 1
            text = tokenizer.decode(ids[:max_length], skip_special_tokens=True)
        out.append(text)
    return out, cut
