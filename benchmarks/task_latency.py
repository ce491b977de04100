"""How long a user waits for an adapted model, step by step, against this CPU's matmul peak.

``task``: from a query file (|Q| inputs of a task) to an adapted, evaluated model with each
retriever, through the functions `recross adapt --queries` and `recross evaluate --data` call
(``retrieve_user_queries``, ``adapt_user_task``, ``evaluate_model``), at the small profile's
sizes (|R| 256) and the paper's (|R| 512), mu 2. Each step's wall and CPU seconds (CPU: every
thread of this process), a FLOP estimate and the share of the measured peak it reached:

    load      pool table, collections, encoders, cross-encoder, M (every load the steps make)
    encode    the queries by the retriever's encoder: 2 P tokens (P: weights of Linear layers)
    search    the index search and the retriever's own work (no FLOP estimate: HNSW)
    rerank    the cross-encoder on every distinct (query, candidate) pair: 2 P pair tokens
    adapt     fine-tuning M on R and logging the model: Linear FLOPs as executed, x3 (backward)
    evaluate  generation and answer scoring on the test sample: Linear FLOPs as executed

Token counts are real (unpadded, truncated as the model sees them) for encode and rerank; the
executed counts of adapt and evaluate include padding and beams. The peak is a 2048^3 fp32 torch
matmul at this process's thread count. The script never writes into the state folder it reads:
it works in a scratch home (``--scratch``) holding links to M, copies of the collections and the
pool table, the BM25 collection (built there once, not timed) and, when the state has no trained
reranker, an untrained cross-encoder of the configured architecture (timing does not depend on
the weights; the output says so). ``levers``: each speed lever against its baseline in one
process, interleaved (A B A B) so other jobs on a shared machine slow both alike: the reranker's
runtime, torch threads, pair truncation, LoRA, an allocator (child processes) and the pool's
encoding order. ``main-job``: the same table for the steps of the last main job (`make run`),
from the Dagster run storage in DAGSTER_HOME; ``--before CLONE`` puts another clone's last main
job beside it, step by step.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/task_latency.py task --state .recross \\
        --scratch /tmp/recross-latency --target super_glue-cb --sizes 256 512 \\
        --retrievers none sbert recross-dagger bm25 recross --csv latency.csv
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/task_latency.py levers --state .recross \
        --scratch /tmp/recross-latency --size 512 --adapt-examples 32 --encode-examples 2048
    DAGSTER_HOME=$PWD .venv/bin/python benchmarks/task_latency.py main-job [--before CLONE]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import torch
from recross.config import Settings, load_settings
from recross.data import load_target, resolve_data_dir
from recross.data.user_files import read_query_inputs
from recross.index.filters import TaskFilter
from recross.io import atomic_directory, is_complete
from recross.models import adapt
from recross.models.batching import length_sorted_batches, tokenize_inputs
from recross.models.encoders import SentenceEncoder, UpstreamEncoder
from recross.pipeline import retrieval as retrieval_step
from recross.pipeline import user_task
from recross.pipeline.indexes import OpenIndexes
from recross.pipeline.lexical import build_lexical_collection
from recross.pipeline.reranker_training import reranker_dir
from recross.pipeline.upstream import longest_first, read_pool
from recross.reranking import CrossEncoderScorer
from recross.reranking.cross_encoder import build_cross_encoder
from recross.retrieval.aggregation import candidate_count

STEPS = ("load", "encode", "search", "rerank", "adapt", "evaluate")
PEAK_SIZE = 2048
UNTRAINED_MARK = "UNTRAINED-for-timing.txt"  # in a scratch reranker folder this script built


def matmul_peak_gflops(repeats: int = 5) -> float:
    """fp32 GFLOP per CPU-second of a PEAK_SIZE^3 torch matmul on one thread (best of
    ``repeats``): one core's peak, measured in CPU time so that other jobs on a shared machine,
    which take turns on the core, do not lower it."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    a, b = torch.randn(PEAK_SIZE, PEAK_SIZE), torch.randn(PEAK_SIZE, PEAK_SIZE)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        a @ b
        best = min(best, time.process_time() - started)
    torch.set_num_threads(previous)
    return 2 * PEAK_SIZE ** 3 / best / 1e9


def linear_weights(module: torch.nn.Module) -> int:
    """P: the weights of a module's Linear layers (its matmuls; embeddings are lookups)."""
    return sum(m.weight.numel() for m in module.modules() if isinstance(m, torch.nn.Linear))


