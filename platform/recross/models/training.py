"""One Seq2SeqTrainer set-up shared by upstream training and adaptation.

The Trainer brings checkpointing with resume, gradient accumulation, length-grouped batches and
bf16 on a GPU; this module only fixes the choices both callers share. The schedule, clipping,
label smoothing and batching are the caller's (``adaptation.*``: the reference ran a constant
lr, clipping at 0.1, label smoothing 0.1 and random batches).
"""

from __future__ import annotations

import random
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from torch.utils.data import Dataset
from transformers import (
    PreTrainedModel,
    PreTrainedTokenizerBase,
    Seq2SeqTrainer,
    Seq2SeqTrainingArguments,
)
from transformers.trainer_callback import PrinterCallback, TrainerCallback

from recross.models.batching import PairCollator
from recross.models.device import bf16_supported, resolve_device
from recross.models.losses import token_loss
from recross.progress import ProgressLines, interactive

# EncoderDecoderModel warns on every process's first loss that v4.12 changed how it is computed;
# the small M was built after that change, so the warning says nothing about it.
warnings.filterwarnings("ignore", message="Version v4.12.0 introduces", category=FutureWarning)
# transformers 5 deprecates a property that its own Trainer/peft still read on every adaptation.
warnings.filterwarnings("ignore", message="`is_gradient_checkpointing` is deprecated",
                        category=FutureWarning)


class PairDataset(Dataset):
    """Tokenized pairs; ``input_ids`` lets the length-grouped sampler see each input's length."""

    def __init__(self, features: Sequence[dict[str, list[int]]]) -> None:
        self.features = list(features)

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, index: int) -> dict[str, list[int]]:
        return self.features[index]


class SampledAnswerDataset(Dataset):
    """Each example with one of its gold answers, drawn (seeded) anew each time it is batched,
    i.e. once per epoch: the reference's MyQADataset (np.random.choice over the outputs)."""

    def __init__(self, options: Sequence[Sequence[dict[str, list[int]]]], *, seed: int) -> None:
        self.options = [list(o) for o in options]
        self._rng = random.Random(seed)

    def __len__(self) -> int:
        return len(self.options)

    def __getitem__(self, index: int) -> dict[str, list[int]]:
        return self._rng.choice(self.options[index])


class LossTrainer(Seq2SeqTrainer):
    """The Seq2SeqTrainer, with the label-smoothed token loss of :func:`token_loss` when asked.

    The Trainer's own smoother pops the labels before the forward pass, and then neither BART nor
    EncoderDecoderModel can build its decoder inputs; here the model sees the labels as always.
    """

    def __init__(self, *args: Any, label_smoothing: float = 0.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.label_smoothing = label_smoothing

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if not self.label_smoothing:
            return super().compute_loss(model, inputs, return_outputs=return_outputs,
                                        num_items_in_batch=num_items_in_batch)
        outputs = model(**inputs)
        loss = token_loss(outputs.logits, inputs["labels"], label_smoothing=self.label_smoothing)
        return (loss, outputs) if return_outputs else loss


# The Trainer's scheduler names; "constant" keeps the lr flat after any warm-up.
_SCHEDULERS = {"constant": "constant_with_warmup", "linear": "linear"}
# The Trainer's batch orders: length-grouped shuffled, shuffled, or the dataset's own order.
Sampling = Literal["group_by_length", "random", "sequential"]


def make_trainer(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase,
                 features: Sequence[dict[str, list[int]]] | Dataset, *, output_dir: Path,
                 device: str, learning_rate: float, batch_size: int, seed: int, progress: bool,
                 max_steps: int = -1, epochs: float = 1.0, weight_decay: float = 0.0,
                 warmup_ratio: float = 0.0, warmup_steps: int | None = None,
                 logging_steps: int = 1, save_steps: int | None = None,
                 lr_schedule: Literal["constant", "linear"] = "linear",
                 max_grad_norm: float = 1.0, label_smoothing: float = 0.0,
                 sampling: Sampling = "group_by_length") -> Seq2SeqTrainer:
    """A trainer over ``features`` (tokenized pairs, or a dataset of them); ``save_steps=None``
    writes no checkpoints; ``warmup_steps`` (a count) replaces ``warmup_ratio`` when given.
    ``sampling="sequential"`` batches the features in their own order (the caller shuffled them)."""
    target = resolve_device(device)
    # adamw_torch_fused: one kernel per step (CPU and GPU); the default per-tensor AdamW takes
    # ~0.9 s a step for M's 49M weights on 2 CPU cores, 0.08 s fused.
    args: dict[str, Any] = {
        "output_dir": str(output_dir), "max_steps": max_steps, "num_train_epochs": epochs,
        "per_device_train_batch_size": batch_size, "learning_rate": learning_rate,
        "weight_decay": weight_decay,
        "warmup_steps": warmup_ratio if warmup_steps is None else warmup_steps,
        "lr_scheduler_type": _SCHEDULERS[lr_schedule], "max_grad_norm": max_grad_norm,
        "optim": "adamw_torch_fused", "logging_steps": logging_steps, "seed": seed, "data_seed": seed,
        "train_sampling_strategy": sampling,
        "remove_unused_columns": False,
        "dataloader_num_workers": 0, "report_to": "none",
        "disable_tqdm": not progress or not interactive(),
        "use_cpu": target.type == "cpu", "bf16": bf16_supported(target),
        "save_strategy": "steps" if save_steps else "no", "save_steps": save_steps or 500,
        "save_total_limit": 2, "save_only_model": False}
    dataset = features if isinstance(features, Dataset) else PairDataset(features)
    trainer = LossTrainer(model=model, args=Seq2SeqTrainingArguments(**args),
                          train_dataset=dataset, data_collator=PairCollator(tokenizer.pad_token_id),
                          processing_class=tokenizer, label_smoothing=label_smoothing)
    if not progress or not interactive():
        trainer.remove_callback(PrinterCallback)  # the log is returned (and lined below)
    if progress and not interactive():
        trainer.add_callback(StepLines())
    return trainer


class StepLines(TrainerCallback):
    """Instead of tqdm's redraws on a stream that is not a terminal: a line every 30 s with the
    steps done, steps/s, an ETA and the last logged loss."""

    def __init__(self) -> None:
        self.lines: ProgressLines | None = None
        self.loss = ""

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.lines = ProgressLines("train", state.max_steps, "steps", done=state.global_step)

    def on_log(self, args: Any, state: Any, control: Any, logs: dict | None = None,
               **kwargs: Any) -> None:
        if logs and "loss" in logs:
            self.loss = f"loss {float(logs['loss']):.3f}"

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.lines is not None:
            self.lines.update(state.global_step, self.loss)


def loss_log(trainer: Seq2SeqTrainer) -> list[dict[str, float]]:
    """The training log's loss entries: ``{"step", "epoch", "loss", "learning_rate"}``."""
    return [{"step": int(e["step"]), "epoch": float(e.get("epoch", 0.0)), "loss": float(e["loss"]),
             "learning_rate": float(e.get("learning_rate", 0.0))}
            for e in trainer.state.log_history if "loss" in e]
