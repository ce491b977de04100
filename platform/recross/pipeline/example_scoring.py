"""One model on a test set: its generated answers, then per example the gold answers' NLL and
rank classification over the example's known choices (``recross.evaluation``'s metrics).

The likelihood columns join the predictions frame: ``nll`` (mean per-token NLL of the best gold
answer), ``rank_prediction`` (the most likely choice, empty when the choices are unknown) and
``rank_correct`` (1.0 / 0.0, NaN when not scorable).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from recross.config import Settings
from recross.data import Example, resolve_data_dir
from recross.data.examples import load_examples
from recross.data.prompt_choices import templates_listing_choices
from recross.data.targets import TEST_FILE
from recross.errors import DataError
from recross.evaluation.likelihood import gold_answer_nll, mean_nll, per_token_nll
from recross.evaluation.rank_classification import (
    Choices,
    choice_sets,
    rank_answer,
    rank_correct,
    rank_scores,
)
from recross.models.generation import generate
from recross.models.loading import Seq2SeqBundle
from recross.models.scoring import AnswerScore, generate_and_score

LIKELIHOOD_COLUMNS: tuple[str, ...] = ("nll", "rank_prediction", "rank_correct")


def answer_choices(settings: Settings, test: Sequence[Example]) -> list[Choices | None]:
    """Each test example's choices (None: unknown). Prompts are read for choices only where the
    data's ``choices_in_prompt.json`` says the template lists them; a test set from outside the
    data folder (a user's labelled file) has label sets only."""
    try:
        data_dir = resolve_data_dir(settings.data.data_dir)
    except DataError:
        data_dir = None
    names = dict.fromkeys(n for e in test for n in (e.task, e.source_task))
    listing = templates_listing_choices(data_dir, *names) if data_dir else {}
    return choice_sets(test, max_labels=settings.evaluation.max_label_set,
                       prompt_lists_choices=listing,
                       label_examples=_whole_test_set(data_dir, test))


def _whole_test_set(data_dir: Path | None, test: Sequence[Example]) -> list[Example] | None:
    """The data folder's whole test set of the sample's task (label sets are read there, not in
    a sample that may miss a rare label); None for a test set from elsewhere."""
    tasks = {e.task for e in test}
    if data_dir is None or len(tasks) != 1:
        return None
    path = data_dir / tasks.pop() / TEST_FILE
    if not path.is_file():
        return None
    whole = load_examples(path, task=test[0].task)
    return whole if {e.example_id for e in test} <= {e.example_id for e in whole} else None


def likelihood_columns(test: Sequence[Example], choices: Sequence[Choices | None],
                       candidates: Sequence[Sequence[str]],
                       scores: Sequence[Sequence[AnswerScore]]) -> pd.DataFrame:
    """:data:`LIKELIHOOD_COLUMNS` of every test example from the scores of its candidates
    (:func:`candidate_answers`)."""
    rows = []
    for example, options, texts, found in zip(test, choices, candidates, scores):
        by_text = {text: score for text, score in zip(texts, found)}
        nll = gold_answer_nll([per_token_nll(by_text[a].log_likelihood, by_text[a].tokens)
                               for a in example.answers])
        loglik = [by_text[c].log_likelihood for c in options] if options else None
        rows.append({"nll": nll,
                     "rank_prediction": rank_answer(options, loglik) if options and loglik else "",
                     "rank_correct": rank_correct(options, loglik, example.answers)})
    return pd.DataFrame(rows, columns=list(LIKELIHOOD_COLUMNS))


def candidate_answers(test: Sequence[Example],
                      choices: Sequence[Choices | None]) -> list[list[str]]:
    """What is scored per example: its gold answers and its choices, each once."""
    return [list(dict.fromkeys([*e.answers, *(c or ())])) for e, c in zip(test, choices)]


def likelihood_scores(frame: pd.DataFrame) -> dict[str, float]:
    """``nll``, ``rank_acc`` and ``rank_coverage`` of a scored predictions frame."""
    return {"nll": mean_nll(frame["nll"].astype(float).tolist()),
            **rank_scores(frame["rank_correct"].astype(float).tolist())}


@dataclass
class ModelOnTest:
    """What one model did on a test set: its generated answers and likelihood columns."""

    predictions: list[str]
    likelihoods: pd.DataFrame
    seconds: float  # generation and scoring together (0: read from a cache)


def generate_answers(settings: Settings, bundle: Seq2SeqBundle, inputs: Sequence[str], *,
                     progress: bool = True) -> list[str]:
    """Answers as every evaluation generates them (``generation`` settings)."""
    g = settings.generation
    return generate(bundle, list(inputs), num_beams=g.num_beams, max_new_tokens=g.max_new_tokens,
                    batch_size=g.batch_size, max_input_length=settings.models.max_input_length,
                    progress=progress)


def run_model_on_test(settings: Settings, bundle: Seq2SeqBundle, test: Sequence[Example],
                      choices: Sequence[Choices | None], *, progress: bool = True) -> ModelOnTest:
    """Generate an answer for each test input and score its gold answers and choices, from one
    encoder pass per input (the likelihoods add decoder passes only)."""
    started = time.perf_counter()
    candidates = candidate_answers(test, choices)
    g = settings.generation
    predictions, scores = generate_and_score(
        bundle, [e.input for e in test], candidates, num_beams=g.num_beams,
        max_new_tokens=g.max_new_tokens, batch_size=g.batch_size,
        likelihood_batch_size=settings.evaluation.likelihood_batch_size,
        max_input_length=settings.models.max_input_length,
        max_output_length=settings.models.max_output_length, progress=progress)
    return ModelOnTest(predictions=predictions,
                       likelihoods=likelihood_columns(test, choices, candidates, scores),
                       seconds=time.perf_counter() - started)
