"""Progress bars that also reach logs.

tqdm's ``disable=None`` hides a bar whose stream is not a terminal, so ``make run > log``, CI and
Dagster's captured logs showed nothing for an hour of encoding. Here a terminal redraws as usual
and any other stream gets one line every 30 s.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

from tqdm.auto import tqdm

LOG_INTERVAL_S = 30.0


def progress_bar(iterable: Iterable[Any] | None = None, *, enabled: bool, **kwargs: Any) -> tqdm:
    """A tqdm bar on stderr, silent when ``enabled`` is false."""
    interactive = sys.stderr.isatty()
    return tqdm(iterable, disable=not enabled, mininterval=0.1 if interactive else LOG_INTERVAL_S,
                **kwargs)
