"""Teacher-forced answer likelihoods: equal to the training loss, in order, batched any way."""

import pytest
from recross.models import example_losses, generate
from recross.models.scoring import answer_log_likelihoods, generate_and_score

INPUTS = ["Is the sky blue? Yes or no?", "A much longer input about cats and dogs and food.",
          "short"]
CANDIDATES = [["yes", "no"], ["dogs eat meat", "cats", "no"], []]


def test_mean_token_nll_equals_the_loss_training_minimises(tiny_bundle, examples):
    losses = example_losses(tiny_bundle, examples, batch_size=4, max_input_length=64,
                            max_output_length=16)
    scores = answer_log_likelihoods(tiny_bundle, [e.input for e in examples],
                                    [[e.answers[0]] for e in examples], batch_size=5,
                                    max_input_length=64, max_output_length=16)
    assert [-s[0].log_likelihood / s[0].tokens for s in scores] == pytest.approx(losses, rel=1e-4)


def test_scores_keep_input_and_candidate_order_whatever_the_batch_size(tiny_bundle):
    one = answer_log_likelihoods(tiny_bundle, INPUTS, CANDIDATES, batch_size=1,
                                 max_input_length=64, max_output_length=16)
    many = answer_log_likelihoods(tiny_bundle, INPUTS, CANDIDATES, batch_size=32,
                                  max_input_length=64, max_output_length=16)
    assert [len(s) for s in many] == [2, 3, 0]
    for a, b in zip(one, many):
        assert [s.tokens for s in a] == [s.tokens for s in b]
        assert [s.log_likelihood for s in a] == pytest.approx([s.log_likelihood for s in b],
                                                              abs=1e-4)
    assert all(s.log_likelihood < 0 and s.tokens >= 1 for row in many for s in row)


def test_answers_are_truncated_to_max_output_length(tiny_bundle):
    [[short]] = answer_log_likelihoods(tiny_bundle, ["q"], [["a very long answer " * 10]],
                                       batch_size=4, max_input_length=64, max_output_length=5)
    assert short.tokens == 5


def test_mismatched_candidate_lists_are_refused(tiny_bundle):
    with pytest.raises(ValueError, match="2 inputs for 1 candidate lists"):
        answer_log_likelihoods(tiny_bundle, ["a", "b"], [["x"]], batch_size=4,
                               max_input_length=64, max_output_length=8)


@pytest.mark.parametrize("num_beams", [1, 3])
def test_generating_and_scoring_in_one_pass_matches_doing_each_alone(tiny_bundle, num_beams):
    answers, scores = generate_and_score(tiny_bundle, INPUTS, CANDIDATES, num_beams=num_beams,
                                         max_new_tokens=6, batch_size=2,
                                         likelihood_batch_size=2, max_input_length=64,
                                         max_output_length=16, progress=False)
    assert answers == generate(tiny_bundle, INPUTS, num_beams=num_beams, max_new_tokens=6,
                               batch_size=2, max_input_length=64, progress=False)
    alone = answer_log_likelihoods(tiny_bundle, INPUTS, CANDIDATES, batch_size=4,
                                   max_input_length=64, max_output_length=16)
    for a, b in zip(scores, alone):
        assert [s.log_likelihood for s in a] == pytest.approx([s.log_likelihood for s in b],
                                                              abs=1e-4)
