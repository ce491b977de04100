"""LoRA adapters for adaptation: defaults per architecture, and safe re-loading onto the right base.

An adapter is saved alone (kilobytes to megabytes instead of a whole model) with the identity of
the upstream checkpoint it was trained on: where it was loaded from and a hash of its weights, so
it is never applied to another base.
"""

from __future__ import annotations

from collections.abc import Sequence

from peft import LoraConfig, PeftModel, TaskType, get_peft_model
from torch import nn
from transformers import PreTrainedModel

from recross.config import AdaptationSettings
from recross.errors import ModelError

# Attention query/value projections per family: BART (q_proj/v_proj), T5 (q/v), BERT (query/value,
# which also covers the built encoder-decoder's cross-attention).
_TARGET_CANDIDATES: tuple[tuple[str, ...], ...] = (("q_proj", "v_proj"), ("q", "v"),
                                                   ("query", "value"))


def default_target_modules(model: nn.Module) -> list[str]:
    """The attention query/value projections of ``model``, whatever its family."""
    linear_names = {name.rsplit(".", 1)[-1] for name, module in model.named_modules()
                    if isinstance(module, nn.Linear)}
    for candidates in _TARGET_CANDIDATES:
        if set(candidates) <= linear_names:
            return list(candidates)
    raise ModelError(f"no known attention projections in {type(model).__name__} for LoRA. "
                     "Fix: set adaptation.lora_target_modules to its linear layer names.")


def with_lora(model: PreTrainedModel, settings: AdaptationSettings) -> PeftModel:
    """Wrap ``model`` (a copy: peft edits it in place) with trainable adapters; the rest is frozen."""
    targets: Sequence[str] = settings.lora_target_modules or default_target_modules(model)
    config = LoraConfig(task_type=TaskType.SEQ_2_SEQ_LM, r=settings.lora_rank,
                        lora_alpha=settings.lora_alpha, lora_dropout=settings.lora_dropout,
                        target_modules=list(targets))
    try:
        return get_peft_model(model, config)
    except ValueError as exc:
        raise ModelError(f"cannot add LoRA adapters to {list(targets)}: {exc}. Fix: correct "
                         "adaptation.lora_target_modules.") from exc


def apply_adapter(base: PreTrainedModel, adapter_dir: str) -> PreTrainedModel:
    """Load the adapter onto ``base`` and merge it, giving a plain model for generation/encoding."""
    return PeftModel.from_pretrained(base, adapter_dir).merge_and_unload()
