"""Rank classification (how T0 and BART0 are scored): where an example's answer choices are
known, the answer is the choice the model finds most likely; accuracy is over those examples.

Choices come from two places, in this order:

1. a *label set*: a template's distinct gold answers across the test set, when there are few
   (``yes``/``no``/``maybe``; ``Ending 1``..``Ending 4``), at least two, and repeated (fewer
   labels than examples: five free-text answers of five examples are no label set);
2. the prompt, for templates that list their choices (``choices_in_prompt.json``): lines such as
   ``- Deep sea animals``, ``(c) sit in a canoe``, ``Solution 2: finish with a bobby pin``.

An example is scored only when one of its gold answers is among its choices; every other example
counts against the *coverage* (the share scored), never silently dropped.

    >>> rank_answer(("yes", "no"), [-2.3, -0.1])
    'no'
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence

from recross.data.examples import Example
from recross.evaluation.metrics import exact_match

Choices = tuple[str, ...]

# A listed choice: "- text", "* text", "(a) text", "A: text" / "A. text", "Solution 2: text".
_CHOICE_LINE = re.compile(
    r"^\s*(?:[-*\u2022]|\([A-Za-z0-9]\)|[A-Z][:.)]|[A-Za-z]+ \d+\s*:)\s*(?P<text>\S.*?)\s*$")


def label_sets(examples: Sequence[Example], *, max_labels: int) -> dict[str, Choices]:
    """Per template, its distinct gold answers when there are 2..``max_labels`` of them and
    fewer than the template's examples (the labels repeat)."""
    golds: dict[str, dict[str, None]] = defaultdict(dict)
    counts: dict[str, int] = defaultdict(int)
    for example in examples:
        counts[example.template] += 1
        for answer in example.answers:
            golds[example.template].setdefault(answer.strip(), None)
    return {template: tuple(answers) for template, answers in golds.items()
            if 2 <= len(answers) <= max_labels and len(answers) < counts[template]}


def choices_from_prompt(prompt: str) -> Choices:
    """The choices a prompt lists one per line (empty when it lists fewer than two)."""
    found = [m.group("text") for line in prompt.splitlines() if (m := _CHOICE_LINE.match(line))]
    distinct = tuple(dict.fromkeys(found))
    return distinct if len(distinct) >= 2 else ()


def _has_gold(choices: Choices, answers: Sequence[str]) -> bool:
    return any(exact_match(choice, answers) for choice in choices)


def choice_sets(examples: Sequence[Example], *, max_labels: int,
                prompt_lists_choices: Mapping[str, bool],
                label_examples: Sequence[Example] | None = None) -> list[Choices | None]:
    """Each example's choices, or None when they are unknown (it is then not rank-scored).

    ``prompt_lists_choices`` maps a template to whether its prompt lists the choices;
    ``label_examples`` (default: ``examples``) is where label sets are read, e.g. the whole test
    set when ``examples`` is a sample of it.
    """
    by_template = label_sets(examples if label_examples is None else label_examples,
                             max_labels=max_labels)
    out: list[Choices | None] = []
    for example in examples:
        choices = by_template.get(example.template, ())
        if not choices and prompt_lists_choices.get(example.template, False):
            choices = choices_from_prompt(example.input)
        out.append(choices if choices and _has_gold(choices, example.answers) else None)
    return out


def rank_answer(choices: Choices, log_likelihoods: Sequence[float]) -> str:
    """The most likely choice (the first one on a tie)."""
    if len(choices) != len(log_likelihoods) or not choices:
        raise ValueError(f"{len(choices)} choices for {len(log_likelihoods)} log-likelihoods")
    best = max(range(len(choices)), key=lambda i: (log_likelihoods[i], -i))
    return choices[best]


def rank_correct(choices: Choices | None, log_likelihoods: Sequence[float] | None,
                 answers: Sequence[str]) -> float:
    """1.0 / 0.0 whether the most likely choice is a gold answer; NaN when not scorable."""
    if not choices or log_likelihoods is None:
        return math.nan
    return float(exact_match(rank_answer(choices, log_likelihoods), answers))


def rank_scores(correct: Sequence[float]) -> dict[str, float]:
    """``rank_acc`` (% of the scored examples) and ``rank_coverage`` (% of examples scored)."""
    if not correct:
        raise ValueError("cannot score an empty test set")
    scored = [value for value in correct if not math.isnan(value)]
    return {"rank_acc": 100.0 * sum(scored) / len(scored) if scored else math.nan,
            "rank_coverage": 100.0 * len(scored) / len(correct)}

