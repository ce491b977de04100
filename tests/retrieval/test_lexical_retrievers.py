"""bm25, hybrid, recross-hybrid and dsir on the real tiny pool: |R|, pooling, filters for all.

The dense side is a real Edge index of the tiny pool built with a deterministic word-hashing
encoder (a stand-in for M: what is tested is retrieval, not the encoder).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np
import pytest
from recross.config import IndexSettings, LexicalSettings, RetrievalSettings
from recross.data import QuerySet
from recross.errors import ConfigError, IndexStoreError
from recross.index import build_index, open_index
from recross.index.bm25 import Bm25Encoder
from recross.index.filters import TaskFilter
from recross.index.lexical import (
    LexicalPoints,
    build_hybrid_index,
    hybrid_contents,
    open_lexical_index,
)
from recross.retrieval import RETRIEVERS, make_retriever

LEXICAL = LexicalSettings()
BM25 = Bm25Encoder.from_settings(LEXICAL)
SIZE = 24


class WordHashEncoder:
    """Mean of signed hashed word one-hots, unit length: deterministic, no model."""

    name = "test:word-hash-32"
    dimension = 32

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
                out[row, digest[0] % self.dimension] += 1.0 if digest[1] & 1 else -1.0
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-6)


class PreferShortInputs:
    """A stand-in cross-encoder: shorter candidates score higher (a known, query-free order)."""

    def score(self, queries, candidates) -> np.ndarray:
        return np.tile(-np.asarray([len(c) for c in candidates], float), (len(queries), 1))


@pytest.fixture(scope="module")
def parts(tiny_pool, tmp_path_factory):
    """The components of every retriever, over one home with all three collections built."""
    home = tmp_path_factory.mktemp("lexical-home")
    settings = IndexSettings(exact=True)
    encoder = WordHashEncoder()
    dense = open_index(settings, collection="dense", dimension=encoder.dimension,
                       encoder_name=encoder.name, home=home)
    build_index(dense, tiny_pool.examples, encoder.encode, batch_size=32, progress=False)
    bm25 = open_lexical_index(settings, collection="bm25", encoder_name=BM25.name,
                              dense_dimension=None, home=home)
    build_index(bm25, tiny_pool.examples, lambda t: LexicalPoints(BM25.documents(t)),
                batch_size=32, progress=False)
    hybrid = open_lexical_index(settings, collection="hybrid",
                                encoder_name=hybrid_contents(BM25.name, encoder.name),
                                dense_dimension=encoder.dimension, home=home)
    build_hybrid_index(hybrid, dense, tiny_pool, BM25, batch_size=32, progress=False)
    with_dense = {"index": dense, "encoder": encoder}
    with_hybrid = {"index": hybrid, "encoder": encoder}
    yield {"sbert": with_dense, "recross-dagger": with_dense,
           "recross": {**with_dense, "scorer": PreferShortInputs()},
           "bm25": {"index": bm25}, "hybrid": with_hybrid,
           "recross-hybrid": {**with_hybrid, "scorer": PreferShortInputs()},
           "dsir": {"dsir_cache": home / "dsir.npz"}}
    for index in (dense, bm25, hybrid):
        index.close()


def _retriever(name, tiny_pool, parts, **retrieval):
    return make_retriever(name, pool=tiny_pool, settings=RetrievalSettings(**retrieval),
                          lexical=LEXICAL, **parts.get(name, {}))


def _queries(tiny_pool, task: str, target: str = "piqa") -> QuerySet:
    inputs = [e.input for e in tiny_pool.examples if e.task == task][:4]
    return QuerySet(task=target, seed=0, inputs=tuple(inputs))


@pytest.mark.parametrize("name", [r for r in RETRIEVERS if r != "none"])
def test_every_retriever_respects_filters_and_keeps_the_target_out(name, tiny_pool, parts):
    queries = _queries(tiny_pool, "samsum", target="sciq")  # sciq sits in the pool
    retrieved = _retriever(name, tiny_pool, parts).retrieve(
        queries, size=SIZE, filters=TaskFilter(exclude_tasks=("ag_news",)))
    assert len(retrieved) == SIZE and retrieved.retriever == name
    assert {it.task for it in retrieved.items}.isdisjoint({"ag_news", "sciq"})


def test_bm25_finds_the_queries_own_task_and_pools_k_per_query(tiny_pool, parts):
    retrieved = _retriever("bm25", tiny_pool, parts).retrieve(_queries(tiny_pool, "samsum"),
                                                              size=SIZE)
    assert [it.query_index for it in retrieved.items[:4]] == [0, 1, 2, 3]
    assert {it.rank for it in retrieved.items} == set(range(1, SIZE // 4 + 1))
    # a query's own text is its best BM25 match: rank 1 of query i is the query example itself
    queries = _queries(tiny_pool, "samsum").inputs
    assert [it.example.input for it in retrieved.items[:4]] == list(queries)


def test_hybrid_ranks_fuse_dense_and_bm25(tiny_pool, parts):
    retrieved = _retriever("hybrid", tiny_pool, parts).retrieve(_queries(tiny_pool, "sciq"),
                                                                size=8)
    # rank 1 in both lists (the query's own text) scores 2 / (rrf_k + 0)
    assert retrieved.items[0].score == pytest.approx(2 / LEXICAL.rrf_k, rel=1e-5)
    assert retrieved.items[0].example.input == _queries(tiny_pool, "sciq").inputs[0]


def test_recross_hybrid_reranks_hybrid_candidates(tiny_pool, parts):
    retrieved = _retriever("recross-hybrid", tiny_pool, parts, upsample_ratio=2.0).retrieve(
        _queries(tiny_pool, "sciq"), size=8)
    assert len(retrieved.candidates) == 16 and retrieved.retriever == "recross-hybrid"
    lengths = [len(it.example.input) for it in retrieved.items]
    assert lengths == sorted(lengths)


def test_mmr_setting_diversifies_dense_neighbours(tiny_pool, parts):
    queries = _queries(tiny_pool, "sciq")
    plain = _retriever("recross-dagger", tiny_pool, parts).retrieve(queries, size=SIZE)
    diverse = _retriever("recross-dagger", tiny_pool, parts, mmr=True,
                         mmr_diversity=0.9).retrieve(queries, size=SIZE)
    assert len(diverse) == SIZE
    assert diverse.example_ids != plain.example_ids
    # the first pick of MMR is still the nearest neighbour
    assert diverse.items[0].example.example_id == plain.items[0].example.example_id


def test_bm25_retriever_refuses_a_collection_with_other_bm25_settings(tiny_pool, parts):
    with pytest.raises(IndexStoreError, match="not comparable"):
        make_retriever("bm25", pool=tiny_pool, settings=RetrievalSettings(),
                       lexical=LexicalSettings(bm25_b=0.5), **parts["bm25"])


def test_lexical_retrievers_name_what_they_miss(tiny_pool):
    with pytest.raises(ConfigError, match="BM25 collection"):
        make_retriever("bm25", pool=tiny_pool, settings=RetrievalSettings())
    with pytest.raises(ConfigError, match="hybrid collection"):
        make_retriever("hybrid", pool=tiny_pool, settings=RetrievalSettings())


def test_a_dense_index_is_not_taken_for_a_lexical_collection_nor_the_reverse(tiny_pool, parts):
    with pytest.raises(IndexStoreError, match="searches a lexical collection"):
        make_retriever("bm25", pool=tiny_pool, settings=RetrievalSettings(),
                       index=parts["sbert"]["index"])
    with pytest.raises(IndexStoreError, match="searches a dense collection"):
        make_retriever("recross-dagger", pool=tiny_pool, settings=RetrievalSettings(),
                       index=parts["hybrid"]["index"], encoder=parts["hybrid"]["encoder"])
