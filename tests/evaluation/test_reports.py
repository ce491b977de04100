"""Table 1 numbers on hand-made evaluations whose answers are known; the Figure 3 heatmap."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from recross.evaluation import reports
from recross.evaluation.reports import (
    build_table1,
    order_retrievers,
    plot_task_shares,
    table1_markdown,
    task_share_matrix,
    write_report,
)


def _evaluations() -> pd.DataFrame:
    """Two tasks x two retrievers x three seeds; task wic uses other seed values than cb."""
    rows = []
    for retriever, cb, wic in (("recross", (40.0, 42.0, 44.0), (60.0, 62.0, 70.0)),
                               ("random", (30.0, 30.0, 30.0), (50.0, 53.0, 56.0))):
        rows += [("super_glue-cb", retriever, seed, s) for seed, s in zip((0, 1, 2), cb)]
        rows += [("super_glue-wic", retriever, seed, s) for seed, s in zip((7, 8, 9), wic)]
    frame = pd.DataFrame(rows, columns=["target_task", "retriever", "seed", "softem"])
    frame["em"] = frame["softem"] - 5
    return frame


def test_per_task_cells_are_mean_and_population_std_over_query_sets() -> None:
    table = build_table1(_evaluations())
    assert list(table.mean.columns) == ["random", "recross"]
    assert table.mean.loc["super_glue-cb", "recross"] == pytest.approx(42.0)
    assert table.std.loc["super_glue-cb", "recross"] == pytest.approx((8 / 3) ** 0.5)
    assert table.std.loc["super_glue-cb", "random"] == 0.0
    assert table.mean.loc["super_glue-wic", "recross"] == pytest.approx(64.0)


def test_overall_rows_average_tasks_within_a_round_then_summarise_rounds() -> None:
    # recross rounds (seed index): (40+60)/2=50, (42+62)/2=52, (44+70)/2=57
    table = build_table1(_evaluations())
    recross = table.overall["recross"]
    assert recross["all@mean"] == pytest.approx(53.0)
    assert recross["all@median"] == pytest.approx(52.0)
    assert recross["all@min"] == pytest.approx(50.0)
    assert recross["all@max"] == pytest.approx(57.0)
    assert recross["all@std"] == pytest.approx((26 / 3) ** 0.5)
    assert table.overall.loc["all@mean", "random"] == pytest.approx(41.5)
    assert table.rounds == {"recross": 3, "random": 3}
    assert build_table1(_evaluations(), metric="em").overall.loc["all@mean", "recross"] == 48.0


def test_rounds_missing_a_task_are_left_out_of_the_overall_rows() -> None:
    evaluations = _evaluations()
    evaluations = evaluations[~((evaluations["retriever"] == "recross")
                                & (evaluations["seed"] == 9))]
    table = build_table1(evaluations)
    assert table.rounds["recross"] == 2
    assert table.overall.loc["all@mean", "recross"] == pytest.approx(51.0)
    assert table.mean.loc["super_glue-wic", "recross"] == pytest.approx(61.0)


def test_retrievers_follow_the_paper_order_with_unknown_ones_last() -> None:
    names = ["recross", "zeta", "sbert", "none", "recross-dagger", "random"]
    assert order_retrievers(names) == ["none", "random", "sbert", "recross-dagger", "recross",
                                       "zeta"]


def test_markdown_shows_mean_pm_std_and_overall_rows_with_best_in_bold() -> None:
    text = table1_markdown(build_table1(_evaluations()))
    lines = text.splitlines()
    assert "| target task | random | recross |" in lines
    assert "| super_glue-cb | 30.00 ± 0.00 | **42.00 ± 1.63** |" in lines
    assert "| all@mean | 41.50 | **53.00** |" in lines
    assert "| all@std | 1.22 | 2.94 |" in lines


def test_write_report_writes_table_csv_markdown_and_heatmap(tmp_path: Path) -> None:
    distributions = pd.DataFrame(
        [("super_glue-cb", "recross", 0, "ag_news", 0.75), ("super_glue-cb", "recross", 0, "sciq", 0.25),
         ("super_glue-cb", "recross", 1, "ag_news", 1.0),
         ("super_glue-wic", "recross", 0, "glue-mrpc", 1.0),
         ("super_glue-cb", "random", 0, "sciq", 0.5), ("super_glue-cb", "random", 0, "samsum", 0.5),
         ("super_glue-wic", "random", 0, "samsum", 1.0)],
        columns=["target_task", "retriever", "seed", "upstream_task", "share"])
    paths = write_report(tmp_path / "report", _evaluations(), distributions)
    csv = pd.read_csv(paths.table_csv, index_col="row")
    assert csv.loc["all@mean", "recross"] == pytest.approx(53.0)
    assert csv.loc["super_glue-wic", "random_std"] == pytest.approx(6 ** 0.5)
    assert paths.table_markdown.read_text().startswith("Table 1: softem")
    shares = pd.read_csv(paths.shares_csv, index_col=["retriever", "target_task"])
    # seed 1 retrieved no sciq: it counts as 0 in the mean over seeds
    assert shares.loc[("recross", "super_glue-cb"), "sciq"] == pytest.approx(0.125)
    assert shares.loc[("recross", "super_glue-cb"), "ag_news"] == pytest.approx(0.875)
    assert paths.heatmap_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_heatmap_of_a_paper_sized_study_has_one_panel_per_retriever(tmp_path: Path,
                                                                    monkeypatch) -> None:
    targets = ["anli_r3", "hellaswag", "super_glue-cb", "super_glue-wic", "super_glue-wsc.fixed",
               "winogrande-winogrande_xl", "ai2_arc-ARC-Challenge", "openbookqa-main", "piqa",
               "squad_v2"]
    upstream = [f"upstream-task-{i:02d}" for i in range(34)]
    rows = [(t, r, u, ((i * 7 + j * 3 + k) % 11) / 60)
            for k, r in enumerate(["random", "sbert", "recross-dagger", "recross"])
            for i, t in enumerate(targets) for j, u in enumerate(upstream)]
    distributions = pd.DataFrame(rows, columns=["target_task", "retriever", "upstream_task",
                                                "share"])
    figures: list[Figure] = []

    class RecordedFigure(Figure):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            figures.append(self)

    monkeypatch.setattr(reports, "Figure", RecordedFigure)
    shares = task_share_matrix(distributions)
    assert shares.shape == (40, 34)
    png = plot_task_shares(distributions, tmp_path / "figure3.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    panels = [ax for ax in figures[0].axes if ax.images]  # the colorbar holds no image
    assert [ax.get_title(loc="left") for ax in panels] == ["random", "sbert", "recross-dagger",
                                                            "recross"]
    for ax in panels:  # each panel shows its retriever's shares: targets x upstream tasks
        expected = shares.loc[ax.get_title(loc="left")].reindex(index=sorted(targets))
        np.testing.assert_allclose(ax.images[0].get_array(), expected.to_numpy())
        assert [t.get_text() for t in ax.get_yticklabels()] == sorted(targets)


def test_missing_columns_name_what_is_missing() -> None:
    with pytest.raises(ValueError, match=r"lacks columns \['softem'\]"):
        build_table1(pd.DataFrame({"target_task": ["a"], "retriever": ["b"], "seed": [0]}))
