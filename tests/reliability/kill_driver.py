"""Runs one long pipeline step in a process the test can SIGKILL at any moment.

Importing torch and transformers costs 5-15 s per process, which would leave room for only a
handful of kill trials, most of them landing in the imports. So the driver is a fork server:
it imports the pipeline once, then forks one child per request; each child is a fresh process
(own memory, file handles, locks) that runs the step on the tiny profile and exits, and the
test kills the child's pid directly. The server never computes, so the fork is safe.

    python tests/reliability/kill_driver.py serve          # read "STEP HOME" lines from stdin
    python tests/reliability/kill_driver.py run STEP HOME  # one step in this process

Protocol on stdout, one line each: the child prints ``started PID`` just before the step and
``result PID {json}`` after it; the server prints ``exit PID RC`` once it has reaped the child
(RC is -9 for a SIGKILL, 1 for an error, whose traceback goes to stderr). Tests talk to the
server through :class:`DriverClient`.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recross.config import Settings, load_settings
from recross.data import resolve_data_dir
from recross.pipeline import reranker_training, upstream
from recross.pipeline.adaptation import AdaptedSeed, adapt_for_target
from recross.pipeline.evaluation import evaluate_for_target
from recross.pipeline.layout import TargetPaths
from recross.pipeline.retrieval import retrieve_for_target
from recross.pipeline.target_data import (
    load_query_sets,
    make_query_sets,
    save_query_sets,
    test_examples,
)

TARGET = "super_glue-cb"
RETRIEVER = "random"  # cheapest retriever whose sets adaptation really trains on
# Upstream training with a checkpoint every 4 steps, so a kill has several to resume from.
UPSTREAM_TRAINING = {"max_steps": 24, "save_steps": 4}
INDEX_CAP_PER_TASK = 100  # 600 examples in 10 upserts, so kills land between writes too


def settings_for(step: str, home: Path) -> Settings:
    """The tiny profile with state in ``home``; the index step uses a larger pool."""
    data: dict[str, Any] = {"data_dir": str(resolve_data_dir())}
    if step == "index":
        data["upstream_cap_per_task"] = INDEX_CAP_PER_TASK
    return load_settings("tiny", overrides={"home": str(home), "data": data,
                                            "upstream_training": UPSTREAM_TRAINING}, environ={})


class _TrainingSteps:
    """Counts optimiser steps the Trainer runs in this process (proof that a rerun resumed)."""

    count = 0

    @classmethod
    def install(cls) -> None:
        from transformers import Trainer

        original = Trainer.training_step

        def counted(self, *args, **kwargs):
            cls.count += 1
            return original(self, *args, **kwargs)

        Trainer.training_step = counted


def _seeds(settings: Settings) -> list[int]:
    paths = TargetPaths.of(settings, TARGET, RETRIEVER)
    return [q.seed for q in load_query_sets(paths.query_sets)]


def _pool(settings: Settings) -> dict[str, Any]:
    pool, _ = upstream.write_pool_table(settings)
    return {"examples": len(pool)}


def _index(kind: upstream.IndexKind) -> Callable[[Settings], dict[str, Any]]:
    def build(settings: Settings) -> dict[str, Any]:
        summary = upstream.build_pool_index(settings, upstream.read_pool(settings), kind,
                                            progress=False)
        return {"collection": summary.collection, "encoder": summary.encoder,
                "dimension": summary.dimension, "points": summary.points,
                "written": summary.report.written, "skipped": summary.report.skipped}
    return build


def _upstream(settings: Settings) -> dict[str, Any]:
    result = upstream.ensure_upstream_model(settings, upstream.read_pool(settings),
                                            progress=False)
    return {"steps": result.steps, "trained": result.trained}


def _mining(settings: Settings) -> dict[str, Any]:
    run = reranker_training.mine(settings, upstream.read_pool(settings), progress=False)
    return {"mined": run.mined, "resumed": run.resumed, "rows": len(run.table)}


def _reranker(settings: Settings) -> dict[str, Any]:
    summary = reranker_training.train_reranker(settings, progress=False)
    return {"reused": summary["reused"]}


def _targets(settings: Settings) -> dict[str, Any]:
    paths = TargetPaths.of(settings, TARGET, RETRIEVER)
    sets = make_query_sets(settings, TARGET)
    save_query_sets(paths.query_sets, sets)
    retrieve_for_target(settings, upstream.read_pool(settings), target=TARGET,
                               retriever=RETRIEVER, query_sets=sets)
    return {"seeds": [q.seed for q in sets]}


def _adapted(settings: Settings) -> list[AdaptedSeed]:
    return adapt_for_target(settings, upstream.read_pool(settings), target=TARGET,
                                   retriever=RETRIEVER, seeds=_seeds(settings), progress=False)


def _adaptation(settings: Settings) -> dict[str, Any]:
    return {"reused": {str(a.seed): a.reused for a in _adapted(settings)}}


def _evaluation(settings: Settings) -> dict[str, Any]:
    table = evaluate_for_target(settings, target=TARGET, retriever=RETRIEVER,
                                       adapted=_adapted(settings),
                                       test=test_examples(settings, TARGET),
                                       progress=False)
    return {"softem": table["softem"].tolist()}


STEPS: dict[str, Callable[[Settings], dict[str, Any]]] = {
    "pool": _pool,
    "index": _index("sbert"),  # the tiny random SBERT: a deterministic encoder, no training
    "upstream": _upstream,
    "index-upstream": _index("upstream"),
    "mining": _mining,
    "reranker": _reranker,
    "targets": _targets,
    "adaptation": _adaptation,
    "evaluation": _evaluation,
}


def _say(line: str) -> None:
    os.write(1, (line + "\n").encode())  # one write: lines of server and child never interleave


def run_step(step: str, home: Path) -> dict[str, Any]:
    settings = settings_for(step, home)
    _say(f"started {os.getpid()}")
    summary = STEPS[step](settings)
    return {**summary, "train_steps": _TrainingSteps.count}


def _child(step: str, home: Path) -> None:
    code = 1
    try:
        summary = run_step(step, home)
        _say(f"result {os.getpid()} {json.dumps(summary)}")
        code = 0
    except Exception:  # noqa: BLE001 (any failure: traceback to the log, exit status 1)
        traceback.print_exc()
    finally:
        sys.stderr.flush()
        os._exit(code)


def serve() -> None:
    import torch

    torch.set_num_threads(1)  # deterministic sums, and no oversubscribed shared cores
    _TrainingSteps.install()
    _say("ready")
    for line in sys.stdin:
        step, home = line.split()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _child(step, Path(home))
        _, status = os.waitpid(pid, 0)
        _say(f"exit {pid} {os.waitstatus_to_exitcode(status)}")


@dataclass(frozen=True)
class Outcome:
    """How one request ended: ``rc`` 0 (finished), -9 (killed) or 1 (error)."""

    rc: int
    summary: dict[str, Any] | None
    seconds: float  # from "started" to the child's exit


class DriverClient:
    """The test's side: start the server, run a step, optionally SIGKILL it after a delay."""

    def __init__(self, log: Path, *, timeout_s: float = 600) -> None:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("RECROSS_PROFILE", "RECROSS_HOME", "RECROSS_CONFIG",
                                    "RECROSS_TARGETS", "MLFLOW_", "QDRANT_"))}
        env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false",
                   HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
        self.log = log
        self._timeout_s = timeout_s
        self._buffer = b""
        self._started: dict[int, float] = {}
        with open(log, "ab") as stderr:
            self._process = subprocess.Popen([sys.executable, __file__, "serve"], env=env,
                                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                             stderr=stderr)
        self._expect("ready", deadline=time.monotonic() + timeout_s)

    def start(self, step: str, home: Path) -> int:
        """Ask for ``step`` on ``home``; returns the child's pid once the step has started."""
        assert self._process.stdin is not None
        self._process.stdin.write(f"{step} {home}\n".encode())
        self._process.stdin.flush()
        pid = int(self._expect("started", deadline=time.monotonic() + self._timeout_s).split()[1])
        self._started[pid] = time.monotonic()
        return pid

    def wait(self, pid: int, *, kill_after: float | None = None) -> Outcome:
        """Wait for the child ``pid`` to end; with ``kill_after``, SIGKILL it that many seconds
        after it started."""
        started = self._started.pop(pid)
        deadline = started + self._timeout_s
        kill_at = None if kill_after is None else started + kill_after
        summary: dict[str, Any] | None = None
        while True:
            line = self._next_line(deadline=kill_at or deadline)
            if line is None and kill_at is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                kill_at = None
                continue
            if line is None:
                raise TimeoutError(f"child {pid} did not finish; see {self.log}")
            kind, _, rest = line.partition(" ")
            if kind == "result" and rest.startswith(f"{pid} "):
                summary = json.loads(rest.split(" ", 1)[1])
            elif kind == "exit" and rest.startswith(f"{pid} "):
                return Outcome(rc=int(rest.split()[1]), summary=summary,
                               seconds=time.monotonic() - started)

    def run(self, step: str, home: Path, *, kill_after: float | None = None) -> Outcome:
        return self.wait(self.start(step, home), kill_after=kill_after)

    def close(self) -> None:
        assert self._process.stdin is not None
        self._process.stdin.close()
        self._process.wait(timeout=60)

    def _expect(self, kind: str, *, deadline: float) -> str:
        while True:
            line = self._next_line(deadline=deadline)
            if line is None:
                raise TimeoutError(f"kill driver: no {kind!r} line; see {self.log}")
            if line.split(" ", 1)[0] == kind:
                return line

    def _next_line(self, *, deadline: float) -> str | None:
        """The next protocol line, or None at the deadline (other output is skipped)."""
        assert self._process.stdout is not None
        fd = self._process.stdout.fileno()
        while b"\n" not in self._buffer:
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                raise RuntimeError(f"kill driver exited; see {self.log}")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line.decode(errors="replace")


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve()
    elif sys.argv[1:2] == ["run"] and len(sys.argv) == 4:
        _TrainingSteps.install()
        print(json.dumps(run_step(sys.argv[2], Path(sys.argv[3]))))
    else:
        raise SystemExit(f"usage: {sys.argv[0]} serve | run {{{','.join(STEPS)}}} HOME")
