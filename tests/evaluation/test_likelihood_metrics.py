"""Gold-answer likelihood and rank classification on hand-made log-likelihoods."""

import math

import pytest
from recross.data import Example
from recross.evaluation.likelihood import gold_answer_nll, mean_nll, per_token_nll
from recross.evaluation.rank_classification import (
    choice_sets,
    choices_from_prompt,
    label_sets,
    rank_answer,
    rank_correct,
    rank_scores,
)


def _example(i: int, answers: tuple[str, ...], template: str = "t", text: str = "q") -> Example:
    return Example(example_id=f"x|test|{template}|#{i}", input=text, answers=answers, task="x",
                   split="test", template=template, source_index=i, source_task="x")


def test_gold_nll_is_the_best_gold_answer_per_token():
    assert per_token_nll(-6.0, 3) == 2.0
    assert gold_answer_nll([per_token_nll(-6.0, 3), per_token_nll(-1.0, 2)]) == 0.5
    assert math.isnan(gold_answer_nll([]))
    assert mean_nll([1.0, math.nan, 3.0]) == 2.0


def test_known_likelihood_ordering_gives_the_expected_rank_answer():
    choices = ("yes", "no", "maybe")
    assert rank_answer(choices, [-3.0, -0.5, -2.0]) == "no"
    assert rank_correct(choices, [-3.0, -0.5, -2.0], ["No"]) == 1.0
    assert rank_correct(choices, [-0.1, -0.5, -2.0], ["No"]) == 0.0
    assert rank_answer(choices, [-1.0, -1.0, -2.0]) == "yes"  # ties: the first choice


def test_rank_scores_report_accuracy_over_scored_examples_and_their_share():
    scores = rank_scores([1.0, 0.0, math.nan, 1.0])
    assert scores == {"rank_acc": pytest.approx(200 / 3), "rank_coverage": 75.0}
    assert math.isnan(rank_scores([math.nan])["rank_acc"])


def test_label_sets_are_a_templates_few_repeated_distinct_golds():
    examples = [_example(0, ("Yes",)), _example(1, ("No",)), _example(2, ("Maybe",)),
                _example(3, ("No",)),
                _example(4, ("a long answer",), template="open"),
                _example(5, ("another answer",), template="open"),
                _example(6, ("one",), template="single"), _example(7, ("one",), template="single")]
    assert label_sets(examples, max_labels=2) == {}  # three labels are too many
    assert label_sets(examples, max_labels=3) == {"t": ("Yes", "No", "Maybe")}
    # "open": two different free-text answers of two examples; "single": one label, no choice


def test_label_sets_can_come_from_the_whole_test_set_not_the_sample():
    whole = [_example(i, (label,)) for i, label in enumerate(["Yes", "No", "Maybe", "No"])]
    sample = whole[:1]
    assert choice_sets(sample, max_labels=3, prompt_lists_choices={}) == [None]
    assert choice_sets(sample, max_labels=3, prompt_lists_choices={},
                       label_examples=whole) == [("Yes", "No", "Maybe")]


def test_choices_are_read_from_prompts_that_list_them():
    prompt = ("Which is right?\n- Deep sea animals\n- fish\n\n(c) a canoe\n"
              "Solution 2: finish with a bobby pin \nA: letters too")
    assert choices_from_prompt(prompt) == ("Deep sea animals", "fish", "a canoe",
                                           "finish with a bobby pin", "letters too")
    assert choices_from_prompt("no list here\n- only one") == ()


def test_examples_without_known_choices_are_left_unscored_not_dropped():
    listed = _example(0, ("fish",), template="listed", text="Q?\n- Deep sea\n- fish")
    gold_missing = _example(1, ("whale",), template="listed", text="Q?\n- Deep sea\n- fish")
    not_listed = _example(2, ("fish",), template="open", text="Q?\n- Deep sea\n- fish")
    sets = choice_sets([listed, gold_missing, not_listed], max_labels=1,
                       prompt_lists_choices={"listed": True, "open": False})
    assert sets == [("Deep sea", "fish"), None, None]
