"""Building the upstream model M: multi-task training on the upstream pool (how BART0 came from BART).

``build:`` names start from :func:`recross.models.building.build_initial_seq2seq` and train on a
shuffled, examples-proportional mixture of the pool's tasks with a Seq2SeqTrainer; checkpoints
under ``StatePaths.training_checkpoints`` let a killed run resume where it stopped. Hub names
(the paper's BART0) are loaded and saved as they are. The final model is published atomically.

Budgets extend (``upstream_training.lr_schedule="constant"``): the learning rate is flat after a
fixed number of warm-up steps and the batches come in a fixed order whose first N batches do not
depend on the budget (:func:`in_length_blocks`), so a larger ``max_steps`` with otherwise identical
settings resumes from the smaller budget's last checkpoint and trains only the new steps. A linear
schedule decays to 0 at ``max_steps``: there a new budget trains from the start again.

    >>> result = build_upstream_model(load_settings("tiny"), pool, out_dir=Path("/tmp/m"))
    >>> result.loss_curve[-1]
"""

from __future__ import annotations

import json
import logging
import random
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from recross.config import Settings
from recross.data.examples import Example
from recross.data.pool import UpstreamPool
from recross.errors import DataError
from recross.io import atomic_directory, atomic_write_text, is_complete
from recross.models.batching import tokenize_examples
from recross.models.building import BUILD_PREFIX
from recross.models.input_format import set_input_format
from recross.models.loading import Seq2SeqBundle, load_seq2seq
from recross.models.training import loss_log, make_trainer
from recross.paths import StatePaths

SUMMARY_FILE = "upstream_training.json"
# Extendable training groups inputs of similar length within blocks of this many batches.
LENGTH_BLOCK_BATCHES = 50

log = logging.getLogger(__name__)


@dataclass
class UpstreamTrainingResult:
    out_dir: Path
    name: str
    trained: bool  # False: loaded from a hub id, or reused a complete earlier build
    steps: int = 0
    examples_seen: int = 0
    seconds: float = 0.0  # wall time of the training call that produced the model
    cpu_seconds: float = 0.0  # process CPU time of that call (comparable on a shared machine)
    loss_curve: list[dict[str, float]] = field(default_factory=list)
    settings: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {**asdict(self), "out_dir": str(self.out_dir)}


def training_mixture(pool: UpstreamPool, *, size: int, seed: int,
                     examples_per_task: int | None = None,
                     exclude_tasks: tuple[str, ...] | list[str] = ()) -> list[Example]:
    """A shuffled examples-proportional mixture of ``size`` pool examples (cycled if the pool is small)."""
    by_task: dict[str, list[Example]] = {}
    for example in pool.examples:
        if example.task not in exclude_tasks and example.answers:
            by_task.setdefault(example.task, []).append(example)
    candidates = [ex for task in sorted(by_task) for ex in by_task[task][:examples_per_task]]
    if not candidates:
        raise DataError("the upstream training mixture is empty (every task excluded or without "
                        "answers). Fix: check upstream_training.holdout_tasks and data.upstream_tasks.")
    rng = random.Random(seed)
    mixture: list[Example] = []
    while len(mixture) < size:
        shuffled = candidates[:]
        rng.shuffle(shuffled)
        mixture.extend(shuffled[:size - len(mixture)])
    return mixture


def build_upstream_model(settings: Settings, pool: UpstreamPool, *, out_dir: Path,
                         progress: bool = True) -> UpstreamTrainingResult:
    """Produce M at ``out_dir`` (a complete ``save_pretrained`` directory) and say how it was made."""
    name = settings.models.upstream_model
    wanted = _settings_record(settings)
    previous = _read_summary(out_dir)
    if previous is not None and previous.get("settings") == wanted:
        return UpstreamTrainingResult(**{**previous, "out_dir": out_dir, "trained": False})
    if not name.startswith(BUILD_PREFIX):
        bundle = load_seq2seq(name, device=settings.models.device)
        result = UpstreamTrainingResult(out_dir=out_dir, name=name, trained=False, settings=wanted)
        _publish(bundle, result)
        return result
    return _train(settings, pool, out_dir=out_dir, progress=progress, wanted=wanted)


