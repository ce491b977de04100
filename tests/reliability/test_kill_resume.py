"""SIGKILL every long step at random moments, rerun it: the result equals an uninterrupted run.

Per step, a reference run is computed once; each trial copies the step's inputs into a fresh
home, kills the step after a seeded random delay in [0, its duration], checks that nothing
half-written is readable as complete, reruns the step to completion, checks that it resumed from
what the killed run had finished, and compares the product with the reference. Steps run in
processes forked by ``kill_driver`` (tiny profile, one torch thread, so model weights of a
rerun are bit-identical to the reference's).

Trials per step: ``N_TRIALS``; ``RECROSS_KILL_TRIALS=20`` raises every step to 20.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from kill_driver import (
    RETRIEVER,
    TARGET,
    UPSTREAM_TRAINING,
    DriverClient,
    Outcome,
    settings_for,
)
from recross.index import open_index
from recross.io import COMPLETE_MARKER, is_complete
from recross.models.upstream_training import last_complete_checkpoint
from recross.paths import StatePaths
from recross.pipeline.layout import TargetPaths
from recross.pipeline.reranker_training import mining_dir, reranker_dir
from recross.pipeline.upstream import upstream_model_dir
from safetensors.numpy import load_file

# Trials per step in the suite: the index build is cheap; model steps cost seconds per trial.
N_TRIALS: dict[str, int] = {"index": 20, "upstream": 4, "mining": 4, "reranker": 5,
                            "adaptation": 6, "evaluation": 10}
KILL_SEED = 8
# step -> (the reference step whose home it starts from, preparation steps run on a copy)
RECIPES: dict[str, tuple[str | None, tuple[str, ...]]] = {
    "index": (None, ()),
    "upstream": (None, ("pool",)),
    "mining": ("upstream", ("index-upstream",)),
    "reranker": ("mining", ()),
    "adaptation": ("upstream", ("targets",)),
    "evaluation": ("adaptation", ()),
}
WEIGHTS = "model.safetensors"
# Hidden names a finished step leaves: completion markers and Edge's folder lock. Any other
# (a killed write's temporary file, staging or retired directory) is a leftover.
EXPECTED_HIDDEN = {COMPLETE_MARKER, ".lock"}


def n_trials(step: str) -> int:
    return int(os.environ.get("RECROSS_KILL_TRIALS") or N_TRIALS[step])


class Chain:
    """Reference homes, built once per step through the driver, each from its parent's."""

    def __init__(self, driver: DriverClient, root: Path) -> None:
        self.driver, self.root = driver, root
        self._bases: dict[str, Path] = {}
        self._references: dict[str, tuple[Path, float, dict[str, Any]]] = {}

    def base(self, step: str) -> Path:
        if step not in self._bases:
            parent, preparation = RECIPES[step]
            home = self.root / f"{step}-base"
            if parent is None:
                home.mkdir()
            else:
                shutil.copytree(self.reference(parent)[0], home)
            for prep in preparation:
                self._run(prep, home)
            self._bases[step] = home
        return self._bases[step]

    def reference(self, step: str) -> tuple[Path, float, dict[str, Any]]:
        """The uninterrupted run's home, its duration in seconds and its summary."""
        if step not in self._references:
            home = self.root / f"{step}-reference"
            shutil.copytree(self.base(step), home)
            outcome = self._run(step, home)
            self._references[step] = (home, outcome.seconds, outcome.summary or {})
        return self._references[step]

    def _run(self, step: str, home: Path) -> Outcome:
        outcome = self.driver.run(step, home)
        assert outcome.rc == 0, f"{step} failed; see {self.driver.log}"
        return outcome


@pytest.fixture(scope="module")
def chain(driver: DriverClient, tmp_path_factory: pytest.TempPathFactory) -> Chain:
    return Chain(driver, tmp_path_factory.mktemp("kill"))


# -- what a step's product is, read back with the library ---------------------------------------

def _weights(directory: Path) -> dict[str, np.ndarray]:
    return load_file(str(directory / WEIGHTS))


