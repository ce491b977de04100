"""Distant supervision for the reranker, mined from the upstream pool (METHOD.md Algorithm 1).

For each tuple: pick an upstream task Tq (seeded), draw a pretend query set Zq and a held-out set
Hq of Tq, dense-retrieve candidates RZ with Zq from every OTHER task (the filter goes down to the
index; ``exclude_tasks``, the pretend-targets by default, are never Tq nor candidates), then for several rounds shuffle RZ into groups, fine-tune a fresh copy of M on each group
and measure its loss on Hq. A candidate's score is the mean loss of the groups it was in; the W
lowest-loss candidates are positives, the W highest negatives; every query of Zq is paired with
each of them. Under ``scoring: gradient`` (the small profile) no group is fine-tuned: a
candidate's score is Hq's loss after one gradient step on it alone, to first order (forward
passes only; what the group fine-tunes estimate, per example and without their noise; 3.3x less
CPU per tuple, config.py). Candidates are distinct examples (a duplicate would share groups with itself and
blur its own score), topped up from deeper ranks when queries retrieve the same examples.

Where this deliberately differs from the reference (metax/reranker_bootstrap/gen_better_ds.py):
Hq is drawn from the pool's own examples of Tq, distinct from Zq, where the reference sampled
100 from Tq's test file (test-1000.json): the pool is all the upstream data the platform holds
and drawing both from it keeps a pretend task's queries and
held-out set disjoint without a second file per task.
Candidates are the pooled dense list of all queries of Zq (as step 2 retrieves for a real target),
de-duplicated, so the reranker is trained on the candidates it will later rerank. The group
fine-tune's optimiser follows the reference through ``mining.finetune_*`` (paper profile).

Every tuple depends only on ``(settings.seed, tuple_id)``, and a finished tuple is one atomically
written parquet file, so a killed run resumes where it stopped and a resumed run equals an
uninterrupted one. The run's settings are stored in ``mining.json``; resuming with other settings
is refused rather than mixing two configurations in one table.

    >>> run = mine_distant_supervision(retriever=dagger, upstream=bundle, settings=s.mining,
    ...                                max_input_length=256, max_output_length=64,
    ...                                out_dir=paths.mining("minilm"))
    >>> run.table[["query_text", "candidate_text", "label", "tuple_id", "candidate_loss"]]
"""

from __future__ import annotations

import io
import json
import logging
import random
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from recross.config import MiningSettings
from recross.data import Example, UpstreamPool
from recross.errors import ConfigError
from recross.index.filters import TaskFilter
from recross.io import atomic_write_bytes, atomic_write_json
from recross.models import Seq2SeqBundle, example_losses, finetune_steps, mean_loss
from recross.models.batching import IGNORE_INDEX, PairCollator, tokenize_examples
from recross.progress import progress_bar
from recross.retrieval.dense import DenseRetrieval

log = logging.getLogger(__name__)

MANIFEST_FILE = "mining.json"
TUPLE_GLOB = "tuple-*.parquet"
PAIR_TABLE_COLUMNS = (
    "tuple_id", "query_task", "query_index", "query_id", "query_text", "candidate_id",
    "candidate_task", "candidate_text", "label", "candidate_rank", "candidate_loss",
    "candidate_losses", "base_loss", "tuple_seconds")


@dataclass(frozen=True)
class MiningRun:
    """The mined pairs of every finished tuple, and what this call cost."""

    table: pd.DataFrame
    directory: Path
    mined: int  # tuples mined by this call
    resumed: int  # tuples found finished on disk
    seconds_per_tuple: float | None  # mean over the tuples mined by this call


@dataclass(frozen=True)
class _Tuple:
    task: str
    queries: list[Example]
    heldout: list[Example]
    candidates: list[Example]


