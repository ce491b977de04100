"""Encoding the pool longest first (index.pool_sorted_encoding) changes batches, not vectors."""

from __future__ import annotations

import numpy as np
from recross.models import upstream_encoder
from recross.pipeline.upstream import longest_first


def test_pool_sorted_encoding_gives_each_example_the_same_vector(tiny_bundle, tiny_pool):
    examples = tiny_pool.examples[:40]
    encoder = upstream_encoder(tiny_bundle, max_length=64, batch_size=4)

    def by_id(ordered) -> dict[str, np.ndarray]:  # encoded in upsert chunks of 16, as a build
        vectors = {}
        for start in range(0, len(ordered), 16):
            chunk = ordered[start:start + 16]
            vectors.update(zip((e.example_id for e in chunk),
                               encoder.encode([e.input for e in chunk])))
        return vectors

    ordered = longest_first(examples)
    assert [len(e.input) for e in ordered] == sorted((len(e.input) for e in examples),
                                                     reverse=True)
    plain, sorted_ = by_id(examples), by_id(ordered)
    assert plain.keys() == sorted_.keys()
    for example_id, vector in plain.items():
        np.testing.assert_allclose(sorted_[example_id], vector, atol=1e-5)