class ExecutedLinearFlops:
    """2 x rows x in x out of every Linear call while active (a global forward hook)."""

    def __init__(self) -> None:
        self.total = 0.0

    def _hook(self, module: torch.nn.Module, inputs: tuple[Any, ...], _output: Any) -> None:
        if isinstance(module, torch.nn.Linear) and inputs and torch.is_tensor(inputs[0]):
            self.total += 2.0 * inputs[0].numel() * module.out_features

    @contextmanager
    def counting(self) -> Iterator[None]:
        handle = torch.nn.modules.module.register_module_forward_hook(self._hook)
        try:
            yield
        finally:
            handle.remove()


@dataclass
class StepRow:
    step: str
    wall_s: float = 0.0
    cpu_s: float = 0.0
    gflop: float = 0.0
    calls: int = 0


class StepClock:
    """Wall and CPU seconds per step; a step inside another is subtracted from the outer one."""

    def __init__(self) -> None:
        self.rows: dict[str, StepRow] = {}
        self._nested: list[list[float]] = []

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.process_time()
        self._nested.append([0.0, 0.0])
        try:
            yield
        finally:
            inner_wall, inner_cpu = self._nested.pop()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            row = self.rows.setdefault(name, StepRow(name))
            row.wall_s += wall - inner_wall
            row.cpu_s += cpu - inner_cpu
            row.calls += 1
            if self._nested:
                self._nested[-1][0] += wall
                self._nested[-1][1] += cpu

    def add_flops(self, name: str, flops: float) -> None:
        self.rows.setdefault(name, StepRow(name)).gflop += flops / 1e9

    def timed(self, name: str, function: Callable[..., Any],
              flops: Callable[..., float] | None = None) -> Callable[..., Any]:
        """``function`` timed as step ``name``; ``flops(*args)`` (not timed) adds its estimate."""
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self.step(name):
                result = function(*args, **kwargs)
            if flops is not None:
                self.add_flops(name, flops(*args, **kwargs))
            return result
        return wrapper


def _encode_flops(encoder: UpstreamEncoder | SentenceEncoder, texts: Sequence[str],
                  **_: Any) -> float:
    """2 P tokens of one encode call, tokens as the encoder truncates them."""
    if isinstance(encoder, UpstreamEncoder):
        ids = tokenize_inputs(encoder.bundle.tokenizer, encoder.bundle.model, texts,
                              max_length=encoder.max_length)
        return 2.0 * linear_weights(encoder.encoder) * sum(len(x) for x in ids)
    ids = encoder.model.tokenizer(list(texts), max_length=encoder.model.max_seq_length,
                                  truncation=True)["input_ids"]
    return 2.0 * linear_weights(encoder.model) * sum(len(x) for x in ids)


def _rerank_flops(scorer: CrossEncoderScorer, queries: Sequence[str],
                  candidates: Sequence[str], **_: Any) -> float:
    """2 P pair tokens of one score call: every (query, candidate) pair as the scorer feeds it."""
    pairs = scorer.pairs(queries, candidates)
    tokens = scorer.model.tokenizer([q for q, _ in pairs], [c for _, c in pairs], truncation=True,
                                    max_length=scorer.model.max_seq_length)["input_ids"]
    return 2.0 * linear_weights(scorer.model) * sum(len(x) for x in tokens)


def instrument(clock: StepClock, executed: ExecutedLinearFlops) -> ExitStack:
    """Patch the library's load, encode and score entry points with timed wrappers."""
    stack = ExitStack()
    for owner, attribute in [(user_task, "read_pool"), (user_task, "load_upstream_model"),
                             (user_task, "load_evaluated"), (user_task, "load_tokenizer"),
                             (retrieval_step, "load_scorer"), (OpenIndexes, "get"),
                             (OpenIndexes, "lexical")]:
        stack.enter_context(mock.patch.object(
            owner, attribute, clock.timed("load", getattr(owner, attribute))))
    for encoder_class in (UpstreamEncoder, SentenceEncoder):
        stack.enter_context(mock.patch.object(
            encoder_class, "encode",
            clock.timed("encode", encoder_class.encode, flops=_encode_flops)))
    stack.enter_context(mock.patch.object(
        CrossEncoderScorer, "score",
        clock.timed("rerank", CrossEncoderScorer.score, flops=_rerank_flops)))
    return stack


def prepare_scratch(state: Path, scratch: Path) -> None:
    """A home that reads M from ``state`` (links) and holds copies of what opening writes to."""
    models = scratch / "models"
    models.mkdir(parents=True, exist_ok=True)
    for name in ("upstream", "reranker"):
        link, source = models / name, state / "models" / name
        if source.is_dir() and not link.exists():
            link.symlink_to(source.resolve())
    for name in ("qdrant", "tables"):
        if not (scratch / name).exists():
            shutil.copytree(state / name, scratch / name)


