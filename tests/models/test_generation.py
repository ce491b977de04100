from recross.models import generate


def test_generation_returns_one_string_per_input_in_order(tiny_bundle):
    inputs = ["first question?", "a much longer second input " * 5, "third"]
    greedy = generate(tiny_bundle, inputs, num_beams=1, max_new_tokens=4, batch_size=2,
                      progress=False)
    beams = generate(tiny_bundle, inputs, num_beams=2, max_new_tokens=4, batch_size=2,
                     progress=False)
    assert len(greedy) == len(beams) == 3 and all(isinstance(a, str) for a in greedy + beams)
    singles = [generate(tiny_bundle, [x], num_beams=1, max_new_tokens=4, batch_size=1,
                        progress=False)[0] for x in inputs]
    assert singles == greedy


def test_a_briefly_trained_model_answers_in_the_words_of_its_training_answers(tiny_bundle,
                                                                             examples):
    """The random model babbles ("indicating indicating ..."); after 30 steps on four examples
    it says something, and only words of their gold answers."""
    from recross.models import finetune_steps
    tuned = finetune_steps(tiny_bundle, examples[:4], steps=30, lr=3e-3, batch_size=4,
                           max_input_length=64, max_output_length=8)
    answers = generate(tuned, [e.input for e in examples[:4]], num_beams=1, max_new_tokens=8,
                       batch_size=4, progress=False)
    gold_words = {word for e in examples[:4] for answer in e.answers
                  for word in answer.lower().split()}
    assert any(answers), answers
    assert all(set(answer.lower().split()) <= gold_words for answer in answers), answers
