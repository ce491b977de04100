"""docs/fidelity.md matches the profiles: every row's paper and small columns are what
``load_settings`` gives, and every reference-code choice the paper profile makes has a row."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest
from recross.config import Settings, load_settings

TABLE = Path(__file__).resolve().parents[1] / "docs" / "fidelity.md"
_CELL = re.compile(r"^`(.*)`$")


def _value(cell: str) -> Any:
    text = _CELL.match(cell.strip()).group(1)
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _rows() -> dict[str, dict[str, Any]]:
    rows = {}
    for line in TABLE.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 6 and _CELL.match(cells[0]) and _CELL.match(cells[3]):
            rows[_CELL.match(cells[0]).group(1)] = {
                "paper": _value(cells[3]), "small": _value(cells[4]), "file": cells[5]}
    return rows


def _setting(settings: Settings, dotted: str) -> Any:
    section, key = dotted.split(".")
    return getattr(getattr(settings, section), key)


def _same(table: Any, actual: Any) -> bool:
    if isinstance(actual, float) and isinstance(table, int | float):
        return table == pytest.approx(actual)
    return table == actual


def test_every_row_of_the_fidelity_table_is_what_the_profiles_load():
    paper, small = load_settings("paper", environ={}), load_settings("small", environ={})
    rows = _rows()
    assert len(rows) >= 25  # the table was parsed, not skipped
    wrong = {name: (row["paper"], _setting(paper, name), row["small"], _setting(small, name))
             for name, row in rows.items()
             if not (_same(row["paper"], _setting(paper, name))
                     and _same(row["small"], _setting(small, name)))}
    assert not wrong, f"docs/fidelity.md disagrees with config.py (table, loaded): {wrong}"
    assert all(row["file"].startswith(("metax/", "scripts/")) for row in rows.values())


def test_the_table_lists_every_reference_switch_of_the_paper_profile():
    paper = load_settings("paper", environ={})
    switches = {"index.upstream_distance", "models.input_format", "adaptation.lr_schedule",
                "adaptation.max_grad_norm", "adaptation.label_smoothing",
                "adaptation.answer_choice", "reranker.head", "reranker.score",
                "reranker.lowercase", "evaluation.empty_em_matches"}
    assert switches <= set(_rows())
    defaults = Settings()
    assert all(_setting(paper, s) != _setting(defaults, s) for s in switches)
