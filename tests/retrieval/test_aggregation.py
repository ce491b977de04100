"""Dense aggregation on the hand-built index (see conftest): K, duplicates, interleaving, |R|."""

from __future__ import annotations

import pytest
from recross.errors import ConfigError
from recross.retrieval import DenseRetrieval, candidate_count, interleave_ranked, per_query_k


def dagger(pool, index, encoder, **kwargs) -> DenseRetrieval:
    return DenseRetrieval("recross-dagger", pool=pool, index=index, encoder=encoder, **kwargs)


def test_k_is_ceiling_of_size_over_queries():
    assert per_query_k(512, 16) == 32
    assert per_query_k(7, 3) == 3
    assert per_query_k(1, 16) == 1
    assert candidate_count(512, 2.0) == 1024
    assert candidate_count(5, 1.5) == 8


def test_interleaving_puts_every_rank_one_before_any_rank_two():
    lists = [["a1", "a2", "a3"], ["b1"], ["c1", "c2"]]
    assert interleave_ranked(lists, size=5) == ["a1", "b1", "c1", "a2", "c2"]
    assert interleave_ranked(lists, size=100) == ["a1", "b1", "c1", "a2", "c2", "a3"]


def test_dense_retrieval_keeps_duplicates_and_cuts_in_rank_order(hand_pool, hand_index,
                                                                 axis_encoder, make_queries):
    retrieved = dagger(hand_pool, hand_index, axis_encoder).retrieve(make_queries(), size=7)
    # K = ceil(7 / 3) = 3 per query; "shared" is rank 1 of all three queries and is kept 3 times.
    assert retrieved.example_ids == ["shared", "shared", "shared",
                                     "x0-1", "x1-1", "x2-1", "x0-2"]
    assert [it.query_index for it in retrieved.items] == [0, 1, 2, 0, 1, 2, 0]
    assert [it.rank for it in retrieved.items] == [1, 1, 1, 2, 2, 2, 3]
    assert max(it.rank for it in retrieved.items) <= per_query_k(7, 3)
    assert retrieved.items[0].score == pytest.approx(100.0)
    assert retrieved.items[3].score == pytest.approx(9.0)


@pytest.mark.parametrize("size", [1, 2, 3, 4, 8, 12, 13])
def test_dense_retrieval_returns_exactly_r_items(hand_pool, hand_index, axis_encoder,
                                                 make_queries, size):
    retrieved = dagger(hand_pool, hand_index, axis_encoder).retrieve(make_queries(), size=size)
    assert len(retrieved) == size
    assert retrieved.target_size == size


def test_single_query_takes_its_whole_ranked_list(hand_pool, hand_index, axis_encoder,
                                                  make_queries):
    retrieved = dagger(hand_pool, hand_index, axis_encoder).retrieve(make_queries(n=1), size=4)
    assert retrieved.example_ids == ["shared", "x0-1", "x0-2", "x0-3"]
    assert [it.rank for it in retrieved.items] == [1, 2, 3, 4]


def test_retrieved_frame_carries_provenance(hand_pool, hand_index, axis_encoder, make_queries):
    frame = dagger(hand_pool, hand_index, axis_encoder).retrieve(make_queries(), size=4).to_frame()
    assert list(frame.columns) == ["position", "example_id", "task", "template", "score",
                                   "query_index", "rank"]
    assert frame.task.tolist() == ["alpha", "alpha", "alpha", "beta"]


def test_size_must_be_positive(hand_pool, hand_index, axis_encoder, make_queries):
    with pytest.raises(ConfigError, match="must be positive"):
        dagger(hand_pool, hand_index, axis_encoder).retrieve(make_queries(), size=0)


def test_size_above_the_filtered_pool_is_refused(hand_pool, hand_index, axis_encoder,
                                                 make_queries):
    with pytest.raises(ConfigError, match="larger than the 13 upstream examples"):
        dagger(hand_pool, hand_index, axis_encoder).retrieve(make_queries(), size=14)


def test_encoder_must_match_the_index(hand_pool, hand_index, axis_encoder):
    from recross.errors import IndexStoreError

    class OtherEncoder:
        name, dimension = "other-encoder", 3
        encode = axis_encoder.encode

    with pytest.raises(IndexStoreError, match="was built with encoder 'axis-encoder'"):
        dagger(hand_pool, hand_index, OtherEncoder())
