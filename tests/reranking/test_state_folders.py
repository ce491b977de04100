"""Mined tuples and the reranker trained on them live in folders named for what they depend on."""

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
