"""What MLflow tracking costs one evaluation partition, on the default sqlite store.

Rows: opening a fresh store (schema migrations) and an existing one; one seed run with the
conventional payload (metrics, |R| retrieved ids, task-distribution CSV + PNG, predictions);
logging + registering an adapted model as a pyfunc model and as a plain checkpoint, for a
checkpoint of the given size (random bytes in a ``save_pretrained``-like folder); resolving
``models:/name@alias`` back to a folder; ``fetch_runs`` over every seed run written. Re-run:

    .venv/bin/python benchmarks/tracking_overhead.py                     # 5 seeds, 16 MB model
    .venv/bin/python benchmarks/tracking_overhead.py --seeds 20 --model-mb 512
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from recross.config import load_settings
from recross.evaluation.reports import plot_task_shares
from recross.tracking import Tracker, fetch_runs, resolve_model_uri


def _timed(rows: list[tuple[str, float]], label: str, call: Callable[[], object]) -> object:
    started = time.perf_counter()
    result = call()
    rows.append((label, time.perf_counter() - started))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="seed runs in the partition")
    parser.add_argument("--retrieved", type=int, default=512, help="|R| ids logged per seed run")
    parser.add_argument("--model-mb", type=int, default=16, help="size of the fake checkpoint")
    args = parser.parse_args()
    rows: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="recross-tracking-bench-") as scratch:
        root = Path(scratch)
        settings = load_settings("tiny", overrides={"home": str(root / "home")}, environ={})
        _timed(rows, "open a fresh sqlite store", lambda: Tracker(settings))
        tracker = _timed(rows, "open the existing store", lambda: Tracker(settings))
        shares = pd.DataFrame({"target_task": "piqa", "retriever": "recross",
                               "upstream_task": [f"task-{i}" for i in range(30)],
                               "share": [1 / 30] * 30})
        png = plot_task_shares(shares, root / "shares.png")
        predictions = pd.DataFrame({"example_id": [f"piqa|test|t|#{i}" for i in range(1000)],
                                    "prediction": "yes", "answers": "['yes']", "softem": 1.0})
        ids = [f"ag_news|train|t|#{i}" for i in range(args.retrieved)]
        with tracker.parent_run(name="bench", tags={"dagster_run_id": "bench"}) as parent:
            for seed in range(args.seeds):
                def seed_run(seed: int = seed) -> None:
                    with tracker.seed_run(parent=parent, target_task="piqa",
                                          retriever="recross", seed=seed) as run:
                        run.log_metrics({"softem": 50.0, "em": 40.0})
                        run.log_retrieved_ids(ids)
                        run.log_task_distribution(shares, png=png)
                        run.log_predictions(predictions)
                _timed(rows, f"seed run {seed} (metrics + 4 artifacts)", seed_run)
            checkpoint = root / "checkpoint"
            checkpoint.mkdir()
            (checkpoint / "config.json").write_text("{}")
            (checkpoint / "model.safetensors").write_bytes(os.urandom(args.model_mb << 20))
            uri = _timed(rows, f"log + register pyfunc model ({args.model_mb} MB)",
                         lambda: tracker.log_adapted_model(parent, checkpoint,
                                                           registered_name="bench-pyfunc",
                                                           alias="a"))
            _timed(rows, f"log + register plain checkpoint ({args.model_mb} MB)",
                   lambda: tracker.log_adapted_model(parent, checkpoint,
                                                     registered_name="bench-checkpoint",
                                                     alias="a", large_model_bytes=0))
        _timed(rows, "resolve models:/name@alias (local store, no copy)",
               lambda: resolve_model_uri(uri, settings))
        _timed(rows, "resolve models:/name@alias into a new folder",
               lambda: resolve_model_uri(uri, settings, dst=root / "download"))
        _timed(rows, f"fetch_runs ({args.seeds} seed runs)", lambda: fetch_runs(settings))
    width = max(len(label) for label, _ in rows)
    print(f"{'step':<{width}}  seconds")
    for label, seconds in rows:
        print(f"{label:<{width}}  {seconds:7.3f}")


if __name__ == "__main__":
    main()
