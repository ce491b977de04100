"""Collapse and change diagnostics on hand-made prediction lists."""

from recross.evaluation.diagnostics import changed_answers, collapse_warnings, diagnose


def test_a_collapsed_prediction_list_triggers_the_warning_in_words():
    predictions = ["No"] * 97 + ["Yes"] * 3
    found = diagnose(predictions, None)
    assert found.top_answer == "No" and found.top_share == 0.97
    [warning] = collapse_warnings(found, model="M", task="super_glue-cb", max_share=0.9)
    assert warning.startswith("M gives 'No' to 97% of super_glue-cb's inputs: SoftEM cannot show")
    assert "likelihood" in warning


def test_varied_answers_that_changed_raise_no_warning():
    predictions = ["yes", "no", "maybe", "no"]
    found = diagnose(predictions, ["no", "no", "maybe", "no"])
    assert found.changed == 1
    assert collapse_warnings(found, model="M'", task="cb", max_share=0.9) == []


def test_an_adaptation_that_changed_no_answer_is_said():
    found = diagnose(["Yes.", "no"], ["yes", "No"])
    assert changed_answers(["Yes.", "no"], ["yes", "No"]) == 0
    [warning] = collapse_warnings(found, model="M adapted on random's set", task="cb",
                                  max_share=0.9)
    assert "changed none of the 2 answers of cb" in warning


def test_the_top_answer_is_shown_as_written_even_when_it_normalises_to_nothing():
    found = diagnose(["a", "A", "a", "yes"], None)
    assert (found.top_answer, found.top_share) == ("a", 0.75)
    assert "gives 'a' to 75%" in collapse_warnings(found, model="M", task="cb", max_share=0.5)[0]
