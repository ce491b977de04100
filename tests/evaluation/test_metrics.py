import pytest
from recross.evaluation.metrics import exact_match, normalize_answer, score_predictions, soft_em


def test_normalisation_drops_articles_punctuation_case_and_extra_space():
    assert normalize_answer("  The  Quick, brown fox!  ") == "quick brown fox"
    assert normalize_answer("An apple a day") == "apple day"
    assert normalize_answer("theory") == "theory"  # "the" only as a whole word


def test_soft_em_accepts_substrings_both_ways():
    assert soft_em("yes, it is", ["Yes"])  # gold inside prediction
    assert soft_em("Paris", ["Paris, France"])  # prediction inside gold


def test_soft_em_rejects_empty_prediction_and_empty_gold():
    assert not soft_em("", ["yes"])
    assert not soft_em("...", ["yes"])  # empty after normalisation
    assert not soft_em("yes", [""])
    assert not soft_em("yes", ["the"])  # gold empty after normalisation


def test_soft_em_tries_every_gold_answer():
    assert soft_em("maybe", ["no", "Maybe"])
    assert not soft_em("maybe", ["no", "yes"])


def test_exact_match_needs_equality_after_normalisation():
    assert exact_match("The answer.", ["answer"])
    assert not exact_match("the answer is", ["answer"])
    assert not exact_match("", [""])


def test_scores_are_percentages_over_the_set():
    scores = score_predictions(["yes", "no it is", ""], [["Yes"], ["no"], ["x"]])
    assert scores["softem"] == pytest.approx(200 / 3)
    assert scores["em"] == pytest.approx(100 / 3)


def test_scoring_mismatched_lengths_is_an_error():
    with pytest.raises(ValueError, match="2 predictions for 1"):
        score_predictions(["a", "b"], [["a"]])
