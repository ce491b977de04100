"""Does an index find an example's own task among its neighbours, by inner product and by cosine?

Reads a built collection (default: every collection under the state folder) and, for a seeded
sample of its own points used as queries, prints: the vector norms per task (highest and lowest),
and for inner product and cosine the share of each query's top-k that comes from the query's own
task, plus the tasks that make up most of all hits ("hubs"). Upstream pool data only: no target
task is read, so what it shows may choose a profile's settings. It chose
``models.upstream_vectors: unit`` for the small profile. Re-run:

    .venv/bin/python benchmarks/neighbour_tasks.py [--home .recross] [--collection NAME]
"""

from __future__ import annotations

import argparse
import os
from collections import Counter
from pathlib import Path

import numpy as np
from recross.config import IndexSettings
from recross.index import open_index
from recross.index.base import Manifest
from recross.index.edge import embedded_collections
from recross.models.encoders import unit_rows


def read_collection(home: Path, collection: str,
                    manifest: Manifest) -> tuple[np.ndarray, np.ndarray]:
    """All vectors of an Edge collection and the task of each."""
    with open_index(IndexSettings(), collection=collection, dimension=manifest.dimension,
                    encoder_name=manifest.encoder_name, home=home) as index:
        batches = list(index.iter_batches(4096))
    vectors = np.concatenate([b.vectors for b in batches])
    tasks = np.array([p["task"] for b in batches for p in b.payloads])
    return vectors, tasks


def neighbour_row(vectors: np.ndarray, tasks: np.ndarray, queries: np.ndarray,
                  k: int) -> tuple[float, list[tuple[str, float]]]:
    """Own-task share of each query's top-k (itself excluded), and the three most-hit tasks."""
    scores = vectors[queries] @ vectors.T
    scores[np.arange(len(queries)), queries] = -np.inf
    top = np.argpartition(-scores, k, axis=1)[:, :k]
    own = float(np.mean(tasks[top] == tasks[queries][:, None]))
    hits = Counter(tasks[top].ravel().tolist())
    return own, [(task, count / top.size) for task, count in hits.most_common(3)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path,
                        default=Path(os.environ.get("RECROSS_HOME", ".recross")))
    parser.add_argument("--collection", default=None, help="default: every collection")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("-k", type=int, default=64)
    args = parser.parse_args()
    built = embedded_collections(args.home)
    names = [args.collection] if args.collection else list(built)
    missing = [name for name in names if name not in built]
    if not names or missing:
        raise SystemExit(f"no collection {', '.join(missing)} under {args.home}. Fix: build an "
                         "index first (make run), or pick one of: " + (", ".join(built) or "none"))
    for name in names:
        vectors, tasks = read_collection(args.home, name, built[name])
        norms = np.linalg.norm(vectors, axis=1)
        by_task = sorted(((float(norms[tasks == t].mean()), t) for t in set(tasks)), reverse=True)
        print(f"\n{name}: {len(vectors):,} points, {len(by_task)} tasks; norm mean "
              f"{norms.mean():.2f} (min {norms.min():.2f}, max {norms.max():.2f})")
        print("  highest mean norm: " + ", ".join(f"{t} {v:.2f}" for v, t in by_task[:3]))
        print("  lowest mean norm:  " + ", ".join(f"{t} {v:.2f}" for v, t in by_task[-3:]))
        queries = np.random.default_rng(0).choice(len(vectors), args.queries, replace=False)
        print(f"  {'search':14s} {'own task in top-' + str(args.k):>20s}  most of all hits")
        for what, space in [("inner product", vectors),
                            ("cosine", unit_rows(vectors.copy()))]:
            own, hubs = neighbour_row(space, tasks, queries, args.k)
            print(f"  {what:14s} {own:20.0%}  " + ", ".join(f"{t} {s:.0%}" for t, s in hubs))


if __name__ == "__main__":
    main()