def ensure_reranker(settings: Settings) -> str:
    """The trained reranker's folder, or an untrained one of the configured architecture."""
    path, r = reranker_dir(settings), settings.reranker
    untrained = (f"NO trained reranker in the state: an UNTRAINED {settings.models.reranker_base} "
                 f"cross-encoder ({r.head}, max_length {r.max_length}) scores the pairs (same "
                 "cost as a trained one; its scores mean nothing)")
    if is_complete(path):
        return untrained if (path / UNTRAINED_MARK).is_file() else f"trained reranker {path.name}"
    model = build_cross_encoder(settings.models.reranker_base, max_length=r.max_length,
                                seed=r.seed, device="cpu", head=r.head)
    with atomic_directory(path) as staging:
        model.save_pretrained(str(staging))
        (staging / UNTRAINED_MARK).write_text("built by benchmarks/task_latency.py for timing\n")
    return untrained


def write_query_file(settings: Settings, target: str, path: Path) -> Path:
    """The target's first query set (|Q| inputs) as a user's JSONL query file."""
    r = settings.retrieval
    query_set = load_target(resolve_data_dir(settings.data.data_dir), target,
                            query_size=r.query_size, n_query_sets=1).query_sets[0]
    path.write_text("".join(json.dumps({"input": text}) + "\n" for text in query_set.inputs),
                    encoding="utf-8")
    return path


def run_task(settings: Settings, *, retriever: str, queries: Path, target: str, out_dir: Path,
             adapt: bool, stored: Path, evaluate: bool = True
             ) -> tuple[dict[str, StepRow], dict[str, Any]]:
    """One user's task with one retriever, as `recross adapt` then `recross evaluate` run it.

    The retrieved set is written to ``stored`` (as `recross retrieve --out`); when that file
    exists already, it is read instead (as `recross adapt --retrieved`), so adaptation can be
    timed in a run of its own."""
    clock, executed = StepClock(), ExecutedLinearFlops()
    info: dict[str, Any] = {}
    with instrument(clock, executed):
        model = "upstream"
        if retriever != "none" and stored.is_file():
            with clock.step("load"):
                retrieved = user_task.read_retrieved_jsonl(stored, read_pool(settings))
            info["reused"] = stored.name
        elif retriever != "none":
            inputs = read_query_inputs(queries)
            with clock.step("search"):
                retrieved = user_task.retrieve_user_queries(
                    settings, inputs, task=target, retriever=retriever, filters=TaskFilter(),
                    echo=lambda _: None)
            user_task.write_retrieved_jsonl(stored, retrieved)
        if retriever != "none":
            info["retrieved"] = len(retrieved)
            info["distinct"] = len(set(retrieved.example_ids))
            if adapt:
                before = executed.total
                with clock.step("adapt"), executed.counting():
                    result = user_task.adapt_user_task(settings, retrieved, out_dir=out_dir,
                                                       task_name=target)
                clock.add_flops("adapt", 3 * (executed.total - before))
                info["train_s"] = round(result.seconds, 1)
                model = str(out_dir)
        if evaluate and (adapt or retriever == "none"):
            before = executed.total
            with clock.step("evaluate"), executed.counting():
                scores = user_task.evaluate_model(settings, model, target)
            clock.add_flops("evaluate", executed.total - before)
            info["softem"] = round(float(scores.get("softem", float("nan"))), 2)
    return clock.rows, info


