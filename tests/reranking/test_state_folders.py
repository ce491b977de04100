"""Mined tuples and the reranker trained on them live in folders named for what they depend on."""

import pandas as pd
from recross.config import load_settings
from recross.pipeline.reranker_training import mining_dir, reranker_dir


def _settings(index=None, **models):
    return load_settings("tiny", overrides={"home": "/state", "models": models,
                                            "index": index or {}}, environ={})


def test_changing_what_mining_depends_on_gives_new_folders_for_tuples_and_reranker():
    raw = _settings()
    cosine, euclid = (_settings({"upstream_distance": d}) for d in ("cosine", "euclid"))
    int8 = _settings(encoder_runtime="onnx-int8")
    reference = _settings(input_format="reference")
    variants = (raw, cosine, euclid, int8, reference)
    assert len({mining_dir(s) for s in variants}) == 5
    assert len({reranker_dir(s) for s in variants}) == 5
    assert reranker_dir(raw).name.endswith(mining_dir(raw).name)


def test_more_tuples_extend_the_same_folder():
    few = _settings()
    more = few.model_copy(deep=True)
    more.mining.n_tuples = few.mining.n_tuples * 4
    assert mining_dir(more) == mining_dir(few)


def test_the_reranker_learns_from_the_first_tuples_and_their_first_queries(tmp_path):
    """``mining.n_tuples`` and ``reranker.queries_per_tuple`` choose the training pairs."""
    from recross.pipeline.reranker_training import training_pairs
    from recross.reranking.mining import PAIR_TABLE_COLUMNS

    settings = load_settings("tiny", overrides={
        "home": str(tmp_path), "mining": {"n_tuples": 2},
        "reranker": {"queries_per_tuple": 2}}, environ={})
    folder = mining_dir(settings)
    folder.mkdir(parents=True)
    for tid in range(3):  # tuple 2 lies beyond n_tuples: an extended run's, not this one's
        rows = [{column: None for column in PAIR_TABLE_COLUMNS} | {
            "tuple_id": tid, "query_index": q, "query_text": f"q{tid}.{q}",
            "candidate_text": f"c{c}", "label": int(c == 0), "candidate_rank": c}
            for q in range(4) for c in range(2)]
        pd.DataFrame(rows).to_parquet(folder / f"tuple-{tid:05d}.parquet")
    pairs = training_pairs(settings)
    assert sorted(set(pairs.query_text)) == ["q0.0", "q0.1", "q1.0", "q1.1"]
    assert len(pairs) == 8 and pairs.index.tolist() == list(range(8))
