"""The order of the main job's Dagster runs, and how many run at once.

The main job runs as many Dagster runs side by side as the instance's CPU pool has slots, each
on its share of the cores (:mod:`recross_assets.cpu_share`), in dependency order: a run starts
once the runs that make its inputs have succeeded, and never while another run holds an Edge
collection it opens (Edge allows one process per collection). With one slot (dagster.yaml) it
is a plain loop in plan order; two slots measured no faster on 2 cores (dagster.yaml says why).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from typing import NamedTuple


@dataclass(frozen=True)
class PlannedRun:
    """One Dagster run of the main job: ``assets`` for ``partition`` or the range ``partitions``."""

    label: str
    assets: tuple[str, ...]
    partition: str | None = None
    partitions: tuple[str, ...] = ()
    after: frozenset[str] = field(default_factory=frozenset)  # labels that must succeed first
    holds: frozenset[str] = field(default_factory=frozenset)  # collections it opens


class RunOutcome(NamedTuple):
    """What a finished run reports back: its Dagster run id and whether every step succeeded."""

    run_id: str
    success: bool


class PlanError(ValueError):
    """A plan whose runs can never all start (a cycle, or a label that is not in the plan)."""


def check_plan(plan: Sequence[PlannedRun]) -> None:
    """Refuse duplicate labels, unknown dependencies and cycles before anything runs."""
    labels = [run.label for run in plan]
    if len(set(labels)) != len(labels):
        twice = sorted({label for label in labels if labels.count(label) > 1})
        raise PlanError(f"two runs share a label: {twice}")
    known = set(labels)
    for run in plan:
        if not run.after <= known:
            raise PlanError(f"{run.label} waits for runs not in the plan: "
                            f"{sorted(run.after - known)}")
    done: set[str] = set()
    left = list(plan)
    while left:
        ready = [run for run in left if run.after <= done]
        if not ready:
            raise PlanError(f"runs wait for each other: {sorted(run.label for run in left)}")
        done.update(run.label for run in ready)
        left = [run for run in left if run.label not in done]


def run_plan(plan: Sequence[PlannedRun], *, workers: int,
             submit: Callable[[PlannedRun, int], Future[RunOutcome]]
             ) -> Iterator[tuple[PlannedRun, Future[RunOutcome]]]:
    """Start runs in plan order as their inputs are ready, at most ``workers`` at once, and
    yield each with its finished future as it ends. After the first failure nothing new starts;
    the runs already started finish and are yielded, then the plan ends.

    ``submit(run, sharing)`` gets how many runs are running once this one has started (itself
    included). A run that starts alone stays alone: only a running run's end makes another
    ready, so it may take every core."""
    check_plan(plan)
    pending = list(plan)
    running: dict[Future[RunOutcome], PlannedRun] = {}
    succeeded: set[str] = set()
    failed = False
    while running or (pending and not failed):
        held: set[str] = set().union(*(run.holds for run in running.values()))
        starting: list[PlannedRun] = []
        for run in [] if failed else pending:
            if len(running) + len(starting) >= workers:
                break
            if run.after <= succeeded and not run.holds & held:
                starting.append(run)
                held |= run.holds
        sharing = len(running) + len(starting)
        for run in starting:
            pending.remove(run)
            running[submit(run, sharing)] = run
        if not running:  # check_plan rules this out; never spin on an empty wait
            raise PlanError(f"runs cannot start: {sorted(run.label for run in pending)}")
        finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
        for future in finished:
            run = running.pop(future)
            if future.exception() is None and future.result().success:
                succeeded.add(run.label)
            else:
                failed = True
            yield run, future