def mine_distant_supervision(*, retriever: DenseRetrieval, upstream: Seq2SeqBundle, settings: MiningSettings,
                             max_input_length: int, max_output_length: int, out_dir: Path,
                             progress: bool = True) -> MiningRun:
    """Mine ``settings.n_tuples`` tuples into ``out_dir`` (resuming finished ones); see module doc.

    ``retriever`` is the dense ``recross-dagger`` retriever over the upstream model's index; its
    pool is D, where pretend query tasks come from. ``upstream`` is M, never modified (each group
    fine-tunes a copy).
    """
    pool = retriever.pool
    _check_sizes(settings)
    eligible = _eligible_tasks(pool, settings)
    manifest = _manifest(pool, retriever, upstream, settings, max_input_length, max_output_length)
    _open_run(out_dir, manifest)
    done = {tid for tid in range(settings.n_tuples) if _tuple_path(out_dir, tid).is_file()}
    todo = [tid for tid in range(settings.n_tuples) if tid not in done]
    log.info("mining %d tuples into %s: %d finished before, %d to mine (%s)", settings.n_tuples,
             out_dir, len(done), len(todo),
             f"{settings.groups} groups x {settings.rounds} rounds of {settings.finetune_steps} "
             "fine-tune steps each" if settings.scoring == "finetune"
             else "first-order loss change per candidate")
    lengths = {"max_input_length": max_input_length, "max_output_length": max_output_length}
    seconds: list[float] = []
    bar = progress_bar(enabled=progress, total=settings.n_tuples, initial=len(done),
                       desc="mining tuples", unit="tuple")
    try:
        for tid in todo:
            started = time.perf_counter()
            drawn = _draw_tuple(tid, retriever=retriever, eligible=eligible, settings=settings)
            frame = _score_tuple(tid, drawn, upstream=upstream, settings=settings,
                                 lengths=lengths)
            elapsed = time.perf_counter() - started
            seconds.append(elapsed)
            _write_tuple(out_dir, tid, frame.assign(tuple_seconds=elapsed))
            bar.update(1)
            bar.set_postfix(task=drawn.task, s_per_tuple=f"{np.mean(seconds):.1f}")
            log.info("tuple %d (%s): %.1f s; held-out loss %.4f before fine-tuning, mean %.4f "
                     "after positives' groups, %.4f after negatives'", tid, drawn.task, elapsed,
                     frame.base_loss.iloc[0], frame[frame.label == 1].candidate_loss.mean(),
                     frame[frame.label == 0].candidate_loss.mean())
    finally:
        bar.close()
    if seconds:
        log.info("mining cost: %.1f s per tuple (mean of %d); %d tuples take ~%.1f min",
                 float(np.mean(seconds)), len(seconds), settings.n_tuples,
                 float(np.mean(seconds)) * settings.n_tuples / 60)
    return MiningRun(table=read_mined(out_dir, n_tuples=settings.n_tuples), directory=out_dir,
                     mined=len(seconds), resumed=len(done),
                     seconds_per_tuple=float(np.mean(seconds)) if seconds else None)


def read_mined(out_dir: Path, *, n_tuples: int | None = None) -> pd.DataFrame:
    """The pairs table of the finished tuples in ``out_dir`` (the first ``n_tuples`` if given)."""
    paths = sorted(out_dir.glob(TUPLE_GLOB))
    frames = [pd.read_parquet(p) for p in paths
              if n_tuples is None or _tuple_id(p) < n_tuples]
    if not frames:
        return pd.DataFrame(columns=list(PAIR_TABLE_COLUMNS))
    return pd.concat(frames, ignore_index=True).sort_values(
        ["tuple_id", "query_index", "label", "candidate_rank"], ascending=[True, True, False, True],
        kind="stable").reset_index(drop=True)


def _check_sizes(settings: MiningSettings) -> None:
    if 2 * settings.positives > settings.candidates:
        raise ConfigError(f"mining.positives W={settings.positives} needs 2W <= mining.candidates "
                          f"({settings.candidates}) so positives and negatives do not overlap. "
                          "Fix: lower mining.positives or raise mining.candidates.")
    if settings.groups > settings.candidates:
        raise ConfigError(f"mining.groups={settings.groups} is more than mining.candidates="
                          f"{settings.candidates}; some groups would be empty. "
                          "Fix: lower mining.groups (reference: candidates / 20).")


def _eligible_tasks(pool: UpstreamPool, settings: MiningSettings) -> dict[str, list[Example]]:
    """Tasks with enough distinct inputs for Zq + Hq and enough other-task candidates, each with
    its examples of distinct inputs (first of each input, pool order)."""
    need = settings.query_size + settings.heldout_size
    excluded = set(settings.exclude_tasks or ())
    distinct: dict[str, dict[str, Example]] = {}
    for ex in pool.examples:
        if ex.task not in excluded:
            distinct.setdefault(ex.task, {}).setdefault(ex.input, ex)
    counts = pool.task_counts()
    usable = len(pool) - sum(counts.get(task, 0) for task in excluded)
    eligible = {task: list(by_input.values()) for task, by_input in sorted(distinct.items())
                if len(by_input) >= need and usable - counts[task] >= settings.candidates}
    if not eligible:
        raise ConfigError(
            f"no upstream task can serve as a pretend query task: each needs {need} distinct "
            f"inputs (|Zq|={settings.query_size} + |Hq|={settings.heldout_size}) and "
            f"{settings.candidates} candidates from other tasks; the pool has "
            f"{ {t: len(v) for t, v in sorted(distinct.items())} }. Fix: lower "
            "mining.query_size / heldout_size / candidates or use a larger pool.")
    return eligible


