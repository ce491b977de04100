"""Every retriever on the tiny profile: real target query sets, real indexes, a mined reranker."""

from __future__ import annotations

from collections import Counter

import pytest
from mining_helpers import TINY, one_torch_thread
from recross.data import load_target
from recross.index import build_index, open_index
from recross.index.filters import TaskFilter
from recross.models import sentence_encoder
from recross.reranking import CrossEncoderScorer, load_cross_encoder, train_cross_encoder
from recross.retrieval import make_retriever, task_distribution


@pytest.fixture(scope="module")
def query_set(data_dir):
    target = load_target(data_dir, TINY.targets[0], query_size=TINY.retrieval.query_size,
                         n_query_sets=1, test_sample_size=TINY.data.test_sample_size)
    return target.query_sets[0]


@pytest.fixture(scope="module")
def sbert_parts(tiny_pool, tmp_path_factory):
    encoder = sentence_encoder(TINY.models.sbert_model, max_length=TINY.models.max_input_length,
                               batch_size=16, device="cpu")
    index = open_index(TINY.index.model_copy(update={"exact": True}), collection="tiny-sbert",
                       dimension=encoder.dimension, encoder_name=encoder.name,
                       home=tmp_path_factory.mktemp("sbert-home"))
    with one_torch_thread():
        build_index(index, tiny_pool.examples, encoder.encode, batch_size=64, progress=False)
    yield index, encoder
    index.close()


@pytest.fixture(scope="module")
def scorer(mined, tmp_path_factory):
    with one_torch_thread():
        report = train_cross_encoder(mined.table, base=TINY.models.reranker_base,
                                     settings=TINY.reranker,
                                     output_dir=tmp_path_factory.mktemp("rr") / "reranker",
                                     device="cpu", progress=False)
    return CrossEncoderScorer(load_cross_encoder(report.path, device="cpu"), batch_size=32)


def test_every_paper_retriever_returns_r_examples_of_the_pool(tiny_pool, tiny_dagger,
                                                              sbert_parts, scorer, query_set):
    size = TINY.retrieval.retrieved_size
    dagger_parts = {"index": tiny_dagger.index, "encoder": tiny_dagger.encoder}
    parts = {"sbert": {"index": sbert_parts[0], "encoder": sbert_parts[1]},
             "recross-dagger": dagger_parts, "recross": {**dagger_parts, "scorer": scorer}}
    with one_torch_thread():
        results = {name: make_retriever(name, pool=tiny_pool, settings=TINY.retrieval,
                                        **parts.get(name, {})).retrieve(query_set, size=size)
                   for name in ("none", "random", *parts)}
    assert len(results["none"]) == 0
    for name in ("random", "sbert", "recross-dagger", "recross"):
        assert len(results[name]) == size, name
        assert set(results[name].example_ids) <= {e.example_id for e in tiny_pool.examples}
    recross = results["recross"]
    assert len(recross.candidates) == 2 * size
    assert not Counter(recross.example_ids) - Counter(c.example.example_id
                                                      for c in recross.candidates)
    assert task_distribution(recross).share.sum() == pytest.approx(1.0)


def test_filters_reach_the_real_index(tiny_pool, tiny_dagger, query_set):
    dagger = make_retriever("recross-dagger", pool=tiny_pool, settings=TINY.retrieval,
                            index=tiny_dagger.index, encoder=tiny_dagger.encoder)
    with one_torch_thread():
        without = dagger.retrieve(query_set, size=24,
                                  filters=TaskFilter(exclude_tasks=("ag_news", "samsum")))
        only = dagger.retrieve(query_set, size=12, filters=TaskFilter(include_tasks=("sciq",)))
    assert {it.task for it in without.items}.isdisjoint({"ag_news", "samsum"})
    assert {it.task for it in only.items} == {"sciq"}