def _same_weights(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


_REFERENCE_POINTS: dict[Path, dict[str, np.ndarray]] = {}


def _reference_points(ref_home: Path, ref: dict[str, Any]) -> dict[str, np.ndarray]:
    """The reference index's points, read once (every trial compares against them)."""
    if ref_home not in _REFERENCE_POINTS:
        _REFERENCE_POINTS[ref_home] = _index_points(ref_home, ref)
    return _REFERENCE_POINTS[ref_home]


def _index_points(home: Path, reference: dict[str, Any]) -> dict[str, np.ndarray]:
    """example id -> vector of every point; fails on a point stored twice."""
    settings = settings_for("index", home)
    points: dict[str, np.ndarray] = {}
    with open_index(settings.index, collection=reference["collection"],
                    dimension=reference["dimension"], encoder_name=reference["encoder"],
                    home=home) as index:
        count = index.count()
        for batch in index.iter_batches(512):
            for payload, vector in zip(batch.payloads, batch.vectors):
                assert payload["example_id"] not in points, "duplicate point"
                points[payload["example_id"]] = vector
    assert len(points) == count
    return points


def _mined(home: Path) -> dict[str, pd.DataFrame]:
    """tuple file name -> its pairs (without the timing column)."""
    folder = mining_dir(settings_for("mining", home))
    return {p.name: pd.read_parquet(p).drop(columns="tuple_seconds")
            for p in sorted(folder.glob("tuple-*.parquet"))}


def _adapted_dirs(home: Path) -> dict[int, Path]:
    paths = TargetPaths.of(settings_for("adaptation", home), TARGET, RETRIEVER)
    return {seed: paths.adapted(seed) for seed in (0, 1)}


def _evaluation_files(home: Path) -> list[Path]:
    paths = TargetPaths.of(settings_for("evaluation", home), TARGET, RETRIEVER)
    return [paths.evaluation, paths.predictions(0), paths.predictions(1)]


# -- per step: the partial state after a kill, how the rerun must resume, the final product -----

@dataclass
class StepCheck:
    partial: Callable[[Path, Path, dict[str, Any]], Any]  # (home, reference home, ref summary)
    resumed: Callable[[Any, dict[str, Any], dict[str, Any]], None]  # (partial, rerun, ref sum.)
    same: Callable[[Path, Path, dict[str, Any]], None]  # (home, reference home, ref summary)


def _index_partial(home: Path, ref_home: Path, ref: dict[str, Any]) -> int:
    if not (StatePaths(home).qdrant / ref["collection"]).exists():
        return 0
    points, expected = _index_points(home, ref), _reference_points(ref_home, ref)
    assert points.keys() <= expected.keys()
    assert all(np.allclose(v, expected[k], atol=1e-5) for k, v in points.items())
    return len(points)


def _index_resumed(kept: int, rerun: dict[str, Any], ref: dict[str, Any]) -> None:
    assert (rerun["skipped"], rerun["written"]) == (kept, ref["points"] - kept)


def _index_same(home: Path, ref_home: Path, ref: dict[str, Any]) -> None:
    points, expected = _index_points(home, ref), _reference_points(ref_home, ref)
    assert points.keys() == expected.keys() and len(points) == ref["points"]
    assert all(np.allclose(v, expected[k], atol=1e-5) for k, v in points.items())


def _upstream_partial(home: Path, ref_home: Path, ref: dict[str, Any]) -> int | None:
    """None when M was published before the kill; else the step of the last whole checkpoint."""
    settings = settings_for("upstream", home)
    out = upstream_model_dir(settings)
    if out.exists():
        assert is_complete(out) and _same_weights(_weights(out),
                                                  _weights(upstream_model_dir(
                                                      settings_for("upstream", ref_home))))
        return None
    checkpoints = StatePaths(home).training_checkpoints(settings.models.upstream_model)
    if not checkpoints.exists():
        return 0
    # The library's reader drops partial checkpoints: run it on a copy, so the rerun meets them.
    copy = home.parent / f"{home.name}-checkpoints"
    shutil.copytree(checkpoints, copy)
    try:
        checkpoint = last_complete_checkpoint(copy)
        if checkpoint is None:
            return 0
        _weights(Path(checkpoint))  # a checkpoint taken as whole must load
        return json.loads((Path(checkpoint) / "trainer_state.json").read_text())["global_step"]
    finally:
        shutil.rmtree(copy)


def _upstream_resumed(step: int | None, rerun: dict[str, Any], ref: dict[str, Any]) -> None:
    if step is None:
        assert (rerun["trained"], rerun["train_steps"]) == (False, 0)
    else:
        assert rerun["train_steps"] == UPSTREAM_TRAINING["max_steps"] - step


def _upstream_same(home: Path, ref_home: Path, ref: dict[str, Any]) -> None:
    ours, theirs = (upstream_model_dir(settings_for("upstream", h)) for h in (home, ref_home))
    assert _same_weights(_weights(ours), _weights(theirs))


def _mining_partial(home: Path, ref_home: Path, ref: dict[str, Any]) -> int:
    done, expected = _mined(home), _mined(ref_home)
    for name, frame in done.items():  # a tuple on disk is final: it equals the reference's
        pd.testing.assert_frame_equal(frame, expected[name])
    return len(done)


def _mining_resumed(done: int, rerun: dict[str, Any], ref: dict[str, Any]) -> None:
    assert (rerun["resumed"], rerun["mined"]) == (done, ref["mined"] - done)


def _mining_same(home: Path, ref_home: Path, ref: dict[str, Any]) -> None:
    done, expected = _mined(home), _mined(ref_home)
    assert done.keys() == expected.keys()
    for name, frame in done.items():
        pd.testing.assert_frame_equal(frame, expected[name])


def _reranker_partial(home: Path, ref_home: Path, ref: dict[str, Any]) -> bool:
    out = reranker_dir(settings_for("reranker", home))
    return is_complete(out) and (out / "recross_report.json").is_file()


def _reranker_resumed(was_done: bool, rerun: dict[str, Any], ref: dict[str, Any]) -> None:
    assert rerun["reused"] is was_done
    assert rerun["train_steps"] == (0 if was_done else ref["train_steps"])


def _reranker_same(home: Path, ref_home: Path, ref: dict[str, Any]) -> None:
    ours, theirs = (reranker_dir(settings_for("reranker", h)) for h in (home, ref_home))
    assert _same_weights(_weights(ours), _weights(theirs))
    metrics = [{k: v for k, v in json.loads((d / "reranker_metrics.json").read_text()).items()
                if k != "train_seconds"} for d in (ours, theirs)]
    assert metrics[0] == metrics[1]


def _adaptation_partial(home: Path, ref_home: Path, ref: dict[str, Any]) -> set[int]:
    """Seeds whose adapted model (and its inputs marker) was finished before the kill."""
    done = set()
    expected = _adapted_dirs(ref_home)
    for seed, folder in _adapted_dirs(home).items():
        if is_complete(folder) and (folder / "recross_inputs.json").is_file():
            assert _same_weights(_weights(folder), _weights(expected[seed]))
            done.add(seed)
    return done


def _adaptation_resumed(done: set[int], rerun: dict[str, Any], ref: dict[str, Any]) -> None:
    assert {int(s) for s, reused in rerun["reused"].items() if reused} == done
    per_seed = ref["train_steps"] // len(ref["reused"])
    assert rerun["train_steps"] == per_seed * (len(ref["reused"]) - len(done))


def _adaptation_same(home: Path, ref_home: Path, ref: dict[str, Any]) -> None:
    expected = _adapted_dirs(ref_home)
    for seed, folder in _adapted_dirs(home).items():
        assert _same_weights(_weights(folder), _weights(expected[seed]))
        assert (folder / "recross_inputs.json").read_text() == \
            (expected[seed] / "recross_inputs.json").read_text()


def _evaluation_partial(home: Path, ref_home: Path, ref: dict[str, Any]) -> int:
    """How many of the three tables were written before the kill (each whole and final)."""
    written = 0
    for ours, theirs in zip(_evaluation_files(home), _evaluation_files(ref_home)):
        if ours.exists():
            pd.testing.assert_frame_equal(pd.read_parquet(ours), pd.read_parquet(theirs))
            written += 1
    return written


def _evaluation_resumed(_: int, rerun: dict[str, Any], ref: dict[str, Any]) -> None:
    assert rerun["softem"] == ref["softem"] and rerun["train_steps"] == 0


def _evaluation_same(home: Path, ref_home: Path, ref: dict[str, Any]) -> None:
    for ours, theirs in zip(_evaluation_files(home), _evaluation_files(ref_home)):
        pd.testing.assert_frame_equal(pd.read_parquet(ours), pd.read_parquet(theirs))


CHECKS: dict[str, StepCheck] = {
    "index": StepCheck(_index_partial, _index_resumed, _index_same),
    "upstream": StepCheck(_upstream_partial, _upstream_resumed, _upstream_same),
    "mining": StepCheck(_mining_partial, _mining_resumed, _mining_same),
    "reranker": StepCheck(_reranker_partial, _reranker_resumed, _reranker_same),
    "adaptation": StepCheck(_adaptation_partial, _adaptation_resumed, _adaptation_same),
    "evaluation": StepCheck(_evaluation_partial, _evaluation_resumed, _evaluation_same),
}


# -- generic: nothing half-written is readable as complete, nothing left behind ----------------

def assert_nothing_half_written(home: Path) -> None:
    """Every published table and JSON file parses; every completed directory's weights load.

    Hidden names are the writers' temporaries; trainer checkpoints and Edge shards are checked
    by their own readers (``last_complete_checkpoint``, opening the index) in the step checks.
    """
    for path in home.rglob("*"):
        relative = path.relative_to(home).parts
        if any(part.startswith(".") for part in relative) or relative[0] == "qdrant" or \
                "upstream-training" in relative:
            continue
        if path.suffix == ".parquet":
            pd.read_parquet(path)
        elif path.suffix == ".json":
            json.loads(path.read_text())
        elif path.name == COMPLETE_MARKER and (path.parent / WEIGHTS).is_file():
            _weights(path.parent)


def leftovers(home: Path) -> list[str]:
    """Temporaries of killed writes still lying around after a successful rerun."""
    return sorted(str(p.relative_to(home)) for p in home.rglob(".*")
                  if p.name not in EXPECTED_HIDDEN and "shard" not in p.relative_to(home).parts)


# All slow: even the index case kills 20 builds (~100 s on 2 cores), too long for `make test-fast`.
STEPS = [pytest.param(step, marks=pytest.mark.slow) for step in
         ("index", "upstream", "mining", "reranker", "adaptation", "evaluation")]


@pytest.mark.parametrize("step", STEPS)
def test_killed_step_reruns_to_the_uninterrupted_result(step: str, chain: Chain, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]):
    ref_home, seconds, ref = chain.reference(step)
    check = CHECKS[step]
    rng = random.Random(f"{KILL_SEED}:{step}")
    outcomes: list[int] = []
    found: list[Any] = []  # what each killed run had finished, for the summary line
    duration = seconds  # of an uninterrupted run; follows the machine's load (see below)
    for trial in range(n_trials(step)):
        home = tmp_path / f"trial-{trial}"
        shutil.copytree(chain.base(step), home)
        delay = rng.uniform(0, duration)
        first = chain.driver.run(step, home, kill_after=delay)
        assert first.rc in (0, -9), f"trial {trial}: exit {first.rc}; see {chain.driver.log}"
        outcomes.append(first.rc)
        if first.rc == 0:  # it outran the kill: the shared cores got faster, re-measured
            duration = first.seconds
        assert_nothing_half_written(home)
        partial = check.partial(home, ref_home, ref)
        found.append(partial)
        rerun = chain.driver.run(step, home)
        assert rerun.rc == 0, f"trial {trial} (killed at {delay:.2f}s): rerun failed; " \
                              f"see {chain.driver.log}"
        check.resumed(partial, rerun.summary, ref)
        check.same(home, ref_home, ref)
        assert leftovers(home) == [], f"trial {trial} (killed at {delay:.2f}s)"
        shutil.rmtree(home)
    killed = outcomes.count(-9)
    with capsys.disabled():
        print(f"\n{step}: {len(outcomes)} trials, {killed} killed mid-step, "
              f"{len(outcomes) - killed} finished first (reference {seconds:.1f}s); "
              f"found after the kill: {found}")
    assert killed >= len(outcomes) // 2, "most kills must land inside the step"
