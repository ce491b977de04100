"""Lexical collections (BM25, hybrid) on every backend: neighbours, RRF fusion, filters, resume."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from index_helpers import server_api_key_from_env
from recross.config import IndexSettings
from recross.data import Example, UpstreamPool
from recross.errors import IndexStoreError
from recross.index import TaskFilter, build_index, open_index
from recross.index.bm25 import Bm25Encoder
from recross.index.lexical import LexicalPoints, build_hybrid_index, open_lexical_index

BM25 = Bm25Encoder(k=1.2, b=0.75, avg_length=4.0)

# Hand-made pool: "cat" occurs once in d0 (3 terms), d4 (4 terms) and d1 (5 terms) after
# stemming and stopword removal, so BM25 ranks them by length: d0, d4, d1; the others lack it.
DOCS = {
    "d0": ("animals", "the cat sat on the mat"),
    "d1": ("animals", "a dog chased the cat across the yard"),
    "d2": ("news", "stock markets fell sharply today"),
    "d3": ("news", "the central bank raised interest rates"),
    "d4": ("animals", "cats and kittens purr happily"),
}
# Dense vectors of the hybrid case: by dot product with (1, 0) the order is d1, d4, d2, d3, d0.
DENSE = {"d0": 0.1, "d1": 0.9, "d2": 0.5, "d3": 0.3, "d4": 0.7}


def _examples() -> list[Example]:
    return [Example(example_id=i, input=text, answers=("x",), task=task, split="train",
                    template="t", source_index=n, source_task=task)
            for n, (i, (task, text)) in enumerate(DOCS.items())]


def _dense(examples: list[Example]) -> np.ndarray:
    return np.asarray([[DENSE[e.example_id], 0.0] for e in examples], dtype=np.float32)


OpenLexical = Callable[..., Any]


@pytest.fixture
def open_lexical(backend: str, tmp_path: Path, request: pytest.FixtureRequest
                 ) -> Iterator[OpenLexical]:
    """``open_lexical(collection=.., dense_dimension=.., reopen=..)`` on the test's backend."""
    url = request.getfixturevalue("qdrant_server_url") if backend == "server" else None
    suffix = uuid.uuid4().hex[:8]
    opened: list[Any] = []

    def _open(*, collection: str = "lexical", dense_dimension: int | None = None,
              reopen: bool = False) -> Any:
        base: dict[str, Any] = {"backend": backend, "upsert_batch_size": 2, "exact": True}
        if url:
            base.update(url=url, api_key=server_api_key_from_env())
            collection = f"{collection}-{suffix}"
        if backend == "local" and reopen:
            base["local_path"] = Path("qdrant-local")
        index = open_lexical_index(IndexSettings(**base), collection=collection,
                                   encoder_name=BM25.name, dense_dimension=dense_dimension,
                                   home=tmp_path / "home")
        opened.append(index)
        return index

    yield _open
    for index in opened:
        index.close()


def _bm25_points(texts):
    return LexicalPoints(sparse=BM25.documents(texts))


def test_bm25_neighbours_are_the_examples_sharing_the_query_terms_shortest_first(open_lexical):
    index = open_lexical()
    build_index(index, _examples(), _bm25_points, batch_size=2, progress=False)

    cat, bank = index.search_sparse(BM25.queries(["Cat?", "interest rates at the bank"]), k=3)

    assert [h.example_id for h in cat] == ["d0", "d4", "d1"]
    assert cat[0].score > cat[1].score > cat[2].score > 0
    assert [h.example_id for h in bank][:1] == ["d3"] and len(bank) == 1


def test_bm25_query_of_stopwords_only_gets_no_hits(open_lexical):
    index = open_lexical()
    build_index(index, _examples(), _bm25_points, batch_size=5, progress=False)

    assert index.search_sparse(BM25.queries(["the and a"]), k=3) == [[]]


def test_bm25_filters_hold(open_lexical):
    index = open_lexical()
    build_index(index, _examples(), _bm25_points, batch_size=5, progress=False)

    hits = index.search_sparse(BM25.queries(["cat bank"]), k=5,
                               filters=TaskFilter(exclude_tasks=("animals",)))

    assert [h.example_id for h in hits[0]] == ["d3"]


def test_rrf_fusion_returns_the_union_of_both_lists_in_hand_computed_order(open_lexical):
    """Prefetch 3: dense d1, d4, d2 and BM25 d0, d4, d1. RRF (k=60, ranks from 0):
    d1 1/60 + 1/62, d4 2/61, d0 1/60, d2 1/62; d3 is in neither list."""
    examples = _examples()
    hybrid = open_lexical(collection="hybrid", dense_dimension=2)
    hybrid.upsert_records([{"example_id": e.example_id, "task": e.task, "template": e.template,
                            "split": e.split, "source_index": e.source_index}
                           for e in examples],
                          LexicalPoints(BM25.documents([e.input for e in examples]),
                                        _dense(examples)))

    fused = hybrid.search_fused(np.asarray([[1.0, 0.0]], dtype=np.float32),
                                BM25.queries(["cat"]), k=5, prefetch=3, rrf_k=60)[0]

    assert [h.example_id for h in fused] == ["d1", "d4", "d0", "d2"]
    assert [h.score for h in fused] == pytest.approx(
        [1 / 60 + 1 / 62, 2 / 61, 1 / 60, 1 / 62], rel=1e-5)
    animals_out = hybrid.search_fused(np.asarray([[1.0, 0.0]], dtype=np.float32),
                                      BM25.queries(["cat"]), k=5, prefetch=3, rrf_k=60,
                                      filters=TaskFilter(exclude_tasks=("animals",)))[0]
    assert {h.task for h in animals_out} == {"news"}


