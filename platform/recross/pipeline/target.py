"""Per-target steps for one (target task, retriever): query sets, retrieval, adaptation, evaluation.

Every query-set seed of a partition runs inside one call; each seed's product is written
atomically under ``RECROSS_HOME/targets/<target>/<retriever>/``, and a rerun skips seeds whose
product is complete and still matches its inputs, so a killed run resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from recross.config import Settings
from recross.data import (
    PAPER_TARGETS,
    Example,
    QuerySet,
    UpstreamPool,
    load_target,
    resolve_data_dir,
)
from recross.data.targets import draw_query_sets
from recross.data.user_files import read_labelled_examples, read_query_inputs
from recross.errors import DataError
from recross.evaluation.metrics import exact_match, score_predictions, soft_em
from recross.index.filters import TaskFilter
from recross.io import atomic_write_bytes, atomic_write_json, is_complete
from recross.models import adapt, generate, load_adapted, load_seq2seq
from recross.paths import StatePaths, slug
from recross.pipeline.reranking import load_scorer
from recross.pipeline.upstream import open_pool_index, upstream_model_dir
from recross.retrieval import RetrievedSet, make_retriever
from recross.retrieval.distribution import task_distribution

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TargetPaths:
    """Where one (target, retriever) partition keeps its products."""

    root: Path

    @classmethod
    def of(cls, settings: Settings, target: str, retriever: str) -> TargetPaths:
        return cls(study_root(settings) / slug(target) / slug(retriever))

    @property
    def query_sets(self) -> Path:
        return self.root / "query_sets.json"

    def retrieved(self, seed: int) -> Path:
        return self.root / "retrieved" / f"seed-{seed}.parquet"

    def predictions(self, seed: int) -> Path:
        return self.root / "predictions" / f"seed-{seed}.parquet"

    def adapted(self, seed: int) -> Path:
        return self.root / "adapted" / f"seed-{seed}"

    @property
    def evaluation(self) -> Path:
        return self.root / "evaluation.parquet"


def study_root(settings: Settings) -> Path:
    """Where the per-target results of ``settings.study`` live."""
    return Path(settings.home) / "studies" / slug(settings.study)


# -- user tasks -----------------------------------------------------------------------------

def user_task_dir(settings: Settings, name: str) -> Path:
    return StatePaths(Path(settings.home)).user_tasks / slug(name)


def is_user_task(settings: Settings, name: str) -> bool:
    return (user_task_dir(settings, name) / "task.json").is_file()


def register_user_task(settings: Settings, name: str, queries: Path, *,
                       labelled: Path | None = None, column: str = "input") -> Path:
    """Store a user's query file (and optional labelled file) under RECROSS_HOME/tasks/NAME."""
    inputs = read_query_inputs(queries, column=column)
    folder = user_task_dir(settings, name)
    atomic_write_bytes(folder / "queries.jsonl", "".join(
        json.dumps({"input": text}) + "\n" for text in inputs).encode("utf-8"))
    spec: dict[str, object] = {"name": name, "queries": len(inputs), "source": str(queries)}
    if labelled is not None:
        examples = read_labelled_examples(labelled, task=name, column=column)
        atomic_write_bytes(folder / "test.jsonl", "".join(
            json.dumps({"input": e.input, "answers": list(e.answers)}) + "\n"
            for e in examples).encode("utf-8"))
        spec["test_examples"] = len(examples)
    atomic_write_json(folder / "task.json", spec)
    return folder


# -- query sets -----------------------------------------------------------------------------

def make_query_sets(settings: Settings, target: str) -> list[QuerySet]:
    """The target's query sets: seeded draws of |Q| inputs (a user task with <= |Q| inputs: one set)."""
    r = settings.retrieval
    if is_user_task(settings, target):
        inputs = read_query_inputs(user_task_dir(settings, target) / "queries.jsonl")
        if len(inputs) <= r.query_size:
            return [QuerySet(task=target, seed=0, inputs=tuple(inputs))]
        rows = [Example(example_id=f"{target}|user|-|#{i}", input=t, answers=(), task=target,
                        split="user", template="-", source_index=i, source_task=target)
                for i, t in enumerate(inputs)]
        return draw_query_sets(rows, task=target, size=r.query_size, n_sets=r.n_query_sets)
    return load_target(resolve_data_dir(settings.data.data_dir), target, query_size=r.query_size,
                       n_query_sets=r.n_query_sets).query_sets


