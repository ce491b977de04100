"""Full ReCross on the hand-built index: reranking picks |R| of the mu * |R| dense candidates."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from recross.config import RetrievalSettings
from recross.errors import ConfigError
from recross.reranking.cross_encoder import CrossEncoderScorer, build_cross_encoder
from recross.retrieval import DenseRetrieval, RerankedRetrieval, make_retriever


class PreferTask:
    """Scores a candidate 1 when its input names ``task``'s examples, else 0 (known answer)."""

    def __init__(self, pool, task: str) -> None:
        self.good = {ex.input for ex in pool.examples if ex.task == task}

    def score(self, queries, candidates) -> np.ndarray:
        row = [1.0 if text in self.good else 0.0 for text in candidates]
        return np.tile(np.asarray(row), (len(queries), 1))


def dense(pool, index, encoder) -> DenseRetrieval:
    return DenseRetrieval("recross-dagger", pool=pool, index=index, encoder=encoder)


def test_reranked_set_is_a_subset_of_dense_candidates_with_exactly_r_items(
        hand_pool, hand_index, axis_encoder, make_queries):
    scorer = CrossEncoderScorer(build_cross_encoder("build:tiny-bert", max_length=32, device="cpu"),
                                batch_size=8)
    retriever = RerankedRetrieval(dense=dense(hand_pool, hand_index, axis_encoder), scorer=scorer,
                                  upsample_ratio=2.0)
    for size in (1, 3, 5, 6):
        retrieved = retriever.retrieve(make_queries(), size=size)
        assert len(retrieved) == size
        assert len(retrieved.candidates) == 2 * size
        candidates = Counter(it.example.example_id for it in retrieved.candidates)
        assert not Counter(retrieved.example_ids) - candidates  # multiset inclusion
        assert retrieved.retriever == "recross"


def test_reranking_keeps_the_best_mean_scored_candidates_with_their_duplicates(
        hand_pool, hand_index, axis_encoder, make_queries):
    retriever = RerankedRetrieval(dense=dense(hand_pool, hand_index, axis_encoder),
                                  scorer=PreferTask(hand_pool, "alpha"), upsample_ratio=2.0)
    retrieved = retriever.retrieve(make_queries(), size=4)
    # R' = 8: shared x3 (alpha), x0-1, x1-1, x2-1, x0-2, x1-2. The three copies of "shared"
    # score best and stay together; the fourth slot goes to the best-ranked dense candidate.
    assert retrieved.example_ids == ["shared", "shared", "shared", "x0-1"]
    assert [it.query_index for it in retrieved.items] == [0, 1, 2, 0]
    assert retrieved.items[0].score == pytest.approx(1.0)


def test_reranking_can_promote_deep_candidates(hand_pool, hand_index, axis_encoder,
                                               make_queries):
    retriever = RerankedRetrieval(dense=dense(hand_pool, hand_index, axis_encoder),
                                  scorer=PreferTask(hand_pool, "gamma"), upsample_ratio=3.0)
    retrieved = retriever.retrieve(make_queries(), size=3)
    assert retrieved.example_ids[:2] == ["x1-1", "x1-2"]  # ranks 2 and 3 of query 1


def test_upsampling_ratio_below_one_is_refused(hand_pool, hand_index, axis_encoder):
    with pytest.raises(ConfigError, match="mu=0.5 is below 1"):
        RerankedRetrieval(dense=dense(hand_pool, hand_index, axis_encoder),
                          scorer=PreferTask(hand_pool, "alpha"), upsample_ratio=0.5)


def test_factory_builds_each_retriever_and_names_missing_parts(hand_pool, hand_index,
                                                               axis_encoder):
    settings = RetrievalSettings()
    assert make_retriever("none", pool=hand_pool, settings=settings).name == "none"
    assert make_retriever("random", pool=hand_pool, settings=settings).name == "random"
    assert make_retriever("sbert", pool=hand_pool, settings=settings, index=hand_index,
                          encoder=axis_encoder).name == "sbert"
    recross = make_retriever("recross", pool=hand_pool, settings=settings, index=hand_index,
                             encoder=axis_encoder, scorer=PreferTask(hand_pool, "alpha"))
    assert recross.name == "recross" and recross.upsample_ratio == 2.0
    with pytest.raises(ConfigError, match="needs scorer"):
        make_retriever("recross", pool=hand_pool, settings=settings, index=hand_index,
                       encoder=axis_encoder)
    with pytest.raises(ConfigError, match="Did you mean recross-dagger"):
        make_retriever("recross-daggr", pool=hand_pool, settings=settings)
