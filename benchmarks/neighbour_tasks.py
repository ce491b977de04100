"""Does an index find an example's own task among its neighbours, by dot, cosine and euclid?

Reads a built collection (default: every collection under the state folder) and, for a seeded
sample of its own points used as queries, prints: the vector norms per task (highest and lowest),
and for inner product (dot), cosine and L2 distance (euclid, what the reference code searched)
the share of each query's top-k that comes from the query's own task, plus the tasks that make up
most of all hits ("hubs"). Upstream pool data only: no target task is read, so what it shows may
choose a profile's settings (``index.upstream_distance``). Re-run:

    .venv/bin/python benchmarks/neighbour_tasks.py [--home .recross] [--collection NAME]

A cosine collection keeps only unit vectors, so to compare the three distances without building a
dot collection, ``--encode-per-task N`` encodes N seeded pool examples per task with M itself
(raw mean-pooled vectors) instead of reading an index:

    .venv/bin/python benchmarks/neighbour_tasks.py --encode-per-task 100
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
                    encoder_name=manifest.encoder_name, home=home,
                    distance=manifest.distance) as index:  # type: ignore[arg-type]
        batches = list(index.iter_batches(4096))
    vectors = np.concatenate([b.vectors for b in batches])
    tasks = np.array([p["task"] for b in batches for p in b.payloads])
    return vectors, tasks


def similarities(vectors: np.ndarray, queries: np.ndarray, distance: str) -> np.ndarray:
    """Query-by-point scores, higher is nearer: dot, cosine, or -|q - x|^2 / 2 up to a per-query
    constant (q.x - |x|^2 / 2 ranks as L2 distance does)."""
    if distance == "cosine":
        unit = unit_rows(vectors.copy())
        return unit[queries] @ unit.T
    scores = vectors[queries] @ vectors.T
    if distance == "euclid":
        scores -= 0.5 * np.einsum("ij,ij->i", vectors, vectors)[None, :]
    return scores


def neighbour_row(vectors: np.ndarray, tasks: np.ndarray, queries: np.ndarray, k: int,
                  distance: str) -> tuple[float, list[tuple[str, float]]]:
    """Own-task share of each query's top-k (itself excluded), and the three most-hit tasks."""
    scores = similarities(vectors, queries, distance)
    scores[np.arange(len(queries)), queries] = -np.inf
    top = np.argpartition(-scores, k, axis=1)[:, :k]
    own = float(np.mean(tasks[top] == tasks[queries][:, None]))
    hits = Counter(tasks[top].ravel().tolist())
    return own, [(task, count / top.size) for task, count in hits.most_common(3)]


def encoded_sample(home: Path, per_task: int) -> tuple[np.ndarray, np.ndarray]:
    """M's raw vectors of ``per_task`` seeded pool examples of every task (small profile)."""
    from recross.config import load_settings
    from recross.models import upstream_encoder
    from recross.pipeline.upstream import load_upstream_model, read_pool

    settings = load_settings("small", overrides={"home": str(home)})
    pool = read_pool(settings)
    rng = np.random.default_rng(0)
    by_task: dict[str, list] = {}
    for example in pool.examples:
        by_task.setdefault(example.task, []).append(example)
    sample = [by_task[t][i] for t in sorted(by_task)
              for i in sorted(rng.choice(len(by_task[t]), min(per_task, len(by_task[t])),
                                         replace=False))]
    encoder = upstream_encoder(load_upstream_model(settings),
                               max_length=settings.models.max_input_length,
                               batch_size=settings.models.encode_batch_size)
    return encoder.encode([e.input for e in sample]), np.array([e.task for e in sample])


def print_table(name: str, vectors: np.ndarray, tasks: np.ndarray, *, queries: int, k: int,
                note: str = "") -> None:
    """Norms per task, then own-task share and hubs of each distance."""
    norms = np.linalg.norm(vectors, axis=1)
    by_task = sorted(((float(norms[tasks == t].mean()), t) for t in set(tasks)), reverse=True)
    print(f"\n{name}: {len(vectors):,} points, {len(by_task)} tasks; norm mean "
          f"{norms.mean():.2f} (min {norms.min():.2f}, max {norms.max():.2f})")
    print("  highest mean norm: " + ", ".join(f"{t} {v:.2f}" for v, t in by_task[:3]))
    print("  lowest mean norm:  " + ", ".join(f"{t} {v:.2f}" for v, t in by_task[-3:]))
    if note:
        print(f"  ({note})")
    chosen = np.random.default_rng(0).choice(len(vectors), queries, replace=False)
    print(f"  {'distance':14s} {'own task in top-' + str(k):>20s}  most of all hits")
    for distance in ("dot", "cosine", "euclid"):
        own, hubs = neighbour_row(vectors, tasks, chosen, k, distance)
        print(f"  {distance:14s} {own:20.0%}  " + ", ".join(f"{t} {s:.0%}" for t, s in hubs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path,
                        default=Path(os.environ.get("RECROSS_HOME", ".recross")))
    parser.add_argument("--collection", default=None, help="default: every collection")
    parser.add_argument("--encode-per-task", type=int, default=None,
                        help="encode this many pool examples per task with M instead of "
                             "reading a collection")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("-k", type=int, default=64)
    args = parser.parse_args()
    if args.encode_per_task:
        vectors, tasks = encoded_sample(args.home, args.encode_per_task)
        print_table(f"M's raw vectors, {args.encode_per_task} per task", vectors, tasks,
                    queries=args.queries, k=args.k)
        return
    built = embedded_collections(args.home)
    names = [args.collection] if args.collection else list(built)
    missing = [name for name in names if name not in built]
    if not names or missing:
        raise SystemExit(f"no collection {', '.join(missing)} under {args.home}. Fix: build an "
                         "index first (make run), pick one of: " + (", ".join(built) or "none")
                         + ", or pass --encode-per-task N")
    for name in names:
        vectors, tasks = read_collection(args.home, name, built[name])
        note = ("a cosine collection stores unit vectors: all three rows rank as cosine; use "
                "--encode-per-task" if built[name].distance == "cosine" else "")
        print_table(name, vectors, tasks, queries=args.queries, k=args.k, note=note)


if __name__ == "__main__":
    main()
