"""How many upstream partitions of one index may be written at once, per index backend.

A Qdrant server or cluster takes writes from any number of clients, so each partition may be its
own run (a backfill launches one run per partition, as many at once as the run queue and the
``recross_encoding`` pool allow: deploy/dagster.yaml). Qdrant Edge is embedded with one writer
per collection (a folder lock), and qdrant-client's local mode locks its folder to one process:
there the partitions build one after another inside one run, and the run holds the
``recross_cpu_heavy`` pool. The reason is shown in the UI (asset description and metadata).
"""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg
from recross.config import load_settings

CPU_POOL = "recross_cpu_heavy"  # dagster.yaml lets one such step hold the cores at a time
ENCODING_POOL = "recross_encoding"  # server backends: slots = encoding workers (deploy/)

SERIAL_REASONS = {
    "edge": "Qdrant Edge is embedded and allows one writer per collection (a folder lock)",
    "local": "qdrant-client local mode locks its folder to one process",
}


@dataclass(frozen=True)
class IndexBuildPlan:
    backend: str
    backfill_policy: dg.BackfillPolicy
    pool: str
    concurrency: str  # one line for the UI: how partitions build, and why

    @property
    def parallel(self) -> bool:
        return self.backend not in SERIAL_REASONS


def index_build_plan(backend: str) -> IndexBuildPlan:
    """Serial single-run builds on Edge / local mode, one run per partition on a server."""
    if backend in SERIAL_REASONS:
        return IndexBuildPlan(
            backend=backend, backfill_policy=dg.BackfillPolicy.single_run(), pool=CPU_POOL,
            concurrency=(f"serialised: {SERIAL_REASONS[backend]}, so the upstream partitions "
                         "build one after another in one run (backfill policy: single run) "
                         f"and the run holds the {CPU_POOL} pool. Set QDRANT_URL (a Qdrant "
                         "server) to build partitions in parallel."))
    return IndexBuildPlan(
        backend=backend, backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=1),
        pool=ENCODING_POOL,
        concurrency=("parallel: a Qdrant server takes concurrent writers, so each upstream "
                     "partition is its own run (backfill policy: one partition per run), as "
                     f"many at once as the run queue and the {ENCODING_POOL} pool allow."))


def current_index_build_plan() -> IndexBuildPlan:
    """The plan for the backend the environment selects (QDRANT_URL, RECROSS_CONFIG, ...),
    read when the code location loads."""
    return index_build_plan(load_settings().index.backend)
