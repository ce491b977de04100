"""The reference's two scoring choices, as settings: "X X" scored as "X", and EM of an empty
prediction against an empty gold answer counted as a match (metax/utils.py metric_evaluate,
metax/task_manager/eval_metrics.py)."""

from __future__ import annotations

from recross.config import EvaluationSettings, load_settings
from recross.evaluation.metrics import example_scores, score_predictions, undouble

REFERENCE = EvaluationSettings(undouble_predictions=True, empty_em_matches=True)


def test_a_doubled_answer_is_that_answer_and_nothing_else_changes():
    assert undouble("yes yes") == "yes"
    assert undouble("New York New York") == "New York New York"  # the reference: two words only
    assert undouble("yes no") == "yes no"
    assert undouble("a b a") == "a b a"
    assert undouble("") == ""


def test_doubled_predictions_score_only_when_the_setting_asks():
    assert example_scores("positive positive", ["positive"]) == (True, False)  # SoftEM: substring
    assert example_scores("positive positive", ["positive"], REFERENCE) == (True, True)


def test_empty_prediction_matches_an_empty_answer_only_under_the_reference_em():
    assert example_scores("", [""]) == (False, False)
    assert example_scores("", [""], REFERENCE) == (False, True)  # SoftEM still needs text
    assert example_scores("", ["x"], REFERENCE) == (False, False)
    scores = score_predictions(["", "no no"], [[""], ["no"]], REFERENCE)
    assert scores == {"softem": 50.0, "em": 100.0}


def test_the_paper_profile_scores_as_the_reference_and_small_as_method_md():
    assert load_settings("paper", environ={}).evaluation.undouble_predictions
    assert load_settings("paper", environ={}).evaluation.empty_em_matches
    small = load_settings("small", environ={}).evaluation
    assert not (small.undouble_predictions or small.empty_em_matches)
