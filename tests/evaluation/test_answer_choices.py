"""Answer choices of real target test sets: label sets and choices listed in prompts."""

from recross.config import load_settings
from recross.data import load_target
from recross.data.prompt_choices import templates_listing_choices
from recross.evaluation.metrics import exact_match
from recross.pipeline.example_scoring import answer_choices


def _sample(data_dir, task: str, n: int = 60):
    return load_target(data_dir, task, query_size=1, n_query_sets=1, test_sample_size=n).test


def test_label_set_tasks_are_fully_rank_scorable_with_their_labels(data_dir):
    settings = load_settings("tiny", overrides={"data": {"data_dir": str(data_dir)}}, environ={})
    test = _sample(data_dir, "super_glue-cb")
    choices = answer_choices(settings, test)
    assert all(c is not None and 2 <= len(c) <= 3 for c in choices)
    assert all(any(exact_match(c, e.answers) for c in cs) for e, cs in zip(test, choices))


def test_listed_choices_are_read_from_prompts_and_the_rest_is_counted_unscored(data_dir):
    settings = load_settings("tiny", overrides={"data": {"data_dir": str(data_dir)}}, environ={})
    assert templates_listing_choices(data_dir, "anli_r3", "anli")["GPT-3 style"] is True
    obqa = _sample(data_dir, "openbookqa-main")
    listed = [c for c in answer_choices(settings, obqa) if c is not None]
    assert len(listed) > 0.9 * len(obqa) and all(len(c) == 4 for c in listed)
    squad = answer_choices(settings, _sample(data_dir, "squad_v2"))
    assert 0 < sum(c is not None for c in squad) < len(squad)  # free-text answers: not scored
