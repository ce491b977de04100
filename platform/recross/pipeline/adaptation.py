"""Adaptation for a target: a fresh copy of M fine-tuned on each seed's retrieved set, resumable."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from recross.config import Settings
from recross.data import UpstreamPool
from recross.errors import MissingProductError
from recross.io import atomic_write_json, is_complete
from recross.models import adapt
from recross.pipeline.layout import TargetPaths
from recross.pipeline.retrieval import load_retrieved
from recross.pipeline.upstream import load_upstream_model


def _fingerprint(example_ids: Sequence[str], settings: Settings) -> str:
    payload = json.dumps([list(example_ids), settings.adaptation.model_dump(mode="json"),
                          settings.models.upstream_model])
    return hashlib.sha1(payload.encode("utf-8")).hexdigest()


class MissingAdaptedModel(MissingProductError):
    """An evaluation found no current adapted model for a seed (evaluation never adapts)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, product="adapted_models")


def _is_current(out_dir: Path, fingerprint: str) -> bool:
    """A complete checkpoint adapted on exactly these examples and settings."""
    marker = out_dir / "recross_inputs.json"
    return is_complete(out_dir) and marker.is_file() and \
        json.loads(marker.read_text()).get("fingerprint") == fingerprint


@dataclass
class AdaptedSeed:
    seed: int
    path: Path | None  # None: the upstream model itself (retriever "none")
    seconds: float
    reused: bool
    final_loss: float | None = None


def adapt_for_target(settings: Settings, pool: UpstreamPool, *, target: str, retriever: str,
                     seeds: Sequence[int], progress: bool = True) -> list[AdaptedSeed]:
    """Fine-tune a fresh copy of M on each seed's retrieved set; skip seeds already adapted."""
    if retriever == "none":
        return [AdaptedSeed(seed=s, path=None, seconds=0.0, reused=True) for s in seeds]
    paths = TargetPaths.of(settings, target, retriever)
    base = None  # loaded on the first seed that needs adapting: reruns that reuse all load nothing
    out = []
    for seed in seeds:
        examples = load_retrieved(settings, pool, target=target, retriever=retriever, seed=seed)
        fingerprint = _fingerprint([e.example_id for e in examples], settings)
        out_dir = paths.adapted(seed)
        marker = out_dir / "recross_inputs.json"
        if _is_current(out_dir, fingerprint):
            out.append(AdaptedSeed(seed=seed, path=out_dir, seconds=0.0, reused=True))
            continue
        if base is None:
            base = load_upstream_model(settings)
        started = time.perf_counter()
        result = adapt(base, examples, settings.adaptation,
                       max_input_length=settings.models.max_input_length,
                       max_output_length=settings.models.max_output_length,
                       out_dir=out_dir, progress=progress, device=settings.models.device)
        # Written after the checkpoint: a kill in between only costs a re-adaptation.
        atomic_write_json(marker, {"fingerprint": fingerprint, "examples": len(examples)})
        out.append(AdaptedSeed(seed=seed, path=out_dir, seconds=time.perf_counter() - started,
                               reused=False, final_loss=result.final_loss))
    return out


def find_adapted(settings: Settings, pool: UpstreamPool, *, target: str, retriever: str,
                 seeds: Sequence[int]) -> list[AdaptedSeed]:
    """The current adapted model of every seed, never training one (``none``: M itself).

    Raises :class:`MissingAdaptedModel` naming every seed whose model is missing, incomplete or
    adapted on another retrieved set or with other settings.
    """
    if retriever == "none":
        return [AdaptedSeed(seed=s, path=None, seconds=0.0, reused=True) for s in seeds]
    paths = TargetPaths.of(settings, target, retriever)
    found, missing = [], []
    for seed in seeds:
        examples = load_retrieved(settings, pool, target=target, retriever=retriever, seed=seed)
        fingerprint = _fingerprint([e.example_id for e in examples], settings)
        if _is_current(paths.adapted(seed), fingerprint):
            found.append(AdaptedSeed(seed=seed, path=paths.adapted(seed), seconds=0.0, reused=True))
        else:
            missing.append(f"seed {seed} ({paths.adapted(seed)})")
    if missing:
        raise MissingAdaptedModel(
            f"{target} x {retriever}: no current adapted model for {', '.join(missing)}: missing, "
            "interrupted, or adapted on another retrieved set or other adaptation settings. "
            "Evaluation only reads adapted models. Fix: adapt this target and retriever first "
            "(recross.pipeline.adaptation.adapt_for_target).")
    return found
