"""Dagster's cost of upstream partitions: all of them in one ranged run vs one run each.

Materializes ``upstream_pool`` (one parquet table per upstream task) for every upstream
partition of a profile, on a fresh sqlite Dagster instance per mode, and prints the wall time.
The difference is the per-run overhead the main job avoids by running a partition range:

    .venv/bin/python benchmarks/partition_overhead.py [--profile small]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import dagster as dg
from recross.config import load_settings
from recross.pipeline.upstream_partitions import upstream_partitions
from recross_assets.defs.upstream import upstream_pool
from recross_assets.main_job import partition_range_tags
from recross_assets.partitions import register_upstream_tasks
from recross_assets.resources import default_resources

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def _instance_home(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "dagster.yaml").write_text(f"storage:\n  sqlite:\n    base_dir: {folder}/storage\n"
                                         "telemetry:\n  enabled: false\n", encoding="utf-8")
    return folder


def time_mode(mode: str, keys: list[str], resources: dict, folder: Path) -> float:
    with dg.DagsterInstance.from_config(str(_instance_home(folder))) as instance:
        register_upstream_tasks(instance, keys)
        started = time.perf_counter()
        if mode == "one ranged run":
            dg.materialize([upstream_pool], instance=instance, resources=resources,
                           tags=partition_range_tags(keys), run_config=QUIET)
        else:
            for key in keys:
                dg.materialize([upstream_pool], instance=instance, resources=resources,
                               partition_key=key, run_config=QUIET)
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="small")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="partition-overhead-") as tmp:
        root = Path(tmp)
        settings = load_settings(args.profile, overrides={"home": str(root / "recross")},
                                 environ={})
        keys = upstream_partitions(settings)
        resources = default_resources(profile=args.profile, home=str(settings.home))
        time_mode("one ranged run", keys, resources, root / "warm-up")  # tables, imports
        print(f"{'mode':<20} {'partitions':>10} {'wall s':>8} {'s per partition':>16}")
        for mode in ("one ranged run", "one run each"):
            seconds = time_mode(mode, keys, resources, root / mode.replace(" ", "-"))
            print(f"{mode:<20} {len(keys):>10} {seconds:>8.1f} {seconds / len(keys):>16.2f}")


if __name__ == "__main__":
    main()
