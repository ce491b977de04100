"""Export to a portable parquet file and import elsewhere: Edge -> file -> local mode."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest
from index_helpers import random_vectors, synthetic_examples
from recross.config import IndexSettings
from recross.errors import IndexStoreError
from recross.index import TaskFilter, export_index, import_index, open_index, read_manifest

DIM = 12


@pytest.fixture
def edge_index(tmp_path):
    examples = synthetic_examples(200)
    index = open_index(IndexSettings(upsert_batch_size=64), collection="pool", dimension=DIM,
                       encoder_name="test:toy", home=tmp_path / "edge-home")
    index.upsert(examples, random_vectors(200, DIM))
    yield index
    index.close()


def test_edge_export_imported_into_local_mode_gives_identical_search_results(edge_index,
                                                                           tmp_path):
    path = tmp_path / "export" / "pool.parquet"
    assert export_index(edge_index, path, progress=False) == 200

    local = open_index(IndexSettings(backend="local"), collection="pool", dimension=DIM,
                       encoder_name="test:toy", home=tmp_path / "local-home")
    report = import_index(local, path, progress=False)
    queries = random_vectors(5, DIM, seed=9)
    for filters in (None, TaskFilter(exclude_tasks=("sciq",))):
        expected = edge_index.search(queries, k=15, filters=filters, exact=True)
        got = local.search(queries, k=15, filters=filters, exact=True)
        assert [[h.example_id for h in row] for row in got] == \
            [[h.example_id for h in row] for row in expected]
        assert [h.score for row in got for h in row] == \
            pytest.approx([h.score for row in expected for h in row], rel=1e-5)
    assert (report.total, report.written, report.skipped) == (200, 200, 0)
    assert local.count() == 200
    assert import_index(local, path, progress=False).skipped == 200  # resumable, no duplicates
    local.close()


def test_export_file_is_plain_parquet_with_the_manifest(edge_index, tmp_path):
    path = tmp_path / "pool.parquet"
    export_index(edge_index, path, progress=False)

    table = pq.read_table(path)
    manifest = read_manifest(path)

    assert table.num_rows == 200
    assert table.column_names == ["example_id", "task", "template", "split", "source_index",
                                  "vector"]
    assert (manifest.collection, manifest.encoder_name, manifest.dimension, manifest.points) == \
        ("pool", "test:toy", DIM, 200)


def test_import_into_a_collection_of_another_encoder_fails_before_writing(edge_index, tmp_path):
    path = tmp_path / "pool.parquet"
    export_index(edge_index, path, progress=False)
    with open_index(IndexSettings(backend="local"), collection="pool", dimension=DIM,
                    encoder_name="test:other", home=tmp_path) as other:
        with pytest.raises(IndexStoreError, match="built by encoder 'test:toy'"):
            import_index(other, path, progress=False)
        assert other.count() == 0


def test_import_of_a_file_that_is_not_an_export_is_a_clear_error(tmp_path):
    path = tmp_path / "not.parquet"
    path.write_text("hello")
    with open_index(IndexSettings(backend="local"), collection="pool", dimension=DIM,
                    encoder_name="test:toy", home=tmp_path) as index, \
            pytest.raises(IndexStoreError, match="not a readable parquet"):
        import_index(index, path, progress=False)
