"""Errors a user meets: an unreachable server, a shard open elsewhere, names that collide."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest
from qdrant_client.http.exceptions import UnexpectedResponse
from recross.config import IndexSettings, load_settings
from recross.errors import IndexStoreError
from recross.index import collection_name, open_index
from recross.index.retry import call_with_retries

CLOSED_PORT_URL = "https://127.0.0.1:9"  # the discard port: nothing listens there


def test_unreachable_server_fails_after_bounded_retries_naming_the_url_not_the_key(tmp_path):
    settings = IndexSettings(backend="server", url=CLOSED_PORT_URL, api_key="s3cret-key",
                             retries=2, retry_backoff_s=0.01, timeout_s=2)
    started = time.monotonic()
    with pytest.raises(IndexStoreError) as caught:
        open_index(settings, collection="pool", dimension=8, encoder_name="e", home=tmp_path)
    message = str(caught.value)
    assert CLOSED_PORT_URL in message and "after 3 attempts" in message
    assert "s3cret-key" not in message
    assert time.monotonic() - started < 10


def test_retries_back_off_exponentially_then_succeed():
    waits: list[float] = []
    failures = iter([httpx.ConnectError("refused"), httpx.ReadTimeout("slow")])

    def flaky() -> str:
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return "ok"

    result = call_with_retries(flaky, what="count", url="http://q:6333", retries=3,
                               backoff_s=0.5, sleep=waits.append)

    assert result == "ok" and waits == [0.5, 1.0]


def test_rejected_requests_are_not_retried():
    waits: list[float] = []

    def bad_request() -> None:
        raise UnexpectedResponse(400, "Bad Request", b"{}", httpx.Headers())

    with pytest.raises(UnexpectedResponse):
        call_with_retries(bad_request, what="search", url="http://q:6333", retries=3,
                          backoff_s=0.5, sleep=waits.append)
    assert waits == []


def test_wrong_api_key_is_reported_with_the_fix():
    def unauthorized() -> None:
        raise UnexpectedResponse(401, "Unauthorized", b"{}", httpx.Headers())

    with pytest.raises(IndexStoreError, match="refused.*QDRANT_API_KEY"):
        call_with_retries(unauthorized, what="search", url="http://q:6333", retries=3,
                          backoff_s=0.5, sleep=lambda s: None)


def test_qdrant_url_in_the_environment_selects_the_server_backend():
    settings = load_settings("tiny", environ={"QDRANT_URL": "http://qdrant:6333"})
    assert (settings.index.backend, settings.index.url) == ("server", "http://qdrant:6333")


def test_second_process_opening_the_same_edge_shard_gets_a_clear_error(tmp_path):
    home = tmp_path / "home"
    index = open_index(IndexSettings(), collection="pool", dimension=8, encoder_name="e",
                       home=home)
    script = textwrap.dedent(f"""
        from pathlib import Path
        from recross.config import IndexSettings
        from recross.errors import IndexStoreError
        from recross.index import open_index
        try:
            open_index(IndexSettings(), collection="pool", dimension=8, encoder_name="e",
                       home=Path({str(home)!r}))
        except IndexStoreError as exc:
            print(exc)
            raise SystemExit(3)
    """)
    try:
        child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                           check=False, timeout=60)
    finally:
        index.close()
    assert child.returncode == 3, child.stderr
    assert "already open in another process" in child.stdout

    reopened = open_index(IndexSettings(), collection="pool", dimension=8, encoder_name="e",
                          home=home)  # the lock went with the close
    reopened.close()


def test_second_handle_in_the_same_process_gets_the_same_error(tmp_path):
    first = open_index(IndexSettings(), collection="pool", dimension=8, encoder_name="e",
                       home=tmp_path)
    try:
        with pytest.raises(IndexStoreError, match="already open"):
            open_index(IndexSettings(), collection="pool", dimension=8, encoder_name="e",
                       home=tmp_path)
    finally:
        first.close()


def test_local_mode_folder_open_twice_gets_a_clear_error(tmp_path):
    settings = IndexSettings(backend="local", local_path=Path("local"))
    first = open_index(settings, collection="pool", dimension=8, encoder_name="e", home=tmp_path)
    try:
        with pytest.raises(IndexStoreError, match="already open"):
            open_index(settings, collection="pool", dimension=8, encoder_name="e", home=tmp_path)
    finally:
        first.close()


def test_collection_names_are_safe_stable_and_distinct_per_encoder_and_pool():
    name = collection_name("packaged:all-MiniLM-L6-v2", "pool-3f2a")
    assert name == collection_name("packaged:all-MiniLM-L6-v2", "pool-3f2a")
    assert name != collection_name("build:minilm-seq2seq", "pool-3f2a")
    assert name != collection_name("packaged:all-MiniLM-L6-v2", "pool-9999")
    assert all(c.isalnum() or c in "._-" for c in name)
    long_a, long_b = (collection_name("org/" + "x" * 200 + suffix, "pool") for suffix in "ab")
    assert len(long_a) <= 120 and long_a != long_b


def test_unsafe_collection_name_is_rejected(tmp_path):
    with pytest.raises(IndexStoreError, match="collection_name"):
        open_index(IndexSettings(), collection="../escape", dimension=8, encoder_name="e",
                   home=tmp_path)


def test_embedded_collections_lists_what_was_built_with_its_encoder(tmp_path):
    from recross.index.edge import embedded_collections

    assert embedded_collections(tmp_path) == {}
    for name, dimension in (("pool-a", 8), ("pool-b", 16)):
        open_index(IndexSettings(), collection=name, dimension=dimension,
                   encoder_name=f"enc-{name}", home=tmp_path).close()
    found = embedded_collections(tmp_path)
    assert {n: (m.encoder_name, m.dimension) for n, m in found.items()} == {
        "pool-a": ("enc-pool-a", 8), "pool-b": ("enc-pool-b", 16)}