def table(rows: Sequence[dict[str, Any]], peak: float) -> str:
    """Markdown: one line per (size, retriever, step), and each run's total. ``bound s``: the
    step's FLOPs at one core's peak on every core of this CPU; ``% of peak``: FLOPs per CPU-second
    the step used, against one core's peak (how well the cores it got were used)."""
    cores = os.cpu_count() or 1
    lines = [("| |R| | retriever | step | wall s | CPU s | GFLOP | bound s | GFLOP/CPU-s | "
              "% of peak |"), "|---:|---|---|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        rate = row["gflop"] / row["cpu_s"] if row["gflop"] and row["cpu_s"] > 0 else None
        bound = f"{row['gflop'] / (cores * peak):.1f}" if row["gflop"] else "-"
        lines.append(f"| {row['size']} | {row['retriever']} | {row['step']} | "
                     f"{row['wall_s']:.1f} | {row['cpu_s']:.1f} | {row['gflop']:.0f} | {bound} | "
                     + (f"{rate:.1f} | {100 * rate / peak:.0f}% |" if rate else "- | - |"))
    return "\n".join(lines)


def task_command(args: argparse.Namespace) -> None:
    if args.threads:
        torch.set_num_threads(args.threads)
    scratch = args.scratch.resolve()
    prepare_scratch(args.state.resolve(), scratch)
    peak = matmul_peak_gflops()
    print(f"CPU: {os.cpu_count()} cores, torch threads {torch.get_num_threads()}; one core's fp32 "
          f"matmul ({PEAK_SIZE}^3) peak {peak:.1f} GFLOP per CPU-second; load average "
          f"{os.getloadavg()[0]:.1f} (shared machine: other jobs ran beside this one, so compare "
          "CPU seconds as well as wall seconds)")
    rows: list[dict[str, Any]] = []
    for size in args.sizes:
        settings = load_settings(args.profile, args.config, overrides={
            "home": str(scratch),
            "retrieval": {"retrieved_size": size, "upsample_ratio": args.mu,
                          "query_size": args.query_size},
            **({"models": {"reranker_runtime": args.runtime}} if args.runtime else {}),
            **({"adaptation": {"epochs": args.adapt_epochs}} if args.adapt_epochs else {})})
        note = ensure_reranker(settings) if "recross" in args.retrievers else ""
        if note:
            print(f"|R| {size}: {note}")
        if "bm25" in args.retrievers:
            pool = read_pool(settings)
            build_lexical_collection(settings, pool, "bm25", progress=False)  # once, untimed
        queries = write_query_file(settings, args.target, scratch / f"{args.target}.jsonl")
        for retriever in args.retrievers:
            out_dir = scratch / "adapted" / f"{retriever}-{size}"
            shutil.rmtree(out_dir, ignore_errors=True)
            started = time.perf_counter()
            stored = scratch / "retrieved" / f"{retriever}-{size}.jsonl"
            if not args.reuse_retrieved:
                stored.unlink(missing_ok=True)
            stored.parent.mkdir(parents=True, exist_ok=True)
            steps, info = run_task(settings, retriever=retriever, queries=queries,
                                   target=args.target, out_dir=out_dir,
                                   adapt=retriever not in args.no_adapt, stored=stored,
                                   evaluate=retriever not in args.no_evaluate)
            total = StepRow("total")
            for name in STEPS:
                if name in steps:
                    step = steps[name]
                    rows.append({"size": size, "retriever": retriever, **asdict(step),
                                 "info": json.dumps(info)})
                    total.wall_s += step.wall_s
                    total.cpu_s += step.cpu_s
                    total.gflop += step.gflop
            rows.append({"size": size, "retriever": retriever, **asdict(total),
                         "info": json.dumps(info)})
            print(f"|R| {size} {retriever}: {time.perf_counter() - started:.0f} s {info}\n"
                  + "\n".join(table([r for r in rows if r["size"] == size
                                     and r["retriever"] == retriever], peak).splitlines()[2:]),
                  flush=True)
    print(table(rows, peak))
    if args.csv:
        write_csv(args.csv, rows, peak)


def write_csv(path: Path, rows: Sequence[dict[str, Any]], peak: float) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=[*rows[0].keys(), "core_peak_gflops"])
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "core_peak_gflops": round(peak, 1)})
    print(f"wrote {path}")


def interleaved(variants: dict[str, Callable[[], Any]], rounds: int) -> dict[str, StepRow]:
    """Run every variant ``rounds`` times, alternating (A, B, A, B): contention from other jobs
    lands on all of them alike. Returns wall and CPU seconds summed per variant."""
    clock = StepClock()
    for _ in range(rounds):
        for name, work in variants.items():
            with clock.step(name):
                work()
    return clock.rows


def rank_correlation(a: Sequence[float], b: Sequence[float]) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


def padded_tokens(lengths: Sequence[int], chunk: int, batch_size: int) -> int:
    """Tokens an encoder runs over ``lengths`` taken ``chunk`` at a time, each chunk cut into
    length-sorted batches padded to their longest (what build_index + encode do)."""
    total = 0
    for start in range(0, len(lengths), chunk):
        part = lengths[start:start + chunk]
        for batch in length_sorted_batches(part, batch_size):
            total += len(batch) * max(part[i] for i in batch)
    return total


