"""SoftEM and EM exactly as METHOD.md: normalise, then substring (SoftEM) or equality (EM).

Normalisation: lower-case, strip punctuation, drop the articles a/an/the, collapse white space.
SoftEM counts a prediction correct when, for some gold answer, both normalised strings are
non-empty and one contains the other.

    >>> soft_em("The Cat.", ["cat"]), exact_match("a cat", ["the cat"])
    (True, True)
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)


def normalize_answer(text: str) -> str:
    text = text.lower().translate(_PUNCT)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def soft_em(prediction: str, answers: Sequence[str]) -> bool:
    pred = normalize_answer(prediction)
    if not pred:
        return False
    for gold in answers:
        norm = normalize_answer(gold)
        if norm and (norm in pred or pred in norm):
            return True
    return False


def exact_match(prediction: str, answers: Sequence[str]) -> bool:
    pred = normalize_answer(prediction)
    return bool(pred) and any(pred == normalize_answer(gold) for gold in answers)


def score_predictions(predictions: Sequence[str], answers: Sequence[Sequence[str]]) -> dict[str, float]:
    """Mean SoftEM and EM over a test set, in percent."""
    if len(predictions) != len(answers):
        raise ValueError(f"{len(predictions)} predictions for {len(answers)} gold answer lists")
    if not predictions:
        raise ValueError("cannot score an empty test set")
    n = len(predictions)
    return {"softem": 100.0 * sum(soft_em(p, a) for p, a in zip(predictions, answers)) / n,
            "em": 100.0 * sum(exact_match(p, a) for p, a in zip(predictions, answers)) / n}
