"""Pretend-targets: upstream tasks used as targets, split so test and query rows never meet,
held out of M's training, and selectable by name wherever targets are listed."""

from __future__ import annotations

from pathlib import Path

import pytest
from recross.config import load_settings
from recross.data.registry import PAPER_TARGETS, PRETEND_TARGETS, expand_targets
from recross.data.targets import load_target
from recross.errors import DataError


@pytest.mark.parametrize("task", PRETEND_TARGETS)
def test_pretend_target_test_and_queries_share_no_source_row(data_dir: Path, task: str) -> None:
    target = load_target(data_dir, task, query_size=16, n_query_sets=3, test_sample_size=200)
    assert len(target.test) == 200 and len(target.query_sets) == 3
    assert all(e.answers for e in target.test)  # labelled
    test_rows = {e.source_index for e in target.test}
    query_rows = {int(i.rsplit("#", 1)[1]) for q in target.query_sets for i in q.example_ids}
    assert query_rows and not test_rows & query_rows
    again = load_target(data_dir, task, query_size=16, n_query_sets=3, test_sample_size=200)
    assert [e.example_id for e in again.test] == [e.example_id for e in target.test]  # seeded


def test_a_test_set_that_takes_every_row_names_the_fix(data_dir: Path) -> None:
    with pytest.raises(DataError, match="lower data.test_sample_size"):
        load_target(data_dir, "quoref", query_size=4, n_query_sets=1, test_sample_size=10**6)


def test_selection_names_expand_in_place_without_repeats() -> None:
    assert expand_targets(["all"]) == list(PAPER_TARGETS)
    assert expand_targets(["piqa", "pretend", "glue-mrpc"]) == ["piqa", *PRETEND_TARGETS]


def test_the_small_m_never_trains_on_a_pretend_target() -> None:
    holdout = load_settings("small", environ={}).upstream_training.holdout_tasks
    assert set(PRETEND_TARGETS) <= set(holdout)


def test_recross_targets_pretend_selects_the_pretend_targets() -> None:
    from recross_assets.main_job import chosen_targets

    settings = load_settings("small", environ={"RECROSS_TARGETS": "pretend"})
    assert chosen_targets(settings) == list(PRETEND_TARGETS)
    assert chosen_targets(load_settings("paper", environ={})) == list(PAPER_TARGETS)
