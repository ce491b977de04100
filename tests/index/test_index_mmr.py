"""Qdrant's MMR query on every backend: ``diversity`` means the same on Edge and qdrant-client."""

from __future__ import annotations

import numpy as np
import pytest
from recross.data import Example

# Unit vectors: a is the query's direction, a_twin nearly a copy of a, b further off.
LAYOUT = {"a": [1.0, 0.0], "a_twin": [0.999, 0.0447], "b": [0.8, 0.6]}


def _examples() -> list[Example]:
    return [Example(example_id=i, input=i, answers=("x",), task="t", split="train",
                    template="t", source_index=n, source_task="t")
            for n, i in enumerate(LAYOUT)]


@pytest.mark.parametrize(("diversity", "expected"), [
    (0.0, ["a", "a_twin", "b"]),   # relevance only
    (0.8, ["a", "b", "a_twin"]),   # 0.2 * 0.8 - 0.8 * 0.8 > 0.2 * 0.999 - 0.8 * 0.999
])
def test_mmr_diversity_demotes_near_copies_of_picked_neighbours(open_test_index, diversity,
                                                                expected):
    index = open_test_index(dimension=2)
    index.upsert(_examples(), np.asarray(list(LAYOUT.values()), dtype=np.float32))

    hits = index.search_diverse(np.asarray([[1.0, 0.0]], dtype=np.float32), k=3,
                                diversity=diversity, candidates=3)[0]

    assert [h.example_id for h in hits] == expected
