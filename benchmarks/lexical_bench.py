"""Cost of the lexical and resampling retrievers on the small pool: build, size, query time.

One row per collection or retriever, on the small profile's pool (500 examples per task, 17,000):

* ``dense`` — a dense Edge collection of 384-d unit vectors (random: the encoder is not timed
  here; encoding the pool is the dense build's real cost, 9.1 min for M and 13.5 min for
  MiniLM on this machine, README), upsert + HNSW build, and its HNSW search;
* ``bm25`` — the BM25 collection: term vectors computed in-process + upsert, and its search;
* ``hybrid`` — the dense collection copied with a BM25 vector per point, and RRF-fused search;
* ``dsir`` — the pool's hashed n-gram counts (first run, then from the cache) and one draw.

Query time is one query set: |Q| = 16 queries, K = 16 each (|R| = 256), the target's task
excluded, median of 5. Sizes are the disk blocks of the collection folders. Re-run:

    .venv/bin/python benchmarks/lexical_bench.py [--cap 500] [--backend edge|local]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from recross.config import IndexSettings, LexicalSettings
from recross.data import QuerySet, load_upstream_pool, resolve_data_dir
from recross.index import TaskFilter, build_index, open_index
from recross.index.bm25 import Bm25Encoder
from recross.index.lexical import (
    LexicalPoints,
    build_hybrid_index,
    hybrid_contents,
    open_lexical_index,
)
from recross.retrieval.dsir import DsirRetrieval

DIM, Q, K, REPEATS = 384, 16, 16, 5


def _size_mb(path: Path) -> float:
    """Disk blocks in use (Edge preallocates sparse files: their apparent size overstates)."""
    return sum(f.stat().st_blocks * 512 for f in path.rglob("*") if f.is_file()) / 2**20


def _median_ms(fn) -> float:
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cap", type=int, default=500, help="pool examples per task")
    parser.add_argument("--backend", choices=["edge", "local"], default="edge")
    args = parser.parse_args()
    pool = load_upstream_pool(resolve_data_dir(None), cap_per_task=args.cap)
    examples = pool.examples
    texts = sorted({e.input for e in examples})
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((len(texts), DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    vector_of = dict(zip(texts, vectors))  # a random unit "encoding" per distinct input

    def encode(batch):
        return np.stack([vector_of[t] for t in batch])

    target = "super_glue-cb"
    query_texts = [e.input for e in examples if e.task == "cos_e-v1.11"][:Q]
    query_vectors = encode(query_texts)
    filters = TaskFilter(exclude_tasks=("cos_e-v1.11",))
    settings = IndexSettings(backend=args.backend,
                             local_path=Path("local") if args.backend == "local" else None)
    bm25 = Bm25Encoder.from_settings(LexicalSettings())
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        started = time.perf_counter()
        dense = open_index(settings, collection="dense", dimension=DIM, encoder_name="random",
                           home=home)
        build_index(dense, examples, encode, batch_size=1024, progress=False)
        dense.optimize()
        rows.append(("dense (384-d, no encoding)", time.perf_counter() - started,
                     _size_mb(home), _median_ms(lambda: dense.search(query_vectors, k=K,
                                                                     filters=filters))))
        before = _size_mb(home)
        started = time.perf_counter()
        with open_lexical_index(settings, collection="bm25", encoder_name=bm25.name,
                                dense_dimension=None, home=home) as sparse:
            build_index(sparse, examples, lambda t: LexicalPoints(bm25.documents(t)),
                        batch_size=1024, progress=False)
            sparse.optimize()
            built = time.perf_counter() - started
            terms = bm25.queries(query_texts)
            rows.append(("bm25 (sparse, IDF)", built, _size_mb(home) - before,
                         _median_ms(lambda: sparse.search_sparse(terms, k=K, filters=filters))))
        before = _size_mb(home)
        started = time.perf_counter()
        with open_lexical_index(settings, collection="hybrid",
                                encoder_name=hybrid_contents(bm25.name, "random"),
                                dense_dimension=DIM, home=home) as hybrid:
            build_hybrid_index(hybrid, dense, pool, bm25, batch_size=1024, progress=False)
            hybrid.optimize()
            built = time.perf_counter() - started
            rows.append(("hybrid (dense copy + bm25)", built, _size_mb(home) - before,
                         _median_ms(lambda: hybrid.search_fused(
                             query_vectors, bm25.queries(query_texts), k=K, prefetch=2 * K,
                             rrf_k=60, filters=filters))))
        dense.close()
        lex = LexicalSettings()
        cache = home / "dsir.npz"
        started = time.perf_counter()
        dsir = DsirRetrieval(pool, buckets=lex.dsir_buckets, max_ngram=lex.dsir_max_ngram,
                             smoothing=lex.dsir_smoothing, cache=cache)
        dsir.pool_counts()
        computed = time.perf_counter() - started
        started = time.perf_counter()
        DsirRetrieval(pool, buckets=lex.dsir_buckets, max_ngram=lex.dsir_max_ngram,
                      smoothing=lex.dsir_smoothing, cache=cache).pool_counts()
        cached = time.perf_counter() - started
        query_set = QuerySet(task=target, seed=0, inputs=tuple(query_texts))
        rows.append((f"dsir (counts; cached load {cached:.2f} s)", computed,
                     cache.stat().st_size / 2**20,
                     _median_ms(lambda: dsir.retrieve(query_set, size=Q * K, filters=filters))))
    print(f"pool: {len(examples)} examples ({args.cap} per task), backend {args.backend}; "
          f"query set: {Q} queries x K={K}")
    print("| collection / retriever | build s | size MB | query set ms |")
    print("|---|---|---|---|")
    for name, build_s, size, query_ms in rows:
        print(f"| {name} | {build_s:.1f} | {size:.1f} | {query_ms:.0f} |")


if __name__ == "__main__":
    main()
