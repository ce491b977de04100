"""SoftEM and EM exactly as METHOD.md: normalise, then substring (SoftEM) or equality (EM).

Normalisation: lower-case, strip punctuation, drop the articles a/an/the, collapse white space.
SoftEM counts a prediction correct when, for some gold answer, both normalised strings are
non-empty and one contains the other. Two choices of the reference's evaluation are settings
(``evaluation.undouble_predictions``, ``evaluation.empty_em_matches``; the paper profile's):
"X X" scored as "X", and EM of an empty prediction against an empty answer counted as a match.

    >>> soft_em("The Cat.", ["cat"]), exact_match("a cat", ["the cat"])
    (True, True)
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence

from recross.config import EvaluationSettings

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)


def normalize_answer(text: str) -> str:
    text = text.lower().translate(_PUNCT)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def undouble(prediction: str) -> str:
    """"yes yes" -> "yes": a prediction of exactly two identical words becomes one, as the
    reference's metric_evaluate post-processed (metax/utils.py); anything else is unchanged."""
    words = prediction.split()
    return words[0] if len(words) == 2 and words[0] == words[1] else prediction


def soft_em(prediction: str, answers: Sequence[str]) -> bool:
    pred = normalize_answer(prediction)
    if not pred:
        return False
    for gold in answers:
        norm = normalize_answer(gold)
        if norm and (norm in pred or pred in norm):
            return True
    return False


def exact_match(prediction: str, answers: Sequence[str], *, empty_matches: bool = False) -> bool:
    """Normalised equality; an empty prediction matches an empty answer only if ``empty_matches``."""
    pred = normalize_answer(prediction)
    return (bool(pred) or empty_matches) and any(pred == normalize_answer(gold) for gold in answers)


def example_scores(prediction: str, answers: Sequence[str],
                   scoring: EvaluationSettings | None = None) -> tuple[bool, bool]:
    """``(SoftEM, EM)`` of one prediction under the ``evaluation`` settings (None: METHOD.md's)."""
    scoring = scoring or EvaluationSettings()
    cleaned = undouble(prediction) if scoring.undouble_predictions else prediction
    return (soft_em(cleaned, answers),
            exact_match(cleaned, answers, empty_matches=scoring.empty_em_matches))


def score_predictions(predictions: Sequence[str], answers: Sequence[Sequence[str]],
                      scoring: EvaluationSettings | None = None) -> dict[str, float]:
    """Mean SoftEM and EM over a test set, in percent (see :func:`example_scores`)."""
    if len(predictions) != len(answers):
        raise ValueError(f"{len(predictions)} predictions for {len(answers)} gold answer lists")
    if not predictions:
        raise ValueError("cannot score an empty test set")
    pairs = [example_scores(p, a, scoring) for p, a in zip(predictions, answers)]
    return {"softem": 100.0 * sum(s for s, _ in pairs) / len(pairs),
            "em": 100.0 * sum(e for _, e in pairs) / len(pairs)}
