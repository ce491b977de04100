"""Task shares of retrieved sets: the table behind the paper's Figure 3."""

from __future__ import annotations

import pytest
from recross.retrieval import DenseRetrieval, distribution_matrix, task_distribution


def test_task_shares_count_duplicates_and_sum_to_one(hand_pool, hand_index, axis_encoder,
                                                     make_queries):
    retrieved = DenseRetrieval("recross-dagger", pool=hand_pool, index=hand_index,
                               encoder=axis_encoder).retrieve(make_queries(), size=6)
    table = task_distribution(retrieved, tasks=["alpha", "beta", "gamma", "delta", "unused"])
    assert table.set_index("task")["count"].to_dict() == {
        "alpha": 3, "beta": 1, "gamma": 1, "delta": 1, "unused": 0}
    assert table.share.sum() == pytest.approx(1.0)
    assert table.set_index("task").share["alpha"] == pytest.approx(0.5)


def test_distribution_matrix_has_targets_as_rows_and_tasks_as_columns(
        hand_pool, hand_index, axis_encoder, make_queries):
    dense = DenseRetrieval("recross-dagger", pool=hand_pool, index=hand_index,
                           encoder=axis_encoder)
    rows = {"t1": [dense.retrieve(make_queries(task="t1"), size=6)],
            "t2": [dense.retrieve(make_queries(task="t2", n=1), size=2),
                   dense.retrieve(make_queries(task="t2", n=1), size=2)]}
    matrix = distribution_matrix(rows, tasks=["alpha", "beta", "gamma", "delta"])
    assert list(matrix.index) == ["t1", "t2"]
    assert matrix.loc["t2"].to_dict() == {"alpha": 0.5, "beta": 0.5, "gamma": 0.0, "delta": 0.0}
    assert matrix.sum(axis=1).tolist() == pytest.approx([1.0, 1.0])