def _draw_tuple(tid: int, *, retriever: DenseRetrieval, eligible: dict[str, list[Example]],
                settings: MiningSettings) -> _Tuple:
    rng = random.Random(f"mining:{settings.seed}:{tid}")
    task = rng.choice(list(eligible))
    drawn = rng.sample(eligible[task], settings.query_size + settings.heldout_size)
    queries, heldout = drawn[:settings.query_size], drawn[settings.query_size:]
    candidates = _distinct_candidates([q.input for q in queries], retriever=retriever,
                                      filters=TaskFilter(exclude_tasks=(
                                          task, *(settings.exclude_tasks or ()))),
                                      wanted=settings.candidates)
    return _Tuple(task=task, queries=queries, heldout=heldout, candidates=candidates)


def _distinct_candidates(inputs: Sequence[str], *, retriever: DenseRetrieval,
                         filters: TaskFilter, wanted: int) -> list[Example]:
    """The first ``wanted`` distinct examples of the pooled dense list, retrieving deeper when
    the queries share neighbours."""
    size = wanted
    while True:
        items = retriever.candidates(inputs, size=size, filters=filters)
        distinct = list({item.example.example_id: item.example for item in items}.values())
        if len(distinct) >= wanted or len(items) < size:
            return distinct[:wanted]
        size *= 2


def _score_tuple(tid: int, drawn: _Tuple, *, upstream: Seq2SeqBundle, settings: MiningSettings,
                 lengths: dict[str, int]) -> pd.DataFrame:
    """Rounds of group fine-tuning (or the first-order scores); returns the tuple's pairs table."""
    rng = random.Random(f"mining-groups:{settings.seed}:{tid}")
    loss_batch_size = settings.loss_batch_size
    base_loss = mean_loss(upstream, drawn.heldout, batch_size=loss_batch_size, **lengths)
    losses: list[list[float]] = [[] for _ in drawn.candidates]
    if settings.scoring == "gradient":
        losses = [[loss] for loss in _first_order_losses(
            upstream, drawn, base_loss=base_loss, settings=settings, lengths=lengths)]
    for round_ in range(settings.rounds if settings.scoring == "finetune" else 0):
        order = rng.sample(range(len(drawn.candidates)), len(drawn.candidates))
        for group_no, group in enumerate(np.array_split(np.array(order), settings.groups)):
            group_seed = _group_seed(settings.seed, tid, round_, group_no)
            with _seeded(group_seed, upstream):  # dropout; the batch order uses group_seed too
                tuned = finetune_steps(upstream, [drawn.candidates[i] for i in group],
                                       steps=settings.finetune_steps,
                                       lr=settings.finetune_learning_rate,
                                       batch_size=settings.finetune_batch_size,
                                       seed=group_seed,
                                       warmup_steps=settings.finetune_warmup_steps,
                                       schedule=settings.finetune_schedule,
                                       weight_decay=settings.finetune_weight_decay,
                                       max_grad_norm=settings.finetune_max_grad_norm,
                                       label_smoothing=settings.finetune_label_smoothing,
                                       **lengths)
            loss = mean_loss(tuned, drawn.heldout, batch_size=loss_batch_size, **lengths)
            del tuned
            for i in group:
                losses[int(i)].append(loss)
    scores = [float(np.mean(ls)) for ls in losses]
    ranked = sorted(range(len(scores)), key=lambda i: (scores[i], i))  # ties: dense rank first
    picks = [(i, 1) for i in ranked[:settings.positives]] + \
            [(i, 0) for i in ranked[-settings.positives:]]
    rows: list[dict[str, Any]] = []
    for q_index, query in enumerate(drawn.queries):
        for i, label in picks:
            cand = drawn.candidates[i]
            rows.append({"tuple_id": tid, "query_task": drawn.task, "query_index": q_index,
                         "query_id": query.example_id, "query_text": query.input,
                         "candidate_id": cand.example_id, "candidate_task": cand.task,
                         "candidate_text": cand.input, "label": label, "candidate_rank": i + 1,
                         "candidate_loss": scores[i], "candidate_losses": losses[i],
                         "base_loss": base_loss})
    return pd.DataFrame(rows)


