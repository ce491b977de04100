"""A hand-built example index whose neighbours are known by construction.

Three queries ``q0``, ``q1``, ``q2`` encode to the unit vectors of three axes. Query i's own
examples ``x{i}-{r}`` lie on axis i with length 10 - r, so query i ranks them r = 1, 2, 3, 4 and
scores every other query's examples 0. One example, ``shared``, lies on the diagonal with a large
length: it is rank 1 of every query, so pooled lists hold it once per query.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from recross.config import IndexSettings
from recross.data import Example, QuerySet, UpstreamPool
from recross.index import ExampleIndex, open_index

QUERY_TASKS = ("beta", "gamma", "delta")  # the task of query i's own examples


class AxisEncoder:
    """Encodes ``q<i>`` as the unit vector of axis i (a query-side test double; the index is real)."""

    name = "axis-encoder"
    dimension = 3

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            out[row, int(text.removeprefix("q"))] = 1.0
        return out


def _example(example_id: str, task: str, template: str) -> Example:
    return Example(example_id=example_id, input=f"input of {example_id}", answers=("yes",),
                   task=task, split="train", template=template, source_index=0, source_task=task)


def hand_built_examples() -> tuple[list[Example], np.ndarray]:
    examples = [_example("shared", "alpha", "t1")]
    vectors = [[100.0, 100.0, 100.0]]
    for i, task in enumerate(QUERY_TASKS):
        for r in range(1, 5):
            examples.append(_example(f"x{i}-{r}", task, "t1" if r <= 2 else "t2"))
            vector = [0.0, 0.0, 0.0]
            vector[i] = 10.0 - r
            vectors.append(vector)
    return examples, np.asarray(vectors, dtype=np.float32)


@pytest.fixture
def hand_pool() -> UpstreamPool:
    return UpstreamPool(examples=hand_built_examples()[0])


@pytest.fixture
def hand_index(tmp_path: Path) -> ExampleIndex:
    examples, vectors = hand_built_examples()
    index = open_index(IndexSettings(exact=True), collection="hand-built", dimension=3,
                       encoder_name=AxisEncoder.name, home=tmp_path)
    index.upsert(examples, vectors)
    yield index
    index.close()


@pytest.fixture
def make_queries():
    """``make_queries(task, seed, n)``: the query set ``q0..q{n-1}`` of a target ``task``."""
    def make(task: str = "target", seed: int = 0, n: int = 3) -> QuerySet:
        return QuerySet(task=task, seed=seed, inputs=tuple(f"q{i}" for i in range(n)))
    return make


@pytest.fixture
def axis_encoder() -> AxisEncoder:
    return AxisEncoder()
