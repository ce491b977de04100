"""Paired retriever comparisons from per-example tables, and their place in Table 1."""

import pandas as pd
from recross.evaluation.comparison import compare_retrievers, delta_metrics, delta_table
from recross.evaluation.reports import report_markdown


def _rows(retriever: str, seed: int, correct: list[int], nll: list[float],
          task: str = "cb") -> pd.DataFrame:
    return pd.DataFrame({"target_task": task, "retriever": retriever, "seed": seed,
                         "example_id": [f"e{i}" for i in range(len(correct))],
                         "softem": correct, "em": correct, "nll": nll,
                         "rank_correct": [float(c) for c in correct]})


def _study() -> pd.DataFrame:
    n = 100
    same = [i % 2 for i in range(n)]
    frames = [_rows("none", s, same, [2.0] * n) for s in (0, 1)]
    frames += [_rows("random", s, same, [2.0 + 0.01 * (i % 3) for i in range(n)]) for s in (0, 1)]
    frames += [_rows("recross", s, same, [1.8 + 0.02 * (i % 5) for i in range(n)]) for s in (0, 1)]
    return pd.concat(frames, ignore_index=True)


def test_a_likelihood_gain_with_unchanged_answers_is_a_difference_only_in_nll():
    study = _study()
    softem = compare_retrievers(study, system="recross", baseline="none", metric="softem",
                                resamples=200)
    nll = compare_retrievers(study, system="recross", baseline="none", metric="nll",
                             resamples=200)
    assert softem["cb"].holds_zero and softem["cb"].delta == 0.0
    assert nll["cb"].high < 0 and not nll["cb"].holds_zero
    metrics = delta_metrics({"nll": nll}, target="cb", baseline="none")
    assert set(metrics) == {"delta_nll_vs_none", "delta_nll_vs_none_ci_low",
                            "delta_nll_vs_none_ci_high"}


def test_table1_shows_every_metric_and_deltas_with_no_difference_named():
    study = _study()
    evaluations = (study.groupby(["target_task", "retriever", "seed"], as_index=False)
                   .agg(softem=("softem", "mean"), nll=("nll", "mean"))
                   .assign(softem=lambda f: 100 * f["softem"]))
    deltas = delta_table(study, resamples=200)
    text = report_markdown(evaluations, deltas)
    assert "Table 1: softem (%)" in text and "Table 1: nll, lower is better" in text
    assert "Δ softem vs none" in text and "Δ nll vs random" in text
    nll_vs_none = text.split("Δ nll vs none")[1].split("Δ")[0]
    recross_cell = nll_vs_none.splitlines()[4].split("|")[-2]  # all@mean row, recross column
    assert recross_cell.strip().startswith("-0.1") and "no difference" not in recross_cell
    assert "| cb | no difference (+0.00 [+0.00, +0.00]) |" in text.split("Δ softem vs none")[1]
