"""Evaluation for a target: each seed's adapted model answers E and is scored (SoftEM/EM, gold
NLL, rank classification, collapse and change against M); stored per seed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from recross.config import EvaluationSettings, Settings
from recross.data import Example
from recross.evaluation.diagnostics import Diagnosis, collapse_warnings, diagnose, top_prediction
from recross.evaluation.metrics import example_scores, normalize_answer, score_predictions
from recross.io import atomic_write_bytes
from recross.models import Seq2SeqBundle, load_adapted
from recross.models.input_format import set_input_format
from recross.pipeline.adaptation import AdaptedSeed
from recross.pipeline.baseline import baseline_on_test
from recross.pipeline.example_scoring import (
    ModelOnTest,
    answer_choices,
    generate_answers,
    likelihood_scores,
    run_model_on_test,
)
from recross.pipeline.layout import TargetPaths
from recross.pipeline.upstream import load_upstream_model


def load_evaluated(settings: Settings, model_dir: Path | None) -> Seq2SeqBundle:
    """An adapted model (or M itself when ``model_dir`` is None) on ``models.device``, fed in
    ``models.input_format`` (a LoRA adapter's base is reloaded plain, so it is set again)."""
    if model_dir is None:
        return load_upstream_model(settings)
    bundle = load_adapted(model_dir, device=settings.models.device)
    set_input_format(bundle.model, settings.models.input_format)
    return bundle


def predict(settings: Settings, model_dir: Path | None, inputs: Sequence[str], *,
            progress: bool = True) -> list[str]:
    """Generate answers with an adapted model (or M itself when ``model_dir`` is None)."""
    return generate_answers(settings, load_evaluated(settings, model_dir), inputs,
                            progress=progress)


def predictions_frame(examples: Sequence[Example], predictions: Sequence[str],
                      scoring: EvaluationSettings | None = None) -> pd.DataFrame:
    """One row per example: the raw prediction, the gold answers, SoftEM and EM as ``scoring``
    (the ``evaluation`` settings) counts them."""
    scores = [example_scores(p, e.answers, scoring) for p, e in zip(predictions, examples)]
    return pd.DataFrame({
        "example_id": [e.example_id for e in examples],
        "prediction": list(predictions),
        "answers": [list(e.answers) for e in examples],
        "softem": [s for s, _ in scores],
        "em": [e for _, e in scores],
    })


def scored_frame(test: Sequence[Example], found: ModelOnTest,
                 baseline: Sequence[str] | None,
                 scoring: EvaluationSettings | None = None) -> pd.DataFrame:
    """The per-example frame of one model: answers, SoftEM/EM, likelihood columns, and whether
    each answer differs from the un-adapted M's (``baseline``; None: this is M)."""
    frame = pd.concat([predictions_frame(test, found.predictions, scoring),
                       found.likelihoods.reset_index(drop=True)], axis=1)
    frame["changed"] = ([normalize_answer(p) != normalize_answer(b)
                         for p, b in zip(found.predictions, baseline)]
                        if baseline is not None else False)
    return frame


def frame_scores(frame: pd.DataFrame, test: Sequence[Example], *,
                 baseline: Sequence[str] | None,
                 scoring: EvaluationSettings | None = None) -> dict[str, float]:
    """The metrics of one seed run (same names for every retriever): ``softem``, ``em``,
    ``nll``, ``rank_acc``, ``rank_coverage``, ``top_share`` and, for adapted models,
    ``changed`` (answers that differ from M's)."""
    diagnosis = diagnose(frame["prediction"].tolist(), baseline)
    scores = {**score_predictions(frame["prediction"].tolist(), [e.answers for e in test],
                                  scoring),
              **likelihood_scores(frame), "top_share": diagnosis.top_share}
    if diagnosis.changed is not None:
        scores["changed"] = float(diagnosis.changed)
    return scores


def evaluate_for_target(settings: Settings, *, target: str, retriever: str,
                        adapted: Sequence[AdaptedSeed], test: Sequence[Example],
                        on_seed: Callable[[int, pd.DataFrame, dict[str, float]], None] | None = None,
                        progress: bool = True) -> pd.DataFrame:
    """Every seed's adapted model on E: per-example frames (parquet per seed) and one row per
    seed of :func:`frame_scores` plus the top answer (``evaluation.parquet``).

    M's own answers are read from the per-target cache (computed there once if missing).
    """
    paths = TargetPaths.of(settings, target, retriever)
    choices = answer_choices(settings, test)
    baseline, _ = baseline_on_test(settings, target=target, test=test, choices=choices,
                                   progress=progress)
    rows = []
    for item in adapted:
        if item.path is None:
            found, reference = baseline, None
        else:
            found = run_model_on_test(settings, load_evaluated(settings, item.path), test,
                                      choices, progress=progress)
            reference = baseline.predictions
        frame = scored_frame(test, found, reference, settings.evaluation)
        atomic_write_bytes(paths.predictions(item.seed), frame.to_parquet(index=False))
        scores = frame_scores(frame, test, baseline=reference, scoring=settings.evaluation)
        if on_seed is not None:
            on_seed(item.seed, frame, scores)
        rows.append({"target_task": target, "retriever": retriever, "seed": item.seed, **scores,
                     "top_answer": top_prediction(frame["prediction"].tolist())[0],
                     "n_test": len(test)})
    table = pd.DataFrame(rows)
    atomic_write_bytes(paths.evaluation, table.to_parquet(index=False))
    return table


def evaluation_warnings(settings: Settings, table: pd.DataFrame) -> list[str]:
    """The collapse / no-change sentences of an evaluation table (rows of
    :func:`evaluate_for_target`), one set per (target, retriever, seed) that triggers them."""
    out: list[str] = []
    if "top_share" not in table.columns:  # evaluated before the diagnostics existed
        return out
    for row in table.dropna(subset=["top_share"]).to_dict("records"):
        changed = row.get("changed")
        diagnosis = Diagnosis(top_answer=str(row["top_answer"]), top_share=float(row["top_share"]),
                              changed=None if changed is None or pd.isna(changed) else int(changed),
                              n=int(row["n_test"]))
        model = ("M" if row["retriever"] == "none"
                 else f"M adapted on {row['retriever']}'s set (seed {row['seed']})")
        out += collapse_warnings(diagnosis, model=model, task=str(row["target_task"]),
                                 max_share=settings.evaluation.collapse_share)
    return list(dict.fromkeys(out))