def levers_command(args: argparse.Namespace) -> None:
    """Each lever against its baseline, in this one process, interleaved."""
    scratch = args.scratch.resolve()
    prepare_scratch(args.state.resolve(), scratch)
    settings = load_settings(args.profile, args.config, overrides={
        "home": str(scratch), "retrieval": {"retrieved_size": args.size, "upsample_ratio": args.mu,
                                             "query_size": args.query_size}})
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (shared machine: "
          "variants run interleaved, A B A B, so other jobs slow each alike)")
    print(ensure_reranker(settings))
    pool = read_pool(settings)
    query_set = load_target(resolve_data_dir(settings.data.data_dir), args.target,
                            query_size=args.query_size, n_query_sets=1).query_sets[0]
    with OpenIndexes(settings, pool) as indexes:
        engine = retrieval_step.build_retriever(settings, pool, "recross", indexes)
        wanted = candidate_count(args.size, args.mu)
        candidates = engine.dense.candidates(query_set.inputs, size=wanted, filters=TaskFilter())
    distinct = list(dict.fromkeys(item.example.input for item in candidates))
    queries = list(query_set.inputs)
    print(f"\n## Pairs at |Q| {len(queries)}, |R| {args.size}, mu {args.mu}: {len(candidates)} "
          f"candidates, {len(distinct)} distinct; scored pairs: naive {len(queries)} x "
          f"{len(candidates)} = {len(queries) * len(candidates)}, distinct (rerank) "
          f"{len(queries)} x {len(distinct)} = {len(queries) * len(distinct)} "
          f"({100 * (1 - len(distinct) / len(candidates)):.0f}% fewer)")

    torch_scorer = retrieval_step.load_scorer(settings)
    started = time.perf_counter()
    int8_settings = settings.model_copy(deep=True)
    int8_settings.models.reranker_runtime = "onnx-int8"
    int8_scorer = retrieval_step.load_scorer(int8_settings)
    print(f"int8 graph of the reranker ready in {time.perf_counter() - started:.0f} s "
          f"({int8_scorer.int8.path.name if int8_scorer.int8 else '-'}; exported once, cached)")
    sample = distinct[:args.pair_candidates]
    n_pairs = len(queries) * len(sample)
    scores: dict[str, Any] = {}

    def scorer_run(name: str, scorer: CrossEncoderScorer) -> Callable[[], None]:
        def work() -> None:
            scores[name] = scorer.score(queries, sample).ravel()
        return work

    if "runtime" not in args.skip:
        print(f"\n## Reranker runtime, {n_pairs} pairs per round, {args.rounds} rounds")
        rows = interleaved({"torch fp32": scorer_run("torch fp32", torch_scorer),
                            "onnx-int8": scorer_run("onnx-int8", int8_scorer)}, args.rounds)
        _print_rows(rows, n_pairs, "pairs")
        print(f"rank correlation (Spearman) of int8 vs torch scores over the {n_pairs} pairs: "
              f"{rank_correlation(scores['torch fp32'], scores['onnx-int8']):.4f}; max |diff| "
              f"{abs(scores['torch fp32'] - scores['onnx-int8']).max():.4f}")

    if "threads" not in args.skip:
        print(f"\n## Torch threads for the reranker (torch fp32), {n_pairs} pairs per round")
        default_threads = torch.get_num_threads()

        def with_threads(count: int) -> Callable[[], None]:
            def work() -> None:
                torch.set_num_threads(count)
                torch_scorer.score(queries, sample)
                torch.set_num_threads(default_threads)
            return work

        rows = interleaved({f"{n} thread(s)": with_threads(n)
                            for n in sorted({1, default_threads})}, args.rounds)
        _print_rows(rows, n_pairs, "pairs")

    if "truncation" not in args.skip:
        print("\n## Pair truncation (cost is the same by construction; tokens and what survives)")
        for scorer_name, truncation in (("longest-first", "longest-first"),
                                        ("keep-ends", "keep-ends")):
            torch_scorer.truncation = truncation
            pairs = torch_scorer.pairs(queries, distinct)
            tokens = torch_scorer.model.tokenizer([q for q, _ in pairs], [c for _, c in pairs],
                                                  truncation=True,
                                                  max_length=torch_scorer.model.max_seq_length)
            kept = _tails_kept(torch_scorer.model.tokenizer, distinct,
                               tokens["input_ids"][:len(distinct)])  # the first query's pairs
            print(f"{scorer_name}: {sum(len(x) for x in tokens['input_ids'])} pair tokens; "
                  f"candidates whose last 5 tokens reach the model: {kept:.0%}")
        torch_scorer.truncation = settings.reranker.truncation

    if args.adapt_examples:
        print(f"\n## Adaptation mode (measured only; the default is the lead's call): "
              f"{args.adapt_examples} examples of R, one epoch, batch "
              f"{settings.adaptation.batch_size}, per round")
        base = user_task.load_upstream_model(settings)
        examples = [item.example for item in candidates[:args.adapt_examples]]
        adapt_rows = interleaved({mode: _adapt_run(base, examples, settings, mode)
                                  for mode in ("full", "lora")}, args.rounds)
        _print_rows(adapt_rows, len(examples), "examples")

    if args.allocator:
        print(f"\n## Allocator, {n_pairs} pairs per process (torch reranker), child processes")
        _print_rows(allocator_rows(args), n_pairs, "pairs")

    print("\n## Pool encoding order (M's encoder; chunks of index.upsert_batch_size)")
    m = settings.models
    bundle = user_task.load_upstream_model(settings)
    length_of = dict(zip((e.example_id for e in pool.examples),
                         (len(x) for x in tokenize_inputs(bundle.tokenizer, bundle.model,
                                                          [e.input for e in pool.examples],
                                                          max_length=m.max_input_length))))
    chunk = settings.index.upsert_batch_size
    real = sum(length_of.values())
    per_chunk = padded_tokens([length_of[e.example_id] for e in pool.examples], chunk,
                              m.encode_batch_size)
    whole = padded_tokens([length_of[e.example_id] for e in longest_first(pool.examples)], chunk,
                          m.encode_batch_size)
    print(f"{len(pool.examples)} pool examples, {real} real tokens; tokens run sorted per chunk "
          f"of {chunk}: {per_chunk} (+{100 * (per_chunk / real - 1):.1f}% padding), sorted "
          f"across the pool (longest_first): {whole} (+{100 * (whole / real - 1):.1f}%)")
    if args.encode_examples:
        encoder = UpstreamEncoder(bundle, max_length=m.max_input_length,
                                  batch_size=m.encode_batch_size)
        sample = pool.examples[:args.encode_examples]
        texts = [e.input for e in sample]
        ordered = [e.input for e in longest_first(sample)]

        def encode_chunks(ordered: Sequence[str]) -> Callable[[], None]:
            def work() -> None:
                for start in range(0, len(ordered), chunk):
                    encoder.encode(ordered[start:start + chunk])
            return work

        rows = interleaved({"per chunk": encode_chunks(texts),
                            "whole pool": encode_chunks(ordered)}, args.rounds)
        _print_rows(rows, len(texts), "examples")


