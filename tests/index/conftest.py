"""Backends for the index contract suite, a deterministic toy encoder and synthetic examples.

Every contract test runs on each backend: Qdrant Edge, qdrant-client local mode, and a Qdrant
server (``QDRANT_URL`` when set, else a testcontainers container where a Docker engine answers;
otherwise the server cases skip and the header says why).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from index_helpers import (
    QDRANT_IMAGE,
    server_api_key_from_env,
    server_unavailable_reason,
    server_url_from_env,
)
from recross.config import IndexSettings
from recross.index import ExampleIndex, open_index

BACKENDS = ("edge", "local", "server")


def pytest_report_header(config: pytest.Config) -> str:
    reason = server_unavailable_reason()
    if reason:
        return f"index backends: edge, local; server cases skip ({reason})"
    source = server_url_from_env() or f"testcontainers {QDRANT_IMAGE}"
    return f"index backends: edge, local, server ({source})"


@pytest.fixture(scope="session")
def qdrant_server_url() -> Iterator[str]:
    reason = server_unavailable_reason()
    if reason:
        pytest.skip(reason)
    url = server_url_from_env()
    if url:
        yield url
        return
    from testcontainers.community.qdrant import QdrantContainer

    with QdrantContainer(image=QDRANT_IMAGE) as container:
        yield f"http://{container.rest_host_address}"


OpenIndex = Callable[..., ExampleIndex]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def open_test_index(backend: str, tmp_path: Path,
                    request: pytest.FixtureRequest) -> Iterator[OpenIndex]:
    """``open_test_index(dimension=.., encoder_name=.., collection=.., reopen=.., **settings)``.

    Calls share one home / server, so reopening a collection sees the same data. Local mode
    runs in memory unless the test will ``reopen`` the index: its on-disk store commits every
    point to sqlite one by one, slow enough to dominate a test. Indexes left open are closed,
    and server collections deleted, at teardown.
    """
    server_url = request.getfixturevalue("qdrant_server_url") if backend == "server" else None
    suffix = uuid.uuid4().hex[:8]
    opened: list[ExampleIndex] = []
    created: set[str] = set()

    def _open(*, dimension: int = 16, encoder_name: str = "test:toy", collection: str = "pool",
              reopen: bool = False, **overrides: Any) -> ExampleIndex:
        base: dict[str, Any] = {"backend": backend, "upsert_batch_size": 64}
        if backend == "server":
            base["url"] = server_url
            base["api_key"] = server_api_key_from_env()
            collection = f"{collection}-{suffix}"
            created.add(collection)
        if backend == "local" and reopen:
            base["local_path"] = Path("qdrant-local")
        index = open_index(IndexSettings(**{**base, **overrides}), collection=collection,
                           dimension=dimension, encoder_name=encoder_name, home=tmp_path / "home")
        opened.append(index)
        return index

    yield _open
    for index in opened:
        index.close()
    if server_url and created:
        from qdrant_client import QdrantClient

        client = QdrantClient(url=server_url, api_key=server_api_key_from_env())
        for name in created:
            client.delete_collection(name)
        client.close()
