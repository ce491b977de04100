"""Progress bars that also reach logs.

tqdm's ``disable=None`` hides a bar whose stream is not a terminal, so ``make run > log``, CI and
Dagster's captured logs showed nothing for an hour of encoding. Here a terminal redraws as usual
and any other stream gets one line every 30 s; :class:`ProgressLines` does the same for loops
that count steps themselves (the Trainer's).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from typing import Any

from tqdm.auto import tqdm

LOG_INTERVAL_S = 30.0


class _Lines:
    """tqdm redraws a bar with a carriage return; a log wants each update as a line of its own,
    whole, so that two processes writing to one log never glue their updates together."""

    def write(self, text: str) -> None:
        text = text.replace("\r", "").rstrip()
        if text:
            sys.stderr.write(text + "\n")

    def flush(self) -> None:
        sys.stderr.flush()


def progress_bar(iterable: Iterable[Any] | None = None, *, enabled: bool, **kwargs: Any) -> tqdm:
    """A tqdm bar on stderr, silent when ``enabled`` is false."""
    if interactive():
        return tqdm(iterable, disable=not enabled, mininterval=0.1, **kwargs)
    return tqdm(iterable, disable=not enabled, mininterval=LOG_INTERVAL_S, file=_Lines(),
                ascii=True, **kwargs)


def interactive() -> bool:
    """Whether progress goes to a terminal (redrawn bars) rather than a log (lines)."""
    return sys.stderr.isatty()


class ProgressLines:
    """One stderr line at most every 30 s: what is done of how much, the rate and an ETA."""

    def __init__(self, what: str, total: int, unit: str, done: int = 0) -> None:
        self.what, self.total, self.unit = what, total, unit
        self.first = done
        self.started = self.last = time.perf_counter()

    def update(self, done: int, note: str = "") -> None:
        now = time.perf_counter()
        if now - self.last < LOG_INTERVAL_S and done < self.total:
            return
        self.last = now
        rate = (done - self.first) / max(now - self.started, 1e-9)
        eta = (self.total - done) / rate if rate > 0 else float("nan")
        print(f"{self.what}: {done}/{self.total} {self.unit}, {rate:.2f} {self.unit}/s, "
              f"{(now - self.started) / 60:.1f} min elapsed, ETA {eta / 60:.1f} min"
              + (f", {note}" if note else ""), file=sys.stderr, flush=True)
