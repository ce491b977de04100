"""The example-encoder interface (a Protocol) shared by the index, retrieval and the benchmarks;
the two encoders that implement it live in :mod:`recross.models.encoders`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class ExampleEncoder(Protocol):
    """Turns texts into float32 vectors of a fixed dimension, deterministically.

    ``name`` identifies the encoder (checkpoint + pooling) and is stored with every index it
    builds, so an index is never searched with vectors of another encoder.
    """

    name: str
    dimension: int

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """Return an ``(len(texts), dimension)`` float32 array."""
        ...