def _adapt_run(base: Any, examples: Sequence[Any], settings: Settings,
               mode: str) -> Callable[[], None]:
    """One epoch of adaptation in ``mode`` (full / lora) on ``examples``, nothing written."""
    adaptation = settings.adaptation.model_copy(update={"mode": mode, "epochs": 1})

    def work() -> None:
        adapt(base, examples, adaptation, max_input_length=settings.models.max_input_length,
              max_output_length=settings.models.max_output_length, progress=False,
              device="cpu")
    return work


def allocator_rows(args: argparse.Namespace) -> dict[str, StepRow]:
    """The ``probe`` workload in child processes with glibc malloc and with ``args.allocator``
    preloaded, alternating: an allocator can only be chosen when a process starts."""
    rows: dict[str, StepRow] = {}
    command = [sys.executable, str(Path(__file__).resolve()), "probe", "--scratch",
               str(args.scratch), "--size", str(args.size), "--pairs", str(args.pair_candidates)]
    for _ in range(args.rounds):
        for name, extra in (("glibc malloc", {}), (Path(args.allocator).name,
                                                   {"LD_PRELOAD": str(args.allocator)})):
            done = subprocess.run(command, env={**os.environ, **extra}, capture_output=True,
                                  text=True, check=True)
            measured = json.loads(done.stdout.strip().splitlines()[-1])
            row = rows.setdefault(name, StepRow(name))
            row.wall_s += measured["wall_s"]
            row.cpu_s += measured["cpu_s"]
            row.calls += 1
    return rows