def test_sparse_build_resumes_after_a_partial_build(open_lexical, tiny_pool):
    """A build stopped after some batches (the index closed, the process gone) continues."""
    examples = tiny_pool.examples
    first = open_lexical(reopen=True)
    build_index(first, examples[:25], _bm25_points, batch_size=10, progress=False)
    first.close()

    resumed = open_lexical(reopen=True)
    report = build_index(resumed, examples, _bm25_points, batch_size=10, progress=False)

    assert (report.skipped, report.written) == (25, len(examples) - 25)
    assert resumed.count() == len(examples)


def test_hybrid_build_copies_the_dense_index_and_resumes(backend, open_lexical, tmp_path):
    examples = _examples()
    pool = UpstreamPool(examples=examples)
    settings = IndexSettings(backend="local" if backend == "local" else "edge")
    dense = open_index(settings, collection="dense", dimension=2, encoder_name="toy",
                       home=tmp_path / "dense-home")
    dense.upsert(examples, _dense(examples))
    hybrid = open_lexical(collection="hybrid", dense_dimension=2)
    hybrid.upsert_records([{"example_id": "d0", "task": "animals", "template": "t",
                            "split": "train", "source_index": 0}],
                          LexicalPoints(BM25.documents(["the cat sat on the mat"]),
                                        _dense(examples[:1])))

    report = build_hybrid_index(hybrid, dense, pool, BM25, batch_size=2, progress=False)
    dense.close()

    assert (report.written, report.skipped, hybrid.count()) == (4, 1, 5)
    top = hybrid.search_fused(np.asarray([[1.0, 0.0]], dtype=np.float32),
                              BM25.queries(["dog"]), k=1, prefetch=5, rrf_k=60)[0]
    assert top[0].example_id == "d1"  # first in both lists


def test_dense_calls_on_a_lexical_collection_fail_clearly(open_lexical):
    index = open_lexical()
    with pytest.raises(IndexStoreError, match="lexical"):
        index.search(np.zeros((1, 2), dtype=np.float32), k=1)
    with pytest.raises(IndexStoreError, match="dense vectors"):
        index.upsert_records([{"example_id": "d0", "task": "a", "template": "t", "split": "s",
                               "source_index": 0}],
                             LexicalPoints(BM25.documents(["x"]), np.zeros((1, 2))))


def test_edge_and_local_mode_return_the_same_bm25_neighbours(tmp_path, tiny_pool):
    examples = tiny_pool.examples
    queries = BM25.queries([e.input for e in examples[::9]])
    results = []
    for backend in ("edge", "local"):
        with open_lexical_index(IndexSettings(backend=backend), collection="same",
                                encoder_name=BM25.name, dense_dimension=None,
                                home=tmp_path / backend) as index:
            build_index(index, examples, _bm25_points, batch_size=32, progress=False)
            results.append([[(h.example_id, round(h.score, 3)) for h in hits]
                            for hits in index.search_sparse(queries, k=5)])

    assert results[0] == results[1]
    assert any(results[0])


def test_sparse_build_killed_mid_way_resumes_from_the_flushed_points(tmp_path, tiny_pool,
                                                                    data_dir):
    """A SIGKILL between batches (no cleanup at all) loses nothing an upsert acknowledged."""
    home = tmp_path / "home"
    script = textwrap.dedent(f"""
        import os, signal
        from pathlib import Path
        from recross.config import IndexSettings, load_settings
        from recross.data import load_upstream_pool
        from recross.index import build_index
        from recross.index.bm25 import Bm25Encoder
        from recross.index.lexical import LexicalPoints, open_lexical_index

        settings = load_settings("tiny", environ={{}})
        pool = load_upstream_pool(Path({str(data_dir)!r}), tasks=settings.data.upstream_tasks,
                                  cap_per_task=settings.data.upstream_cap_per_task)
        bm25 = Bm25Encoder(k=1.2, b=0.75, avg_length=4.0)
        calls = []

        def encode_until_killed(texts):
            calls.append(len(texts))
            if len(calls) == 4:
                os.kill(os.getpid(), signal.SIGKILL)
            return LexicalPoints(bm25.documents(texts))

        index = open_lexical_index(IndexSettings(), collection="bm25", encoder_name=bm25.name,
                                   dense_dimension=None, home=Path({str(home)!r}))
        build_index(index, pool.examples, encode_until_killed, batch_size=10, progress=False)
    """)
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                           check=False, timeout=120)
    assert child.returncode == -9, child.stderr

    with open_lexical_index(IndexSettings(), collection="bm25", encoder_name=BM25.name,
                            dense_dimension=None, home=home) as index:
        assert index.count() == 30
        report = build_index(index, tiny_pool.examples, _bm25_points, batch_size=10,
                             progress=False)
        assert (report.skipped, report.written) == (30, len(tiny_pool) - 30)
        assert index.count() == len(tiny_pool)
