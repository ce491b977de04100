"""Which prompt templates list their answer choices (``choices_in_prompt.json`` of the data).

Rank classification reads the choices out of such prompts. The file is keyed by dataset name,
which is the data folder for most tasks and the id's source task for others (``anli_r3`` is
``anli`` there); a task it does not know has no template listing choices.
"""

from __future__ import annotations

import json
from pathlib import Path

from recross.errors import DataError

CHOICES_FILE = "choices_in_prompt.json"


def templates_listing_choices(data_dir: Path, *names: str) -> dict[str, bool]:
    """Template -> whether its prompt lists the choices, for the first of ``names`` the file
    knows (e.g. the task folder, then its source task); empty when none or no file."""
    path = Path(data_dir) / CHOICES_FILE
    if not path.is_file():
        return {}
    try:
        table = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path} is not valid JSON ({exc}). Fix: re-download the data "
                        "(recross data download --force).") from exc
    for name in names:
        found = table.get(name)
        if isinstance(found, dict):
            return {str(template): bool(flag) for template, flag in found.items()}
    return {}