def _train(settings: Settings, pool: UpstreamPool, *, out_dir: Path, progress: bool,
           wanted: dict) -> UpstreamTrainingResult:
    cfg = settings.upstream_training
    name = settings.models.upstream_model
    extendable = cfg.lr_schedule == "constant"
    bundle = load_seq2seq(name, device=settings.models.device)
    set_input_format(bundle.model, settings.models.input_format)  # M learns the texts it is fed
    size = cfg.max_steps * cfg.batch_size
    block = LENGTH_BLOCK_BATCHES * cfg.batch_size
    mixture = training_mixture(pool, size=-(-size // block) * block if extendable else size,
                               seed=cfg.seed, examples_per_task=cfg.examples_per_task,
                               exclude_tasks=cfg.holdout_tasks)
    features = tokenize_examples(bundle.tokenizer, bundle.model, mixture,
                                 max_input_length=(cfg.max_input_length
                                                   or settings.models.max_input_length),
                                 max_output_length=settings.models.max_output_length)
    if extendable:
        features = in_length_blocks(features, batch_size=cfg.batch_size, seed=cfg.seed)[:size]
    checkpoints = StatePaths(settings.home).training_checkpoints(name)
    _reset_if_stale(checkpoints, _checkpoint_record(wanted))
    bundle.model.train()
    trainer = make_trainer(bundle.model, bundle.tokenizer, features, output_dir=checkpoints,
                           device=settings.models.device, learning_rate=cfg.learning_rate,
                           batch_size=cfg.batch_size, seed=cfg.seed, progress=progress,
                           max_steps=cfg.max_steps, weight_decay=cfg.weight_decay,
                           warmup_ratio=cfg.warmup_ratio,
                           warmup_steps=cfg.warmup_steps if extendable else None,
                           lr_schedule=cfg.lr_schedule, logging_steps=cfg.logging_steps,
                           save_steps=cfg.save_steps,
                           sampling="sequential" if extendable else "group_by_length")
    resume = last_complete_checkpoint(checkpoints, at_most=cfg.max_steps)
    started, cpu_started = time.perf_counter(), time.process_time()
    trainer.train(resume_from_checkpoint=resume)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    bundle.model.eval()
    result = UpstreamTrainingResult(out_dir=out_dir, name=name, trained=True,
                                    steps=trainer.state.global_step,
                                    examples_seen=trainer.state.global_step * cfg.batch_size,
                                    seconds=seconds, cpu_seconds=cpu_seconds,
                                    loss_curve=loss_log(trainer), settings=wanted)
    _publish(bundle, result)
    return result


def in_length_blocks(features: list[dict[str, list[int]]], *, batch_size: int,
                     seed: int) -> list[dict[str, list[int]]]:
    """``features`` reordered so that consecutive batches of ``batch_size`` hold inputs of similar
    length (less padding), within blocks of :data:`LENGTH_BLOCK_BATCHES` batches in batch order
    shuffled per block: a block's order depends on its own examples only, so the first N batches
    are the same for every budget whose features share those blocks."""
    block = LENGTH_BLOCK_BATCHES * batch_size
    ordered: list[dict[str, list[int]]] = []
    for number, start in enumerate(range(0, len(features), block)):
        chunk = sorted(features[start:start + block], key=lambda f: len(f["input_ids"]))
        batches = [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
        random.Random(f"{seed}-{number}").shuffle(batches)
        ordered.extend(f for batch in batches for f in batch)
    return ordered


def last_complete_checkpoint(checkpoints: Path, *, at_most: int | None = None) -> str | None:
    """The newest checkpoint that was fully written; partial ones (killed mid-save) are removed,
    and so are those past ``at_most`` steps (a larger budget's, when a smaller one is asked for).

    The Trainer writes ``trainer_state.json`` last, so a checkpoint whose state file parses is whole.
    """
    found = sorted(checkpoints.glob(f"{PREFIX_CHECKPOINT_DIR}-*"),
                   key=lambda p: int(p.name.rsplit("-", 1)[-1]), reverse=True)
    for candidate in found:
        if at_most is not None and int(candidate.name.rsplit("-", 1)[-1]) > at_most:
            log.warning("removing %s: it is past the budget of %d steps", candidate, at_most)
            shutil.rmtree(candidate, ignore_errors=True)
            continue
        try:
            json.loads((candidate / "trainer_state.json").read_text(encoding="utf-8"))
            return str(candidate)
        except (OSError, json.JSONDecodeError):
            shutil.rmtree(candidate, ignore_errors=True)
    return None


def _settings_record(settings: Settings) -> dict:
    """What determines the model: if any of it changes, an earlier build is not reused."""
    training = settings.upstream_training.model_dump(mode="json")
    for key, default in _LATER_TRAINING_FIELDS.items():  # absent from the builds made before them
        if training[key] == default:
            del training[key]
    return {"upstream_model": settings.models.upstream_model,
            "max_input_length": settings.models.max_input_length,
            "max_output_length": settings.models.max_output_length,
            "upstream_training": training,
            # recorded only when not plain, so the builds made before the setting stay valid
            **({"input_format": settings.models.input_format}
               if settings.models.input_format != "plain" else {}),
            "data": settings.data.model_dump(mode="json", include={"upstream_cap_per_task",
                                                                   "upstream_tasks"})}


# Settings added after builds existed, with the value those builds had.
_LATER_TRAINING_FIELDS = {"lr_schedule": "linear", "warmup_steps": None, "max_input_length": None}


def _checkpoint_record(wanted: dict) -> dict:
    """What checkpoints must share to be resumed: everything, less the budget where it extends."""
    return _without_budget(wanted) if wanted["upstream_training"].get("lr_schedule") == "constant" \
        else wanted


def _without_budget(record: dict) -> dict:
    training = record["upstream_training"]
    return {**record, "upstream_training": {k: v for k, v in training.items() if k != "max_steps"}}


def _reset_if_stale(checkpoints: Path, wanted: dict) -> None:
    """Checkpoints of a run with other settings must not be resumed: remove them."""
    marker = checkpoints / "recross_settings.json"
    if marker.is_file():
        found = json.loads(marker.read_text(encoding="utf-8"))
        if found == wanted:
            return
        if _without_budget(found) == _without_budget(wanted):  # only the budget of a linear run
            log.warning("upstream training restarts from step 0: its checkpoints are for another "
                        "max_steps under a linear schedule, which decays to 0 at the budget. Fix, "
                        "to extend instead: upstream_training.lr_schedule=constant with warmup_steps.")
    if checkpoints.is_dir():
        shutil.rmtree(checkpoints)
    checkpoints.mkdir(parents=True, exist_ok=True)
    atomic_write_text(marker, json.dumps(wanted, sort_keys=True))


def _publish(bundle: Seq2SeqBundle, result: UpstreamTrainingResult) -> None:
    with atomic_directory(result.out_dir) as staging:
        bundle.model.save_pretrained(staging)
        bundle.tokenizer.save_pretrained(staging)
        (staging / SUMMARY_FILE).write_text(json.dumps(result.to_json(), indent=2),
                                            encoding="utf-8")


def _read_summary(out_dir: Path) -> dict | None:
    if not is_complete(out_dir) or not (out_dir / SUMMARY_FILE).is_file():
        return None
    summary = json.loads((out_dir / SUMMARY_FILE).read_text(encoding="utf-8"))
    summary.pop("out_dir", None)
    summary.pop("trained", None)
    return summary
