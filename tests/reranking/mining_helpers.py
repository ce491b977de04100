"""Shared by the reranking tests: the tiny profile's settings and a one-thread torch context."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from recross.config import load_settings

TINY = load_settings("tiny", environ={})
LENGTHS = {"max_input_length": TINY.models.max_input_length,
           "max_output_length": TINY.models.max_output_length}
MINED_TUPLES = 12  # enough tuples for a train / held-out split of the reranker


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """Tiny models gain nothing from a second thread, and on a busy 2-core machine two threads
    per process spin against each other (tiny mining ran ~10x slower). Also keeps float sums in
    one order, so runs compared for equality compute alike."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
