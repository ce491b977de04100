"""Example-index engines side by side: upsert rate, HNSW build, latency, recall@64, memory.

For each pool size N and dimension d, one table row per engine: Qdrant Edge (HNSW at two ``ef``
values, and exact search over the same shard), qdrant-client local mode (up to 100k points) and
FAISS ``IndexFlatIP`` (exact inner product: the paper text's search, dot distance; the reference
code itself ran ``IndexFlatL2``) as the reference. Recall@64 is measured against exact
maximum-inner-product search (numpy brute force over the same vectors, in chunks), so the
Qdrant collections here score by dot. Each engine runs in a fresh child process that reads the
vectors from disk 50k at a time, so its resident memory is its own: ``RSS MB`` is the growth of
the child's resident set from start to "index built and searched", ``peak MB`` its peak resident
set (interpreter and libraries included; for Edge mostly its memory-mapped segment files, which
count as resident while mapped and touched), ``anon MB`` the peak of its anonymous (heap) part,
sampled each second; ``load s`` is the upsert of all N points (in chunks of
50k), ``build s`` the HNSW build after it, each with the child's CPU seconds (all its threads) in
brackets: CPU / wall below the thread count means the cores were shared. ``disk MB`` is the
Edge folder once built.

Vectors: real embeddings when a built Edge index of dimension d (with at least N + queries
points) exists under the state folder (``--home``, default ``RECROSS_HOME`` or ``.recross``),
otherwise random unit vectors (``--synthetic clustered``, the default with ``--large``: unit
vectors around 288 centres, the way prompted examples cluster by task and template; uniformly
random vectors in d = 384 have no near neighbours and understate HNSW's recall); the table says
which. ``--build-real N`` first builds such an
index: N pool examples (seeded sample) encoded by the packaged all-MiniLM-L6-v2 (d = 384, unit
vectors) through ``build_index``, resumable like any build. Re-run:

    .venv/bin/python benchmarks/index_bench.py                 # N = 10k, 100k; d = 384, 1024
    .venv/bin/python benchmarks/index_bench.py --large         # N = 1M, d = 384: the scale table
    .venv/bin/python benchmarks/index_bench.py --large --sizes 100000   # its check at 100k
    .venv/bin/python benchmarks/index_bench.py --large --dims 384 1024  # d = 1024 if RAM allows
    .venv/bin/python benchmarks/index_bench.py --sizes 10000 --dims 384 --quick
    .venv/bin/python benchmarks/index_bench.py --home /tmp/bench-home --build-real 100600 \
        --real-runtime onnx-int8 --sizes 100000 --dims 384
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

K = 64
QUERY_BATCH = 16
LOCAL_MODE_MAX_N = 100_000  # default cap: local mode searches by numpy over a Python dict of points
LOAD_CHUNK = 50_000  # points per upsert call: payload dicts for 1M points at once cost GBs
LARGE_N = 1_000_000
CLUSTERS = 36 * 8  # synthetic "task x template" centres for --synthetic clustered


@dataclass(frozen=True)
class Case:
    n: int
    dim: int
    base_path: str  # .npy of (n, dim) float32
    query_path: str  # .npy of (q, dim) float32
    truth_path: str  # .npy of (q, K) int64: exact top-K row indices
    source: str  # "real: <collection>" or "random unit"


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _anon_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("RssAnon")) / 1024


def _track_peak_anon() -> list[float]:
    """A one-element list the sampling thread keeps at the peak anonymous RSS (MB)."""
    import threading

    peak = [_anon_mb()]

    def sample() -> None:
        while True:
            peak[0] = max(peak[0], _anon_mb())
            time.sleep(1.0)

    threading.Thread(target=sample, daemon=True).start()
    return peak


def _examples(start: int, stop: int) -> list[Any]:
    """Examples for rows ``start:stop``; the row number ends the id (``_row`` reads it back)."""
    from recross.data import Example

    return [Example(example_id=f"task_{i % 36:02d}|train|tpl_{i % 7}|#{i}", input="", answers=(),
                    task=f"task_{i % 36:02d}", split="train", template=f"tpl_{i % 7}",
                    source_index=i, source_task=f"task_{i % 36:02d}") for i in range(start, stop)]


def _row(example_id: str) -> int:
    return int(example_id.rsplit("#", 1)[1])


def _chunks(path: str, n: int) -> Any:
    """Rows of a saved (n, d) array, ``LOAD_CHUNK`` at a time, each mapping dropped after its copy:
    a child never holds the whole array, so 1M x 1024 fits beside the engine."""
    for start in range(0, n, LOAD_CHUNK):
        yield start, np.array(np.load(path, mmap_mode="r")[start:start + LOAD_CHUNK])


def _latencies(search, queries: np.ndarray, *, max_batches: int,
               budget_s: float) -> tuple[list[float], list[list[int]]]:
    """Run batch-16 searches (2 warm-up batches first); return per-batch ms and result rows."""
    batches = [queries[i:i + QUERY_BATCH] for i in range(0, len(queries), QUERY_BATCH)]
    for batch in batches[:2]:
        search(batch)
    times, rows = [], []
    started = time.perf_counter()
    for batch in batches[:max_batches]:
        t = time.perf_counter()
        rows.extend(search(batch))
        times.append((time.perf_counter() - t) * 1000)
        if time.perf_counter() - started > budget_s and len(times) >= 3:
            break
    return times, rows


def _disk_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20


def _recall(rows: list[list[int]], truth: np.ndarray) -> float:
    return float(np.mean([len(set(r) & set(t.tolist())) / K for r, t in zip(rows, truth)]))


def _summary(engine: str, times: list[float], rows: list[list[int]], truth: np.ndarray,
             **extra: Any) -> dict[str, Any]:
    ordered = sorted(times)
    return {"engine": engine, "p50_ms": statistics.median(ordered),
            "p95_ms": ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))],
            "recall": _recall(rows, truth[:len(rows)]), "batches": len(times), **extra}


def _run_qdrant(case: Case, backend: str, efs: list[int], max_batches: int,
                budget_s: float) -> list[dict[str, Any]]:
    from recross.config import IndexSettings
    from recross.index import open_index

    queries, truth = np.load(case.query_path), np.load(case.truth_path)
    rss0 = _rss_mb()
    home = Path(tempfile.mkdtemp(prefix="index-bench-"))
    try:
        index = open_index(IndexSettings(backend=backend), collection="bench", dimension=case.dim,
                           encoder_name="bench", home=home)
        t, cpu = time.perf_counter(), time.process_time()
        for start, chunk in _chunks(case.base_path, case.n):
            index.upsert(_examples(start, start + len(chunk)), chunk)
        upsert_s, upsert_cpu = time.perf_counter() - t, time.process_time() - cpu
        t, cpu = time.perf_counter(), time.process_time()
        index.optimize()
        build_s, build_cpu = time.perf_counter() - t, time.process_time() - cpu
        edge = backend == "edge"
        common = {"upsert_per_s": case.n / upsert_s, "load_s": upsert_s, "load_cpu": upsert_cpu,
                  "build_s": build_s if edge else None, "build_cpu": build_cpu if edge else None,
                  "disk_mb": _disk_mb(home) if edge else None}

        def searcher(**kwargs: Any):
            def search(batch: np.ndarray) -> list[list[int]]:
                return [[_row(h.example_id) for h in row]
                        for row in index.search(batch, k=K, **kwargs)]
            return search

        results = []
        if backend == "edge":
            for ef in efs:
                times, rows = _latencies(searcher(exact=False, hnsw_ef=ef), queries,
                                         max_batches=max_batches, budget_s=budget_s)
                results.append(_summary(f"edge hnsw ef={ef}", times, rows, truth, **common))
            times, rows = _latencies(searcher(exact=True), queries, max_batches=max_batches,
                                     budget_s=budget_s)
            results.append(_summary("edge exact", times, rows, truth, **common))
        else:
            times, rows = _latencies(searcher(), queries, max_batches=max_batches,
                                     budget_s=budget_s)
            results.append(_summary("qdrant-client local", times, rows, truth, **common))
        rss, peak = _rss_mb() - rss0, _peak_rss_mb()
        index.close()
        return [{**r, "rss_mb": rss, "peak_mb": peak} for r in results]
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _run_faiss(case: Case, max_batches: int, budget_s: float) -> list[dict[str, Any]]:
    import faiss

    queries, truth = np.load(case.query_path), np.load(case.truth_path)
    rss0 = _rss_mb()
    index = faiss.IndexFlatIP(case.dim)
    t, cpu = time.perf_counter(), time.process_time()
    for _, chunk in _chunks(case.base_path, case.n):
        index.add(chunk)
    upsert_s, upsert_cpu = time.perf_counter() - t, time.process_time() - cpu

    def search(batch: np.ndarray) -> list[list[int]]:
        return index.search(batch, K)[1].tolist()

    times, rows = _latencies(search, queries, max_batches=max_batches, budget_s=budget_s)
    return [_summary("faiss IndexFlatIP", times, rows, truth, upsert_per_s=case.n / upsert_s,
                     load_s=upsert_s, load_cpu=upsert_cpu, build_s=None, build_cpu=None,
                     disk_mb=None, rss_mb=_rss_mb() - rss0, peak_mb=_peak_rss_mb())]


def _child(engine: str, case: Case, efs: list[int], max_batches: int, budget_s: float,
           threads: int, out: Any) -> None:
    os.environ["OMP_NUM_THREADS"] = str(threads)
    anon = _track_peak_anon()
    try:
        if engine == "faiss":
            import faiss

            faiss.omp_set_num_threads(threads)
            rows = _run_faiss(case, max_batches, budget_s)
        else:
            rows = _run_qdrant(case, engine, efs, max_batches, budget_s)
        out.send([{**row, "anon_mb": max(anon[0], _anon_mb())} for row in rows])
    except Exception as exc:  # noqa: BLE001 -- reported in the table instead of killing the whole run
        out.send([{"engine": engine, "error": f"{type(exc).__name__}: {exc}"}])


def run_engine(engine: str, case: Case, *, efs: list[int], max_batches: int, budget_s: float,
               threads: int) -> list[dict[str, Any]]:
    context = mp.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(engine, case, efs, max_batches, budget_s,
                                                   threads, sender), daemon=True)
    process.start()
    result = receiver.recv()
    process.join()
    return result


def real_vectors(home: Path, dim: int, need: int) -> tuple[np.ndarray, str] | None:
    """Vectors of a built Edge index of dimension ``dim`` with at least ``need`` points, scored by
    dot (recall is measured against exact inner-product search; a cosine or L2 collection of the
    state folder is passed over, not opened under the wrong distance)."""
    from recross.config import IndexSettings
    from recross.index import open_index
    from recross.index.edge import embedded_collections

    for collection, manifest in embedded_collections(home).items():
        if manifest.dimension != dim or manifest.distance != "dot":
            continue
        with open_index(IndexSettings(), collection=collection, dimension=dim,
                        encoder_name=manifest.encoder_name, home=home) as index:
            if index.count() < need:
                continue
            vectors = np.concatenate([b.vectors for b in index.iter_batches(8192)])
        order = np.random.default_rng(0).permutation(len(vectors))
        return vectors[order[:need]], f"real: {manifest.encoder_name}"
    return None


def build_real_index(home: Path, n: int, threads: int, max_length: int, runtime: str) -> None:
    """Encode a seeded sample of ``n`` pool examples with the packaged MiniLM into an Edge index.

    ``runtime="onnx-int8"`` encodes ~1.5x faster (int8 weights, cosine ~0.99 to fp32); the
    collection name carries the runtime, so the table's "vectors" column says which ran.
    """
    import random

    import torch
    from recross.config import PACKAGED_MINILM, IndexSettings
    from recross.data import load_upstream_pool, resolve_data_dir
    from recross.index import build_index, collection_name, open_index
    from recross.models.encoders import sentence_encoder
    from recross.paths import StatePaths

    torch.set_num_threads(threads)
    pool = load_upstream_pool(resolve_data_dir())
    examples = random.Random(0).sample(pool.examples, min(n, len(pool)))
    int8_cache = StatePaths(home).int8_encoders if runtime == "onnx-int8" else None
    encoder = sentence_encoder(PACKAGED_MINILM, max_length=max_length, batch_size=64,
                               device="cpu", onnx_int8_cache=int8_cache)
    collection = collection_name(encoder.name, f"bench-sample-{len(examples)}")
    with open_index(IndexSettings(), collection=collection, dimension=encoder.dimension,
                    encoder_name=encoder.name, home=home) as index:
        report = build_index(index, examples, encoder.encode, batch_size=512)
    print(f"real index {collection}: {report.total} examples, {report.written} encoded now, "
          f"{report.skipped} already there, {report.seconds:.0f} s\n")


def clustered_unit(rng: np.random.Generator, rows: int, centers: np.ndarray) -> np.ndarray:
    """Unit vectors scattered around ``centers`` (cosine ~0.7 to their own): embeddings of
    prompted tasks cluster by task and template, which HNSW relies on; uniformly random
    vectors in d = 384 have no neighbours worth the name and understate its recall."""
    picks = centers[rng.integers(0, len(centers), rows)]
    out = picks + rng.standard_normal(picks.shape).astype(np.float32) / np.sqrt(picks.shape[1])
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def random_unit(rng: np.random.Generator, rows: int, dim: int) -> np.ndarray:
    out = rng.standard_normal((rows, dim)).astype(np.float32)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def exact_top_k(base_path: str, n: int, queries: np.ndarray) -> np.ndarray:
    """Exact maximum-inner-product top-K rows of each query: numpy brute force, chunk by chunk."""
    best_scores = np.full((len(queries), 0), -np.inf, dtype=np.float32)
    best_rows = np.zeros((len(queries), 0), dtype=np.int64)
    for start, chunk in _chunks(base_path, n):
        scores = np.concatenate([best_scores, queries @ chunk.T], axis=1)
        rows = np.concatenate([best_rows, np.broadcast_to(
            np.arange(start, start + len(chunk)), (len(queries), len(chunk)))], axis=1)
        keep = np.argpartition(-scores, min(K, scores.shape[1] - 1), axis=1)[:, :K]
        best_scores = np.take_along_axis(scores, keep, axis=1)
        best_rows = np.take_along_axis(rows, keep, axis=1)
    order = np.argsort(-best_scores, axis=1)
    return np.take_along_axis(best_rows, order, axis=1)


def make_case(n: int, dim: int, n_queries: int, home: Path, workdir: Path,
              synthetic: str = "random") -> Case:
    """Write base vectors, queries and exact top-K under ``workdir``; base 50k rows at a time."""
    paths = [workdir / f"{name}-{n}-{dim}.npy" for name in ("base", "queries", "truth")]
    base = np.lib.format.open_memmap(paths[0], mode="w+", dtype=np.float32, shape=(n, dim))
    found = real_vectors(home, dim, n + n_queries)
    rng = np.random.default_rng(n + dim)
    if found is not None:
        vectors, source = found
        base[:], queries = vectors[:n], vectors[n:]
    elif synthetic == "clustered":
        centers = random_unit(rng, CLUSTERS, dim)
        for start in range(0, n, LOAD_CHUNK):
            base[start:start + LOAD_CHUNK] = clustered_unit(rng, min(LOAD_CHUNK, n - start),
                                                            centers)
        queries = clustered_unit(rng, n_queries, centers)
        source = f"clustered unit ({CLUSTERS} centres)"
    else:
        for start in range(0, n, LOAD_CHUNK):
            base[start:start + LOAD_CHUNK] = random_unit(rng, min(LOAD_CHUNK, n - start), dim)
        queries = random_unit(rng, n_queries, dim)
        source = "random unit"
    base.flush()
    del base
    np.save(paths[1], queries)
    np.save(paths[2], exact_top_k(str(paths[0]), n, queries))
    return Case(n=n, dim=dim, base_path=str(paths[0]), query_path=str(paths[1]),
                truth_path=str(paths[2]), source=source)


def _fmt(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _with_cpu(wall: float | None, cpu: float | None) -> str:
    return f"{'-':>14}" if wall is None else f"{wall:>7.1f} ({cpu:>4.0f})"


def print_row(case: Case, row: dict[str, Any]) -> None:
    label = f"{case.n:>9,} {case.dim:>5} {row['engine']:<20}"
    if "error" in row:
        print(f"{label} error: {row['error']}", flush=True)
        return
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{label} {row['upsert_per_s']:>10,.0f} {_with_cpu(row['load_s'], row['load_cpu'])} "
          f"{_with_cpu(row['build_s'], row['build_cpu'])} {row['p50_ms']:>8.2f} "
          f"{row['p95_ms']:>8.2f} {row['recall']:>7.3f} {row['rss_mb']:>8.0f} "
          f"{row['peak_mb']:>8.0f} {row['anon_mb']:>8.0f} {_fmt(row['disk_mb'], '.0f'):>8}  {case.source}; "
          f"{row['batches']} batches; load avg {load}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=None,
                        help="pool sizes (default 10k 100k; with --large 1M)")
    parser.add_argument("--dims", type=int, nargs="+", default=None,
                        help="dimensions (default 384 1024; with --large 384)")
    parser.add_argument("--large", action="store_true",
                        help="the scale table: N = 1M at d = 384 unless --sizes/--dims say "
                             "otherwise; qdrant-client local mode only up to 100k")
    parser.add_argument("--ef", type=int, nargs=2, default=[64, 256], metavar=("EF1", "EF2"))
    parser.add_argument("--engines", nargs="+", default=["edge", "local", "faiss"],
                        choices=["edge", "local", "faiss"])
    parser.add_argument("--queries", type=int, default=512, help="query vectors (32 batches)")
    parser.add_argument("--quick", action="store_true",
                        help="fewer queries (128) and a 10 s search budget per engine")
    parser.add_argument("--synthetic", choices=["random", "clustered"], default=None,
                        help="vectors when no real index is large enough (default: random; "
                             "with --large clustered)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--local-max", type=int, default=LOCAL_MODE_MAX_N, metavar="N",
                        help="largest pool qdrant-client local mode runs (brute force in Python; "
                             "1M at d = 384 takes a few GB and minutes)")
    parser.add_argument("--home", type=Path,
                        default=Path(os.environ.get("RECROSS_HOME", ".recross")))
    parser.add_argument("--build-real", type=int, default=0, metavar="N",
                        help="first build a real MiniLM index of N pool examples under --home")
    parser.add_argument("--real-max-length", type=int, default=128,
                        help="tokens per text for --build-real (fewer: faster on a CPU)")
    parser.add_argument("--real-runtime", choices=["torch", "onnx-int8"], default="torch",
                        help="encoder runtime for --build-real")
    args = parser.parse_args()
    # a killed run takes its engine child with it (daemon children end at interpreter exit)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.build_real:
        build_real_index(args.home, args.build_real, args.threads, args.real_max_length,
                         args.real_runtime)
    sizes = sorted(set(args.sizes or ([LARGE_N] if args.large else [10_000, 100_000])))
    dims = args.dims or ([384] if args.large else [384, 1024])
    synthetic = args.synthetic or ("clustered" if args.large else "random")
    n_queries = 128 if args.quick else args.queries
    budget_s = 10.0 if args.quick else 30.0
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"index benchmark: {os.cpu_count()} CPUs (load average {load}), {args.threads} "
          f"threads, batch {QUERY_BATCH} x top-{K}, {n_queries} queries, recall vs exact "
          "(numpy brute force)\n")
    print(f"{'N':>9} {'d':>5} {'engine':<20} {'upsert/s':>10} {'load s (cpu)':>14} "
          f"{'build s (cpu)':>14} {'p50 ms':>8} {'p95 ms':>8} {'rec@64':>7} {'RSS MB':>8} "
          f"{'peak MB':>8} {'anon MB':>8} {'disk MB':>8}  vectors")
    with tempfile.TemporaryDirectory(prefix="index-bench-data-") as tmp:
        for dim in dims:
            for n in sizes:
                case = make_case(n, dim, n_queries, args.home, Path(tmp), synthetic)
                for engine in args.engines:
                    if engine == "local" and n > args.local_max:
                        print(f"{n:>9,} {dim:>5} {'qdrant-client local':<20} skipped: above "
                              f"{args.local_max:,} points (--local-max)", flush=True)
                        continue
                    for row in run_engine(engine, case, efs=args.ef,
                                          max_batches=n_queries // QUERY_BATCH,
                                          budget_s=budget_s, threads=args.threads):
                        print_row(case, row)


if __name__ == "__main__":
    main()
