"""Mined tuples and the reranker trained on them live in folders named for what they depend on."""

from recross.config import load_settings
from recross.pipeline.reranking import mining_dir, reranker_dir


def _settings(**models):
    return load_settings("tiny", overrides={"home": "/state", "models": models}, environ={})


def test_changing_what_mining_depends_on_gives_new_folders_for_tuples_and_reranker():
    raw, unit = _settings(upstream_vectors="raw"), _settings(upstream_vectors="unit")
    int8 = _settings(encoder_runtime="onnx-int8")
    assert len({mining_dir(s) for s in (raw, unit, int8)}) == 3
    assert len({reranker_dir(s) for s in (raw, unit, int8)}) == 3
    assert reranker_dir(raw).name.endswith(mining_dir(raw).name)


def test_more_tuples_extend_the_same_folder():
    few = _settings()
    more = few.model_copy(deep=True)
    more.mining.n_tuples = few.mining.n_tuples * 4
    assert mining_dir(more) == mining_dir(few)