def _first_order_losses(upstream: Seq2SeqBundle, drawn: _Tuple, *, base_loss: float,
                        settings: MiningSettings, lengths: dict[str, int]) -> list[float]:
    """Per candidate x, Hq's loss after one plain gradient step of ``finetune_learning_rate`` on
    x alone, to first order: ``base_loss - lr * g_x . g_H``.

    The group fine-tunes estimate the same quantity through groups and Adam steps; this is its
    noise-free per-example limit. ``g_x . g_H`` is the derivative of x's loss along Hq's gradient
    (the first-order influence is symmetric), taken by central differences at a parameter step of
    ``gradient_step`` (relative to |theta|): one backward pass on Hq and two forward passes over
    the candidates, no fine-tuning and no per-candidate backward pass.
    """
    tuned = upstream.copy()
    params = [p for p in tuned.model.parameters() if p.requires_grad]
    grads = _mean_loss_gradient(tuned, drawn.heldout, params=params, lengths=lengths,
                                batch_size=settings.loss_batch_size)
    grad_norm = float(np.sqrt(sum(float((g.double() ** 2).sum()) for g in grads)))
    theta_norm = float(np.sqrt(sum(float((p.detach().double() ** 2).sum()) for p in params)))
    h = settings.gradient_step * theta_norm / max(grad_norm, 1e-12)
    measured: dict[float, list[float]] = {}
    with torch.no_grad():
        for sign in (1.0, -1.0):
            for p, g in zip(params, grads):
                p.add_(g, alpha=sign * h)
            measured[sign] = example_losses(tuned, drawn.candidates,
                                            batch_size=settings.loss_batch_size, **lengths)
            for p, g in zip(params, grads):
                p.sub_(g, alpha=sign * h)
    del tuned
    lr = settings.finetune_learning_rate
    return [base_loss - lr * (plus - minus) / (2 * h)
            for plus, minus in zip(measured[1.0], measured[-1.0])]


def _mean_loss_gradient(bundle: Seq2SeqBundle, examples: Sequence[Example], *,
                        params: list[torch.nn.Parameter], lengths: dict[str, int],
                        batch_size: int) -> list[torch.Tensor]:
    """The gradient of :func:`mean_loss` (dropout off, as it is measured)."""
    model = bundle.model
    model.eval()
    features = tokenize_examples(bundle.tokenizer, model, examples, **lengths)
    collate = PairCollator(bundle.tokenizer.pad_token_id)
    model.zero_grad(set_to_none=True)
    for start in range(0, len(features), batch_size):
        inputs = {k: v.to(bundle.device)
                  for k, v in collate(features[start:start + batch_size]).items()}
        labels = inputs["labels"]
        per_token = F.cross_entropy(model(**inputs).logits.float().transpose(1, 2), labels,
                                    ignore_index=IGNORE_INDEX, reduction="none")
        counts = (labels != IGNORE_INDEX).sum(dim=1).clamp(min=1)
        ((per_token.sum(dim=1) / counts).sum() / len(features)).backward()
    grads = [p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p)
             for p in params]
    model.zero_grad(set_to_none=True)
    return grads


@contextmanager
def _seeded(seed: int, bundle: Seq2SeqBundle) -> Iterator[None]:
    """Seed torch for one group's fine-tuning without touching the caller's random state."""
    device = bundle.device
    with torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        yield


def _group_seed(seed: int, tid: int, round_: int, group_no: int) -> int:
    return (seed * 1_000_003 + tid * 10_007 + round_ * 101 + group_no) % (2 ** 31)


def _manifest(pool: UpstreamPool, retriever: DenseRetrieval, upstream: Seq2SeqBundle,
              settings: MiningSettings, max_input_length: int,
              max_output_length: int) -> dict[str, Any]:
    """What a mined tuple depends on; ``n_tuples`` is left out so a run can be extended.

    M is pinned by the encoder name (which carries its weights hash), not by its path, so a
    state folder can move without losing its tuples.
    """
    return {"settings": settings.model_dump(mode="json", exclude={"n_tuples"}),
            "upstream_model": upstream.name, "encoder": retriever.encoder.name,
            "index": retriever.index.collection, "pool_task_counts": pool.task_counts(),
            "max_input_length": max_input_length, "max_output_length": max_output_length}


def _open_run(out_dir: Path, manifest: dict[str, Any]) -> None:
    path = out_dir / MANIFEST_FILE
    if not path.is_file():
        atomic_write_json(path, manifest)
        return
    stored = _flat(json.loads(path.read_text(encoding="utf-8")))
    wanted = _flat(json.loads(json.dumps(manifest, default=str)))
    # Keys a newer version stopped recording (the model's path) do not invalidate old tuples.
    changed = sorted(k for k in wanted if stored.get(k) != wanted[k])
    if changed:
        raise ConfigError(f"{out_dir} holds tuples mined with other settings (differing: "
                          f"{', '.join(changed)}); mixing them would blur the supervision. "
                          "Fix: mine into another folder, or delete this one to start over.")


def _flat(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _tuple_path(out_dir: Path, tid: int) -> Path:
    return out_dir / f"tuple-{tid:05d}.parquet"


def _tuple_id(path: Path) -> int:
    return int(path.stem.split("-")[1])


def _write_tuple(out_dir: Path, tid: int, frame: pd.DataFrame) -> None:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    atomic_write_bytes(_tuple_path(out_dir, tid), buffer.getvalue())
