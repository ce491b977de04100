"""`recross index export` -> `recross index import` -> `recross retrieve`, all through the CLI.

The tiny profile's SBERT index is built once in one home (Edge); the export is imported into a
fresh home on each backend, and there the imported collection must hold an HNSW graph (Edge),
have indexing switched on (server), and give the same retrieval as the source.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from index_helpers import server_api_key_from_env
from recross.config import Settings, load_settings
from recross.index import open_index, read_manifest
from recross.pipeline import upstream

pytestmark = pytest.mark.slow
QUERIES = ["What is the capital of France?", "Is this review positive? I loved it.",
           "Summarize: the meeting moved to Monday."]


def recross(home: Path, *args: str, config: Path | None = None) -> str:
    env = {**os.environ, "RECROSS_HOME": str(home), "RECROSS_PROFILE": "tiny",
           "HF_HUB_OFFLINE": "1"}
    if config is not None:
        env["RECROSS_CONFIG"] = str(config)
    done = subprocess.run([sys.executable, "-m", "recross.cli", *args], env=env,
                          check=False, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def retrieved_ids(home: Path, queries: Path, out: Path, config: Path | None = None) -> list[str]:
    recross(home, "retrieve", "--queries", str(queries), "--retriever", "sbert", "--size", "12",
            "--out", str(out), config=config)
    return [json.loads(line)["example_id"] for line in out.read_text().splitlines()]


@dataclass(frozen=True)
class Source:
    """The exported Edge home: where things lie and what its retrieval returned."""

    root: Path
    data_dir: Path
    queries: Path
    export: Path
    ids: list[str]


@pytest.fixture(scope="module")
def source(tmp_path_factory, data_dir) -> Source:
    """An Edge home with the tiny SBERT index built, its export file and its retrieval."""
    root = tmp_path_factory.mktemp("transfer-cli")
    home = root / "source"
    settings = load_settings("tiny", overrides={"home": str(home),
                                                "data": {"data_dir": str(data_dir)}}, environ={})
    pool, _ = upstream.write_pool_table(settings)
    upstream.ensure_upstream_model(settings, pool, progress=False)  # `retrieve` fits inputs to M
    upstream.build_pool_index(settings, pool, "sbert", progress=False)
    queries = root / "queries.txt"
    queries.write_text("\n".join(QUERIES) + "\n")
    export = root / "sbert.parquet"
    assert "exported 72 points" in recross(home, "index", "export", "--kind", "sbert",
                                           "--out", str(export))
    return Source(root=root, data_dir=data_dir, queries=queries, export=export,
                  ids=retrieved_ids(home, queries, root / "source-retrieved.jsonl"))


def _target(backend: str, root: Path, data_dir: Path, request) -> tuple[Settings, Path]:
    index: dict[str, object] = {"backend": backend}
    if backend == "local":
        index["local_path"] = "qdrant-local"  # on disk: the index outlives each command
    if backend == "server":  # the shared server: the collection is deleted afterwards
        index["url"] = request.getfixturevalue("qdrant_server_url")
        index["api_key"] = server_api_key_from_env()
        collection = read_manifest(root / "sbert.parquet").collection
        request.addfinalizer(lambda: _delete_server_collection(index, collection))
    config = root / f"{backend}.yaml"
    config.write_text(yaml.safe_dump({"index": index, "data": {"data_dir": str(data_dir)}}))
    settings = load_settings("tiny", config, overrides={"home": str(root / backend)}, environ={})
    shutil.copytree(root / "source" / "models", Path(settings.home) / "models")  # M, not the index
    return settings, config


@pytest.mark.parametrize("backend", ["edge", "local",
                                     pytest.param("server", marks=pytest.mark.server)])
def test_an_imported_index_is_indexed_and_retrieves_what_the_source_did(backend, source: Source,
                                                                        request):
    root, export = source.root, source.export
    settings, config = _target(backend, root, source.data_dir, request)
    home = Path(settings.home)

    out = recross(home, "index", "import", "--file", str(export), config=config)
    again = recross(home, "index", "import", "--file", str(export), config=config)

    manifest = read_manifest(export)
    assert "imported 72 points (0 already present)" in out
    assert "imported 0 points (72 already present)" in again
    with open_index(settings.index, collection=manifest.collection, dimension=manifest.dimension,
                    encoder_name=manifest.encoder_name, home=home,
                    distance=manifest.distance) as index:
        info = index.info()
        assert info.points == 72
        if backend == "edge":
            assert info.indexed_vectors == 72  # HNSW built: before the fix this was 0
        elif backend == "local":
            assert info.indexed_vectors is None  # local mode is exact search only: no HNSW
        else:
            _assert_server_indexing_enabled(settings, manifest.collection)
    assert retrieved_ids(home, source.queries, root / f"{backend}.jsonl", config) == source.ids


def _assert_server_indexing_enabled(settings: Settings, collection: str) -> None:
    """A server collection is created with indexing off; an import must switch it back on."""
    from qdrant_client import QdrantClient

    with QdrantClient(url=settings.index.url, api_key=server_api_key_from_env()) as client:
        details = client.get_collection(collection)
    assert details.config.optimizer_config.indexing_threshold, "indexing still off"
    assert str(details.status).lower().endswith("green")


def _delete_server_collection(index: dict[str, object], collection: str) -> None:
    from qdrant_client import QdrantClient

    with QdrantClient(url=str(index["url"]), api_key=server_api_key_from_env()) as client:
        client.delete_collection(collection)