def save_query_sets(path: Path, sets: Sequence[QuerySet]) -> None:
    atomic_write_json(path, [{"task": q.task, "seed": q.seed, "inputs": list(q.inputs),
                              "example_ids": list(q.example_ids)} for q in sets])


def load_query_sets(path: Path) -> list[QuerySet]:
    if not path.is_file():
        raise DataError(f"{path}: no query sets. Fix: materialize the query_sets asset first.")
    return [QuerySet(task=q["task"], seed=q["seed"], inputs=tuple(q["inputs"]),
                     example_ids=tuple(q["example_ids"])) for q in json.loads(path.read_text())]


def test_examples(settings: Settings, target: str) -> list[Example] | None:
    """The labelled test set E (a user task: its labelled file, or None when it has none)."""
    if is_user_task(settings, target):
        path = user_task_dir(settings, target) / "test.jsonl"
        return read_labelled_examples(path, task=target) if path.is_file() else None
    return load_target(resolve_data_dir(settings.data.data_dir), target, query_size=1,
                       n_query_sets=1,
                       test_sample_size=settings.data.test_sample_size).test


# -- retrieval ------------------------------------------------------------------------------

def build_retriever(settings: Settings, pool: UpstreamPool, name: str):
    """The retriever ``name`` with the index, encoder and cross-encoder it needs."""
    kwargs: dict[str, object] = {}
    if name in ("sbert", "recross-dagger", "recross"):
        handle = open_pool_index(settings, pool, "sbert" if name == "sbert" else "upstream")
        kwargs.update(index=handle.index, encoder=handle.encoder)
    if name == "recross":
        kwargs["scorer"] = load_scorer(settings)
    return make_retriever(name, pool=pool, settings=settings.retrieval,
                          exact=settings.index.exact or None, **kwargs)


def retrieve_for_target(settings: Settings, pool: UpstreamPool, *, target: str, retriever: str,
                        query_sets: Sequence[QuerySet], filters: TaskFilter | None = None,
                        ) -> list[RetrievedSet]:
    """Retrieve |R| examples for every query set and store each set as a parquet table."""
    paths = TargetPaths.of(settings, target, retriever)
    engine = build_retriever(settings, pool, retriever)
    try:
        results = []
        for qs in query_sets:
            retrieved = engine.retrieve(qs, size=settings.retrieval.retrieved_size,
                                        filters=filters)
            atomic_write_bytes(paths.retrieved(qs.seed),
                               retrieved.to_frame().to_parquet(index=False))
            results.append(retrieved)
        return results
    finally:
        index = getattr(getattr(engine, "dense", engine), "index", None)
        if index is not None:
            index.close()


def load_retrieved(settings: Settings, pool: UpstreamPool, *, target: str, retriever: str,
                   seed: int) -> list[Example]:
    """The examples of a stored retrieved set, in order, duplicates kept."""
    path = TargetPaths.of(settings, target, retriever).retrieved(seed)
    if not path.is_file():
        raise DataError(f"{path}: no retrieved set. Fix: materialize retrieved_sets first.")
    return pool.lookup(pd.read_parquet(path)["example_id"].tolist())


def distribution_frame(retrieved: Sequence[RetrievedSet]) -> pd.DataFrame:
    """Share of each upstream task in the pooled retrieved sets (Figure 3's raw material)."""
    return task_distribution(list(retrieved))


# -- adaptation -----------------------------------------------------------------------------