def probe_command(args: argparse.Namespace) -> None:
    """One allocator-sensitive workload (tokenize and score pairs with the torch reranker),
    timed after loading; prints its wall and CPU seconds as JSON."""
    settings = load_settings("small", overrides={"home": str(args.scratch.resolve()),
                                                 "models": {"reranker_runtime": "torch"}})
    scorer = retrieval_step.load_scorer(settings)
    texts = [e.input for e in read_pool(settings).examples[:args.pairs + 16]]
    wall, cpu = time.perf_counter(), time.process_time()
    scorer.score(texts[:16], texts[16:])
    print(json.dumps({"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu}))


def _tails_kept(tokenizer: Any, candidates: Sequence[str], pair_ids: Sequence[Sequence[int]]
                ) -> float:
    """Share of candidates whose last 5 tokens appear, in order, in the tokens of their pair."""
    kept = 0
    for text, ids in zip(candidates, pair_ids):
        tail = tokenizer(text, add_special_tokens=False)["input_ids"][-5:]
        kept += any(list(ids[i:i + len(tail)]) == tail for i in range(len(ids)))
    return kept / max(len(candidates), 1)


def _print_rows(rows: dict[str, StepRow], units: int, what: str) -> None:
    print(f"| variant | rounds | wall s / round | CPU s / round | {what}/s (wall) | "
          f"{what}/CPU-s |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, row in rows.items():
        wall, cpu = row.wall_s / row.calls, row.cpu_s / row.calls
        print(f"| {name} | {row.calls} | {wall:.1f} | {cpu:.1f} | {units / wall:.1f} | "
              f"{units / cpu:.1f} |")


def main_job_steps(dagster_home: Path) -> list[dict[str, Any]]:
    """Per step of the last main job (runs tagged recross/main_job, chained in time): start,
    end and wall seconds from the Dagster run storage's STEP_START / STEP_SUCCESS events."""
    import dagster as dg  # only this mode needs Dagster

    os.chdir(dagster_home)  # dagster.yaml's storage paths are relative to the repo root
    instance = dg.DagsterInstance.from_config(str(dagster_home))
    runs = [r for r in instance.get_runs() if r.tags.get("recross/main_job") == "true"]
    if not runs:
        raise SystemExit(f"no main-job runs in the Dagster storage of {dagster_home}. Fix: run "
                         "`make run` (or pass --dagster-home of the clone that ran it).")
    stats = sorted(((instance.get_run_stats(r.run_id), r) for r in runs),
                   key=lambda pair: pair[0].start_time or 0)
    job: list[tuple[Any, Any]] = []
    for stat, run in reversed(stats):  # the last job: runs with gaps under 10 min between them
        if job and (job[-1][0].start_time or 0) - (stat.end_time or 0) > 600:
            break
        job.append((stat, run))
    steps = []
    for stat, run in reversed(job):
        started: dict[str, float] = {}
        for entry in instance.all_logs(run.run_id):
            kind = entry.dagster_event.event_type_value if entry.dagster_event else None
            if kind == "STEP_START":
                started[entry.step_key] = entry.timestamp
            elif kind in ("STEP_SUCCESS", "STEP_FAILURE") and entry.step_key in started:
                partition = run.tags.get("dagster/partition") or "..".join(
                    run.tags[key] for key in ("dagster/asset_partition_range_start",
                                              "dagster/asset_partition_range_end")
                    if key in run.tags)
                steps.append({"run": run.run_id[:8], "step": entry.step_key,
                              "partition": partition, "status": kind[5:].lower(),
                              "start": started[entry.step_key], "end": entry.timestamp,
                              "wall_s": entry.timestamp - started.pop(entry.step_key)})
    return steps


def _job_summary(steps: list[dict[str, Any]]) -> tuple[float, float]:
    """Minutes of step time and minutes from the first step's start to the last one's end
    (runs side by side make the first larger than the second)."""
    total = sum(s["wall_s"] for s in steps)
    span = max(s["end"] for s in steps) - min(s["start"] for s in steps)
    return total / 60, span / 60


def main_job_command(args: argparse.Namespace) -> None:
    steps = main_job_steps(args.dagster_home.resolve())
    total, span = _job_summary(steps)
    print(f"last main job: {len(steps)} steps, {total:.1f} min of step time in {span:.1f} min "
          "from the first step's start to the last one's end (CPU seconds and FLOPs are not in "
          "Dagster's events: '-')")
    if args.before is not None:
        _print_before_after(main_job_steps(args.before.resolve()), steps)
    else:
        print("| step | partition | status | wall s | share | CPU s | GFLOP | % of peak |")
        print("|---|---|---|---:|---:|---:|---:|---:|")
        for s in sorted(steps, key=lambda s: -s["wall_s"]):
            print(f"| {s['step']} | {s['partition']} | {s['status']} | {s['wall_s']:.0f} | "
                  f"{100 * s['wall_s'] / (total * 60):.0f}% | - | - | - |")
    if args.csv:
        with args.csv.open("w", newline="", encoding="utf-8") as out:
            writer = csv.DictWriter(out, fieldnames=list(steps[0].keys()))
            writer.writeheader()
            writer.writerows(steps)
        print(f"wrote {args.csv}")


def _print_before_after(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> None:
    """Both jobs' steps side by side (a step and partition matched by name), then both totals."""
    def by_step(steps: list[dict[str, Any]]) -> dict[tuple[str, str], float]:
        walls: dict[tuple[str, str], float] = {}
        for s in steps:
            key = (s["step"], s["partition"])
            walls[key] = walls.get(key, 0.0) + s["wall_s"]
        return walls

    old, new = by_step(before), by_step(after)
    print("| step | partition | before s | after s | after / before |")
    print("|---|---|---:|---:|---:|")
    for key in sorted(old.keys() | new.keys(), key=lambda k: -max(old.get(k, 0), new.get(k, 0))):
        a, b = old.get(key), new.get(key)
        ratio = f"{b / a:.2f}" if a and b else "-"
        print(f"| {key[0]} | {key[1]} | {'-' if a is None else f'{a:.0f}'} | "
              f"{'-' if b is None else f'{b:.0f}'} | {ratio} |")
    (old_total, old_span), (new_total, new_span) = _job_summary(before), _job_summary(after)
    print(f"| **step time, min** | | {old_total:.1f} | {new_total:.1f} | "
          f"{new_total / old_total:.2f} |")
    print(f"| **first start to last end, min** | | {old_span:.1f} | {new_span:.1f} | "
          f"{new_span / old_span:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    task = commands.add_parser("task", help="a user's task, per retriever and size")
    task.add_argument("--profile", default="small")
    task.add_argument("--config", type=Path, default=None)
    task.add_argument("--state", type=Path, default=Path(".recross"),
                      help="the built state (M, collections, pool): read, never written")
    task.add_argument("--scratch", type=Path, default=Path("/tmp/recross-latency"))
    task.add_argument("--target", default="super_glue-cb")
    task.add_argument("--sizes", type=int, nargs="+", default=[256, 512], help="|R| values")
    task.add_argument("--mu", type=float, default=2.0)
    task.add_argument("--query-size", type=int, default=16)
    task.add_argument("--retrievers", nargs="+",
                      default=["none", "sbert", "recross-dagger", "bm25", "recross"])
    task.add_argument("--no-adapt", nargs="*", default=[],
                      help="retrievers timed up to retrieval only (adapt/evaluate skipped)")
    task.add_argument("--no-evaluate", nargs="*", default=[],
                      help="retrievers whose model is not evaluated (evaluating costs the same "
                      "for every model of M's architecture: time it once, with none)")
    task.add_argument("--reuse-retrieved", action="store_true",
                      help="adapt on the retrieved sets an earlier run wrote to the scratch home")
    task.add_argument("--runtime", choices=["torch", "onnx-int8"], default=None,
                      help="models.reranker_runtime (default: the profile's)")
    task.add_argument("--threads", type=int, default=None,
                      help="torch.set_num_threads (default: torch's, one per core)")
    task.add_argument("--adapt-epochs", type=float, default=None,
                      help="adaptation.epochs (a fraction times a part of the adaptation, whose "
                      "cost is linear in its steps)")
    task.add_argument("--csv", type=Path, default=None)
    task.set_defaults(run=task_command)
    levers = commands.add_parser("levers", help="each lever against its baseline, interleaved")
    levers.add_argument("--profile", default="small")
    levers.add_argument("--config", type=Path, default=None)
    levers.add_argument("--state", type=Path, default=Path(".recross"))
    levers.add_argument("--scratch", type=Path, default=Path("/tmp/recross-latency"))
    levers.add_argument("--target", default="super_glue-cb")
    levers.add_argument("--size", type=int, default=512, help="|R|")
    levers.add_argument("--mu", type=float, default=2.0)
    levers.add_argument("--query-size", type=int, default=16)
    levers.add_argument("--pair-candidates", type=int, default=16,
                        help="distinct candidates timed against every query, per round")
    levers.add_argument("--rounds", type=int, default=2)
    levers.add_argument("--encode-examples", type=int, default=0,
                        help="pool examples to encode per order and round (0: count tokens only)")
    levers.add_argument("--skip", nargs="*", default=[],
                        choices=["runtime", "threads", "truncation"])
    levers.add_argument("--adapt-examples", type=int, default=0,
                        help="examples of R adapted on per mode (full, lora) and round (0: skip)")
    levers.add_argument("--allocator", type=Path, default=None,
                        help="a malloc library to compare with glibc's (LD_PRELOAD)")
    levers.set_defaults(run=levers_command)
    probe = commands.add_parser("probe", help="(internal) the allocator comparison's workload")
    probe.add_argument("--scratch", type=Path, required=True)
    probe.add_argument("--size", type=int, default=512)
    probe.add_argument("--pairs", type=int, default=16)
    probe.set_defaults(run=probe_command)
    job = commands.add_parser("main-job", help="the last `make run`'s steps from Dagster")
    job.add_argument("--dagster-home", type=Path,
                     default=Path(os.environ.get("DAGSTER_HOME", ".")))
    job.add_argument("--csv", type=Path, default=None)
    job.add_argument("--before", type=Path, default=None,
                     help="another clone's DAGSTER_HOME: its last main job beside this one, "
                          "step by step")
    job.set_defaults(run=main_job_command)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
