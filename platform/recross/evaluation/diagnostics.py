"""Collapse and change diagnostics: when SoftEM cannot show what adaptation did, say so.

A model that gives one answer to nearly every input of a task scores the share of that label,
whatever it learned; an adaptation that changed no answer leaves SoftEM exactly where it was.
Both are read from the predictions alone and turned into sentences a user understands.

    >>> top_prediction(["No", "no.", "Yes", "No"])
    ('No', 0.75)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from recross.evaluation.metrics import normalize_answer


@dataclass(frozen=True)
class Diagnosis:
    """``top_answer`` covers ``top_share`` of the predictions; ``changed`` answers differ from the
    un-adapted model's on the same examples (None: no un-adapted model to compare with)."""

    top_answer: str
    top_share: float
    changed: int | None
    n: int


def top_prediction(predictions: Sequence[str]) -> tuple[str, float]:
    """The most frequent prediction (counted after normalisation, shown as most often written)
    and its share of all predictions."""
    if not predictions:
        raise ValueError("no predictions to diagnose")
    normalised, count = Counter(normalize_answer(p) for p in predictions).most_common(1)[0]
    written = Counter(p.strip() for p in predictions if normalize_answer(p) == normalised)
    return written.most_common(1)[0][0], count / len(predictions)


def changed_answers(predictions: Sequence[str], baseline: Sequence[str]) -> int:
    """How many normalised answers differ from the baseline's, example by example."""
    if len(predictions) != len(baseline):
        raise ValueError(f"{len(predictions)} predictions vs {len(baseline)} baseline answers: "
                         "not the same test examples")
    return sum(normalize_answer(p) != normalize_answer(b) for p, b in zip(predictions, baseline))


def diagnose(predictions: Sequence[str], baseline: Sequence[str] | None) -> Diagnosis:
    answer, share = top_prediction(predictions)
    changed = None if baseline is None else changed_answers(predictions, baseline)
    return Diagnosis(top_answer=answer, top_share=share, changed=changed, n=len(predictions))


def collapse_warnings(diagnosis: Diagnosis, *, model: str, task: str,
                      max_share: float) -> list[str]:
    """Sentences for the report and the warning check; empty when nothing is wrong.

    ``model`` names the evaluated model ("M", "M adapted on recross's set").
    """
    warnings = []
    answer = f"'{diagnosis.top_answer}'" if diagnosis.top_answer else "an empty answer"
    if diagnosis.top_share > max_share:
        warnings.append(f"{model} gives {answer} to "
                        f"{100 * diagnosis.top_share:.0f}% of {task}'s inputs: SoftEM cannot show "
                        "what adaptation did; read the likelihood columns (nll, rank_acc).")
    if diagnosis.changed == 0:
        warnings.append(f"{model} changed none of the {diagnosis.n} answers of {task} against the "
                        "un-adapted M: its SoftEM equals M's by construction; read nll to see "
                        "whether adaptation moved the model at all.")
    return warnings