def _fingerprint(example_ids: Sequence[str], settings: Settings) -> str:
    payload = json.dumps([list(example_ids), settings.adaptation.model_dump(mode="json"),
                          settings.models.upstream_model])
    return hashlib.sha1(payload.encode("utf-8")).hexdigest()


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
        if is_complete(out_dir) and marker.is_file() and \
                json.loads(marker.read_text()).get("fingerprint") == fingerprint:
            out.append(AdaptedSeed(seed=seed, path=out_dir, seconds=0.0, reused=True))
            continue
        if base is None:
            base = load_seq2seq(upstream_model_dir(settings), device=settings.models.device)
        started = time.perf_counter()
        result = adapt(base, examples, settings.adaptation,
                       max_input_length=settings.models.max_input_length,
                       max_output_length=settings.models.max_output_length,
                       out_dir=out_dir, progress=progress)
        # Written after the checkpoint: a kill in between only costs a re-adaptation.
        atomic_write_json(marker, {"fingerprint": fingerprint, "examples": len(examples)})
        out.append(AdaptedSeed(seed=seed, path=out_dir, seconds=time.perf_counter() - started,
                               reused=False, final_loss=result.final_loss))
    return out


# -- evaluation -----------------------------------------------------------------------------

def predict(settings: Settings, model_dir: Path | None, inputs: Sequence[str], *,
            progress: bool = True) -> list[str]:
    """Generate answers with an adapted model (or M itself when ``model_dir`` is None)."""
    bundle = (load_seq2seq(upstream_model_dir(settings), device=settings.models.device)
              if model_dir is None else load_adapted(model_dir, device=settings.models.device))
    g = settings.generation
    return generate(bundle, list(inputs), num_beams=g.num_beams, max_new_tokens=g.max_new_tokens,
                    batch_size=g.batch_size, max_input_length=settings.models.max_input_length,
                    progress=progress)


def predictions_frame(examples: Sequence[Example], predictions: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame({
        "example_id": [e.example_id for e in examples],
        "prediction": list(predictions),
        "answers": [list(e.answers) for e in examples],
        "softem": [soft_em(p, e.answers) for p, e in zip(predictions, examples)],
        "em": [exact_match(p, e.answers) for p, e in zip(predictions, examples)],
    })


def evaluate_for_target(settings: Settings, *, target: str, retriever: str,
                        adapted: Sequence[AdaptedSeed], test: Sequence[Example],
                        on_seed: Callable[[int, pd.DataFrame, dict[str, float]], None] | None = None,
                        progress: bool = True) -> pd.DataFrame:
    """SoftEM/EM of each seed's adapted model on E; one row per seed, stored as parquet."""
    paths = TargetPaths.of(settings, target, retriever)
    rows = []
    cached_none: pd.DataFrame | None = None
    for item in adapted:
        if item.path is None and cached_none is not None:
            frame = cached_none  # "none": M itself, identical for every seed
        else:
            frame = predictions_frame(test, predict(settings, item.path,
                                                    [e.input for e in test], progress=progress))
            if item.path is None:
                cached_none = frame
        atomic_write_bytes(paths.predictions(item.seed), frame.to_parquet(index=False))
        scores = score_predictions(frame["prediction"].tolist(), [e.answers for e in test])
        if on_seed is not None:
            on_seed(item.seed, frame, scores)
        rows.append({"target_task": target, "retriever": retriever, "seed": item.seed,
                     "softem": scores["softem"], "em": scores["em"], "n_test": len(test)})
    table = pd.DataFrame(rows)
    atomic_write_bytes(paths.evaluation, table.to_parquet(index=False))
    return table


def known_targets(settings: Settings) -> list[str]:
    """Every target a partition can name: the paper's targets with data, then the user's tasks."""
    data_dir = resolve_data_dir(settings.data.data_dir)
    paper = [t for t in PAPER_TARGETS if (data_dir / t / "test-1000.json").is_file()]
    users_root = StatePaths(Path(settings.home)).user_tasks
    users = sorted(p.parent.name for p in users_root.glob("*/task.json"))
    return paper + [u for u in users if u not in paper]
