"""A user's query files: repeated inputs are warned about by line and dropped, never refused."""

from __future__ import annotations

import json

import pytest
from recross.data.user_files import read_query_inputs, read_user_rows, user_task_name
from recross.errors import DataError


def _jsonl(path, inputs):
    path.write_text("".join(json.dumps({"input": text}) + "\n" for text in inputs))
    return path


def test_repeated_inputs_are_dropped_with_a_warning_naming_their_lines(tmp_path):
    path = _jsonl(tmp_path / "log.jsonl", ["a", "b", "a", "c", "b", "a"])
    warnings: list[str] = []
    inputs = read_query_inputs(path, warn=warnings.append)
    assert inputs == ["a", "b", "c"]
    assert len(warnings) == 1
    assert "lines 3, 6 repeat line 1" in warnings[0]
    assert "line 5 repeats line 2" in warnings[0]
    assert "3 distinct inputs" in warnings[0]


def test_distinct_inputs_give_no_warning(tmp_path):
    warnings: list[str] = []
    assert read_query_inputs(_jsonl(tmp_path / "q.jsonl", ["a", "b"]),
                             warn=warnings.append) == ["a", "b"]
    assert warnings == []


def test_refuse_repeats_keeps_the_old_strictness_and_names_the_lines(tmp_path):
    path = _jsonl(tmp_path / "q.jsonl", ["a", "b", "a"])
    with pytest.raises(DataError, match="line 3 repeats line 1.*--refuse-repeats"):
        read_query_inputs(path, refuse_repeats=True)


def test_text_file_line_numbers_count_blank_lines(tmp_path):
    path = tmp_path / "q.txt"
    path.write_text("a\n\nb\na\n")
    assert [row.line for row in read_user_rows(path)] == [1, 3, 4]
    warnings: list[str] = []
    read_query_inputs(path, warn=warnings.append)
    assert "line 4 repeats line 1" in warnings[0]


def test_csv_line_numbers_count_the_header(tmp_path):
    path = tmp_path / "q.csv"
    path.write_text("input\nx\ny\nx\n")
    assert [row.line for row in read_user_rows(path)] == [2, 3, 4]


def test_many_repeats_are_counted_not_all_listed(tmp_path):
    path = _jsonl(tmp_path / "q.jsonl", [str(i) for i in range(8)] * 2)
    warnings: list[str] = []
    read_query_inputs(path, warn=warnings.append)
    assert "and 3 more repeated inputs" in warnings[0]
    assert "line 16" not in warnings[0]


@pytest.mark.parametrize("stem", ["queries", "inputs", "data", "Queries2", "test"])
def test_a_generic_file_name_is_never_a_task_name(stem):
    with pytest.raises(DataError, match="--name"):
        user_task_name(None, stem, source=f"{stem}.jsonl")


def test_a_task_name_is_the_given_name_else_a_specific_stem():
    assert user_task_name("reviews", "queries", source="queries.jsonl") == "reviews"
    assert user_task_name(None, "movie_reviews", source="movie_reviews.jsonl") == "movie_reviews"
