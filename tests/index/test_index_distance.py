"""Each index scores by its own distance (dot, cosine, euclid), and hits are "higher is nearer".

Euclid is what the reference searched M's index with (faiss.IndexFlatL2); Qdrant returns its
distance (smaller is nearer), which the index turns into a negated distance in one place.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from index_helpers import random_vectors, synthetic_examples
from recross.config import IndexSettings
from recross.errors import IndexStoreError
from recross.index import collection_name, export_index, import_index, open_index

DIM, N = 16, 300
BACKENDS = ("edge", "local")


def _open(tmp_path: Path, backend: str, distance: str, *, on_disk: bool = False):
    # local mode in memory unless reopened: its disk store commits points to sqlite one by one
    settings = IndexSettings(backend=backend, upsert_batch_size=64,
                             local_path=Path("local") if on_disk else None,
                             hnsw_ef=256, full_scan_threshold_kb=1)
    return open_index(settings, collection=f"pool-{distance}", dimension=DIM, encoder_name="e",
                      home=tmp_path, distance=distance)


def _filled(tmp_path: Path, backend: str, distance: str):
    index = _open(tmp_path, backend, distance)
    # norms spread over 0.2..5 so inner product, cosine and L2 rank differently
    vectors = random_vectors(N, DIM) * np.linspace(0.2, 5.0, N, dtype=np.float32)[:, None]
    examples = synthetic_examples(N)
    index.upsert(examples, vectors)
    index.optimize()
    return index, vectors, examples


def _expected(distance: str, vectors: np.ndarray, query: np.ndarray) -> np.ndarray:
    if distance == "euclid":
        return -np.linalg.norm(vectors - query, axis=1)
    if distance == "cosine":
        return (vectors @ query) / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(query))
    return vectors @ query


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("distance", ["dot", "cosine", "euclid"])
def test_hits_rank_by_the_collection_distance_with_higher_scores_nearer(tmp_path, backend,
                                                                        distance):
    index, vectors, examples = _filled(tmp_path, backend, distance)
    queries = random_vectors(5, DIM, seed=7) * 2.0
    for query, hits in zip(queries, index.search(queries, k=10, exact=True)):
        expected = _expected(distance, vectors, query)
        best = np.argsort(-expected)[:10]
        assert [h.example_id for h in hits] == [examples[i].example_id for i in best]
        np.testing.assert_allclose([h.score for h in hits], expected[best], rtol=1e-4, atol=1e-4)
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    index.close()


def test_euclid_hnsw_on_edge_agrees_with_exact_search(tmp_path):
    index, _, _ = _filled(tmp_path, "edge", "euclid")
    assert index.info().indexed_vectors == N  # optimize() built the graph
    queries = random_vectors(20, DIM, seed=3)
    exact = index.search(queries, k=10, exact=True)
    approximate = index.search(queries, k=10, exact=False)
    recall = np.mean([len({h.example_id for h in a} & {h.example_id for h in e}) / 10
                      for a, e in zip(approximate, exact)])
    assert recall >= 0.95
    index.close()


def test_local_mode_euclid_agrees_with_edge_exact(tmp_path):
    edge, _, _ = _filled(tmp_path / "edge", "edge", "euclid")
    local, _, _ = _filled(tmp_path / "local", "local", "euclid")
    queries = random_vectors(5, DIM, seed=11)
    for a, b in zip(edge.search(queries, k=8, exact=True), local.search(queries, k=8)):
        assert [h.example_id for h in a] == [h.example_id for h in b]
    edge.close()
    local.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_reopening_a_collection_with_another_distance_is_refused(tmp_path, backend):
    _open(tmp_path, backend, "dot", on_disk=backend == "local").close()
    settings = IndexSettings(backend=backend,
                             local_path=Path("local") if backend == "local" else None)
    with pytest.raises(IndexStoreError, match="scores by 'dot', not 'euclid'"):
        open_index(settings, collection="pool-dot", dimension=DIM, encoder_name="e",
                   home=tmp_path, distance="euclid")


def test_each_distance_names_its_own_collection():
    names = {collection_name("enc", "pool", d) for d in ("dot", "cosine", "euclid")}
    assert len(names) == 3 and all(n.endswith(("__dot", "__cosine", "__euclid")) for n in names)


def test_an_export_keeps_its_distance_and_refuses_a_collection_of_another(tmp_path):
    source, _, _ = _filled(tmp_path / "a", "edge", "euclid")
    path = tmp_path / "export.parquet"
    export_index(source, path, progress=False)
    source.close()
    same = _open(tmp_path / "b", "edge", "euclid")
    assert import_index(same, path, progress=False).written == N
    same.close()
    other = _open(tmp_path / "c", "edge", "dot")
    with pytest.raises(IndexStoreError, match="scores by 'euclid', not 'dot'"):
        import_index(other, path, progress=False)
    other.close()
