"""The cross-encoder: trained on mined pairs, evaluated on held-out tuples, scoring in batches."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from mining_helpers import TINY, one_torch_thread
from recross.errors import DataError, ModelError
from recross.io import is_complete
from recross.reranking import (
    CrossEncoderScorer,
    build_cross_encoder,
    load_cross_encoder,
    ranking_metrics,
    split_tuples,
    train_cross_encoder,
)
from recross.reranking.cross_encoder import METRICS_FILE


def test_trained_cross_encoder_ranks_heldout_positives_above_negatives(mined, tmp_path):
    with one_torch_thread():
        report = train_cross_encoder(mined.table, base=TINY.models.reranker_base,
                                     settings=TINY.reranker, output_dir=tmp_path / "reranker",
                                     device="cpu", progress=False)
    assert report.metrics["heldout_pairwise_accuracy"] > 0.5  # chance is 0.5
    assert report.metrics["heldout_auc"] > 0.5
    assert report.train_tuples + report.heldout_tuples == mined.table.tuple_id.nunique()
    assert is_complete(report.path)
    stored = json.loads((report.path / METRICS_FILE).read_text())
    assert set(stored["train_tuples"]).isdisjoint(stored["heldout_tuples"])
    assert stored["heldout_auc"] == pytest.approx(report.metrics["heldout_auc"])
    # The published model scores like the trained one.
    heldout = mined.table[mined.table.tuple_id.isin(stored["heldout_tuples"])]
    scorer = CrossEncoderScorer(load_cross_encoder(report.path, device="cpu"), batch_size=16)
    scores = np.concatenate([scorer.score([q], [c]).ravel()
                             for q, c in zip(heldout.query_text, heldout.candidate_text)])
    reloaded = ranking_metrics(heldout.reset_index(drop=True), scores)
    assert reloaded["auc"] == pytest.approx(report.metrics["heldout_auc"], abs=1e-4)


def test_scorer_returns_a_query_by_candidate_matrix_whatever_the_batch_size():
    model = build_cross_encoder("build:tiny-bert", max_length=32, device="cpu")
    queries = ["is the review positive?", "summarize the dialogue", "which answer is right?"]
    candidates = [f"candidate text number {i}" for i in range(5)]
    small = CrossEncoderScorer(model, batch_size=2).score(queries, candidates)
    large = CrossEncoderScorer(model, batch_size=64).score(queries, candidates)
    assert small.shape == (3, 5)
    np.testing.assert_allclose(small, large, atol=1e-5)
    assert ((small > 0) & (small < 1)).all()  # probabilities


def test_tuples_are_split_whole_and_seeded():
    train, heldout = split_tuples([0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9], heldout_fraction=0.2, seed=3)
    assert len(heldout) == 2 and len(train) == 8
    assert set(train).isdisjoint(heldout)
    assert (train, heldout) == split_tuples(list(range(10)), heldout_fraction=0.2, seed=3)
    with pytest.raises(DataError, match="at least 2"):
        split_tuples([4, 4, 4], heldout_fraction=0.2, seed=0)


def test_ranking_metrics_count_positive_over_negative_wins():
    frame = pd.DataFrame({"tuple_id": [0] * 4 + [1] * 4, "query_text": ["a"] * 4 + ["b"] * 4,
                          "label": [1, 1, 0, 0] * 2})
    perfect = ranking_metrics(frame, np.array([0.9, 0.8, 0.1, 0.2, 0.7, 0.6, 0.3, 0.4]))
    assert perfect == {"pairwise_accuracy": 1.0, "auc": 1.0}
    tied = ranking_metrics(frame, np.full(8, 0.5))
    assert tied == {"pairwise_accuracy": 0.5, "auc": 0.5}


def test_unknown_reranker_base_fails_clearly():
    with pytest.raises(ModelError, match="unknown reranker base 'build:huge-bert'"):
        build_cross_encoder("build:huge-bert", max_length=32, device="cpu")
