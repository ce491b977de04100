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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from recross.data.examples import Example
from recross.errors import DataError

SUPPORTED = (".jsonl", ".txt", ".csv")


@dataclass(frozen=True)
class UserRow:
    input: str
    answers: tuple[str, ...] | None  # None: unlabelled


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
        rows.append(UserRow(input=value, answers=answers))
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
        rows.append(UserRow(input=value, answers=(answers,) if answers else None))
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
        rows = [UserRow(input=line, answers=None) for line in text.splitlines() if line.strip()]
    if not rows:
        raise DataError(f"{path}: no inputs found. Fix: put at least one input in it.")
    return rows


def read_query_inputs(path: Path, *, column: str = "input") -> list[str]:
    """The unlabelled inputs of a query file, de-duplicated in order (answers are dropped)."""
    return list(dict.fromkeys(row.input for row in read_user_rows(path, column=column)))


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
