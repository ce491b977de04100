"""Services that accept a connection and then hang or hang up: bounded retries, a clear error.

A refused port is covered in tests/index/test_index_errors.py and tests/test_tracking.py; here
the port answers the TCP handshake and then stalls (a hung server) or closes the connection (a
server dying mid-request). With no Qdrant server on this machine, resuming a partial server
collection is proven on the embedded backend by test_kill_resume (same ``build_index``).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from recross.config import IndexSettings, load_settings
from recross.errors import IndexStoreError, TrackingError
from recross.index import open_index


@contextmanager
def misbehaving_server(mode: str) -> Iterator[tuple[str, list[socket.socket]]]:
    """``http://127.0.0.1:PORT`` whose connections are held open unanswered (``stall``) or
    closed at once (``hang-up``); yields the URL and the accepted connections."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []

    def serve() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return  # listener closed
            if mode == "hang-up":
                connection.close()
            accepted.append(connection)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", accepted
    finally:
        listener.close()
        thread.join(timeout=5)
        for connection in accepted:
            connection.close()


@pytest.mark.parametrize("mode", ["stall", "hang-up"])
def test_qdrant_server_that_hangs_fails_after_bounded_retries_with_the_fix(mode, tmp_path: Path):
    with misbehaving_server(mode) as (url, accepted):
        settings = IndexSettings(backend="server", url=url, retries=2, retry_backoff_s=0.05,
                                 timeout_s=1)
        started = time.monotonic()
        with pytest.raises(IndexStoreError) as caught:
            open_index(settings, collection="pool", dimension=8, encoder_name="e", home=tmp_path)
        elapsed = time.monotonic() - started

    message = str(caught.value)
    assert f"the Qdrant server at {url} is unreachable" in message
    assert "after 3 attempts" in message and "Fix: start the server" in message
    assert len(accepted) >= 3  # every attempt reached the server: these were retries
    assert elapsed < 3 * (settings.timeout_s + 1) + 1  # bounded: timeouts plus short backoff


def test_mlflow_server_that_hangs_fails_within_the_health_timeout(tmp_path: Path):
    with misbehaving_server("stall") as (url, _):
        settings = load_settings("tiny", overrides={"home": str(tmp_path / "home"),
                                                    "tracking": {"tracking_uri": url}},
                                 environ={})
        started = time.monotonic()
        from recross.tracking import Tracker

        with pytest.raises(TrackingError, match="unreachable.*Fix"):
            Tracker(settings)
    assert time.monotonic() - started < 15
