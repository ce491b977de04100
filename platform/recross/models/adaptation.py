"""Adaptation (METHOD.md step 4): fine-tune a fresh copy of M on the retrieved set R.

``full`` trains every weight (the paper); ``lora`` trains low-rank adapters (peft). Both use one
Seq2SeqTrainer set-up, so schedule, batching and logging are identical; ``epochs`` is a real,
logged parameter (the reference script silently ran 1). M itself is never modified: a bundle is
deep-copied, a path is loaded afresh.

    >>> result = adapt(bundle, retrieved, settings.adaptation, max_input_length=256,
    ...                max_output_length=64, out_dir=Path("adapted/piqa/seed-0"))
    >>> adapted = load_adapted(Path("adapted/piqa/seed-0"))
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recross.config import AdaptationSettings
from recross.data.examples import Example
from recross.errors import ModelError
from recross.io import atomic_directory, is_complete
from recross.models.batching import tokenize_answer_options, tokenize_examples
from recross.models.building import BUILD_PREFIX
from recross.models.input_format import input_format_of
from recross.models.loading import Seq2SeqBundle, load_seq2seq, weights_fingerprint
from recross.models.lora import apply_adapter, with_lora
from recross.models.training import SampledAnswerDataset, loss_log, make_trainer

ADAPTED_FILE = "recross_adapted.json"


@dataclass
class AdaptationResult:
    bundle: Seq2SeqBundle  # the adapted model M' (LoRA adapters merged in)
    mode: str
    log: list[dict[str, float]]  # one entry per optimiser step: step, epoch, loss, learning_rate
    params: dict[str, Any]  # what was run, for MLflow params
    seconds: float
    out_dir: Path | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def final_loss(self) -> float | None:
        """The last logged training loss (None when no step was logged)."""
        return self.log[-1]["loss"] if self.log else None


def adapt(bundle_or_path: Seq2SeqBundle | str | Path, examples: Sequence[Example],
          settings: AdaptationSettings, *, max_input_length: int, max_output_length: int,
          out_dir: Path | None = None, progress: bool = True, device: str) -> AdaptationResult:
    """Fine-tune a fresh copy of M on ``examples`` (inputs with their upstream answers) on
    ``device`` (``models.device``: required, so no caller can silently train on another device)."""
    if not examples:
        raise ModelError("cannot adapt on an empty retrieved set. Fix: retrieve at least one example.")
    base = (bundle_or_path.copy() if isinstance(bundle_or_path, Seq2SeqBundle)
            else load_seq2seq(bundle_or_path, device=device))
    base_fingerprint = weights_fingerprint(base.model) if settings.mode == "lora" else None
    model = with_lora(base.model, settings) if settings.mode == "lora" else base.model
    lr = settings.lora_learning_rate if settings.mode == "lora" else settings.learning_rate
    lengths = {"max_input_length": max_input_length, "max_output_length": max_output_length}
    features = (SampledAnswerDataset(tokenize_answer_options(base.tokenizer, base.model, examples,
                                                             **lengths), seed=settings.seed)
                if settings.answer_choice == "random"
                else tokenize_examples(base.tokenizer, base.model, examples, **lengths))
    params: dict[str, Any]  # settings, counts and (LoRA) module lists, as logged
    params = {"mode": settings.mode, "learning_rate": lr, "batch_size": settings.batch_size,
              "epochs": settings.epochs, "weight_decay": settings.weight_decay,
              "warmup_ratio": settings.warmup_ratio, "lr_schedule": settings.lr_schedule,
              "max_grad_norm": settings.max_grad_norm,
              "label_smoothing": settings.label_smoothing,
              "length_grouped_batches": settings.length_grouped_batches,
              "answer_choice": settings.answer_choice,
              "input_format": input_format_of(base.model), "seed": settings.seed,
              "examples": len(examples), "max_input_length": max_input_length,
              "max_output_length": max_output_length}
    if settings.mode == "lora":
        params.update(lora_rank=settings.lora_rank, lora_alpha=settings.lora_alpha,
                      lora_dropout=settings.lora_dropout,
                      lora_target_modules=list(model.peft_config["default"].target_modules))
    model.train()
    with tempfile.TemporaryDirectory(prefix="recross-adapt-") as scratch:
        trainer = make_trainer(model, base.tokenizer, features, output_dir=Path(scratch),
                               device=device, learning_rate=lr, batch_size=settings.batch_size,
                               seed=settings.seed, progress=progress, epochs=settings.epochs,
                               weight_decay=settings.weight_decay,
                               warmup_ratio=settings.warmup_ratio, logging_steps=1,
                               lr_schedule=settings.lr_schedule,
                               max_grad_norm=settings.max_grad_norm,
                               label_smoothing=settings.label_smoothing,
                               sampling=("group_by_length" if settings.length_grouped_batches
                                         else "random"))
        started = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - started
    model.eval()
    log = loss_log(trainer)
    params["steps"] = trainer.state.global_step
    metadata = {"mode": settings.mode, "base": _base_reference(base),
                "base_fingerprint": base_fingerprint, "params": params}
    if out_dir is not None:
        _save(model, base, out_dir, metadata={**metadata, "log": log, "seconds": seconds})
    adapted = model.merge_and_unload() if settings.mode == "lora" else model
    bundle = Seq2SeqBundle(model=adapted, tokenizer=base.tokenizer, name=f"{base.name}+adapted",
                           source=str(out_dir) if out_dir is not None else None)
    return AdaptationResult(bundle=bundle, mode=settings.mode, log=log, params=params,
                            seconds=seconds, out_dir=out_dir, metadata=metadata)


def _base_reference(base: Seq2SeqBundle) -> str | None:
    """How to find M again: its directory or hub id; a ``build:`` name rebuilds identical weights."""
    return base.source or (base.name if base.name.startswith(BUILD_PREFIX) else None)


def _save(model, base: Seq2SeqBundle, out_dir: Path, *, metadata: dict[str, Any]) -> None:
    with atomic_directory(out_dir) as staging:
        model.save_pretrained(staging)  # LoRA: the adapter alone; full: the whole model
        if metadata["mode"] == "full":
            base.tokenizer.save_pretrained(staging)
        (staging / ADAPTED_FILE).write_text(json.dumps(metadata, indent=2), encoding="utf-8")


def load_adapted(path: Path, *, base: Seq2SeqBundle | str | Path | None = None,
                 device: str = "auto") -> Seq2SeqBundle:
    """Load an adapted model saved by :func:`adapt`, full checkpoint or LoRA adapter.

    A LoRA adapter is applied to ``base`` (default: the checkpoint recorded at adaptation time)
    only if that base's weights hash equals the recorded one.
    """
    path = Path(path)
    if not is_complete(path) or not (path / ADAPTED_FILE).is_file():
        raise ModelError(f"{path} is not a complete adapted model (no {ADAPTED_FILE} or completion "
                         "marker); the adaptation was interrupted or never ran. Fix: adapt again.")
    metadata = json.loads((path / ADAPTED_FILE).read_text(encoding="utf-8"))
    if metadata["mode"] == "full":
        return load_seq2seq(path, device=device)
    reference = base if base is not None else metadata.get("base")
    if reference is None:
        raise ModelError(f"the LoRA adapter in {path} records no base checkpoint (it was adapted "
                         "from an in-memory model). Fix: pass base=<the upstream model directory>.")
    base_bundle = (reference.copy() if isinstance(reference, Seq2SeqBundle)
                   else load_seq2seq(reference, device=device))
    found = weights_fingerprint(base_bundle.model)
    if found != metadata["base_fingerprint"]:
        described = base_bundle.name if isinstance(reference, Seq2SeqBundle) else str(reference)
        raise ModelError(f"the LoRA adapter in {path} was trained on a base with weights hash "
                         f"{metadata['base_fingerprint'][:16]}, but {described} has hash "
                         f"{found[:16]}; applying it would give a wrong model. Fix: pass base= the "
                         "exact upstream checkpoint it was adapted from, or adapt again.")
    merged = apply_adapter(base_bundle.model, str(path))
    merged.eval()
    return Seq2SeqBundle(model=merged, tokenizer=base_bundle.tokenizer,
                         name=f"{base_bundle.name}+{path.name}", source=str(path))
