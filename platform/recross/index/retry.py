"""Bounded retries with exponential backoff for calls to a Qdrant server.

Only transport failures and overload answers (connection refused, timeouts, 429/502/503/504)
are retried; a request the server rejected is reported at once. Every write is an upsert with
deterministic ids, so repeating one that may have landed is harmless. Messages name the URL and
never the API key.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

import httpx
from qdrant_client.common.client_exceptions import ResourceExhaustedResponse
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from recross.errors import IndexStoreError

log = logging.getLogger(__name__)
T = TypeVar("T")
_RETRIED_STATUS = {429, 502, 503, 504}
_MAX_WAIT_S = 30.0


def is_transient(exc: BaseException) -> bool:
    """True for failures worth retrying: the server may answer a moment later."""
    if isinstance(exc, ResponseHandlingException):
        return is_transient(exc.source)
    if isinstance(exc, UnexpectedResponse):
        return exc.status_code in _RETRIED_STATUS
    return isinstance(exc, (httpx.TransportError, ResourceExhaustedResponse, ConnectionError,
                            TimeoutError))


def call_with_retries(fn: Callable[[], T], *, what: str, url: str, retries: int,
                      backoff_s: float, sleep: Callable[[float], None] = time.sleep) -> T:
    """Run ``fn``; on a transient failure wait ``backoff_s * 2**attempt`` and try again.

    After ``retries`` retries raise :class:`IndexStoreError` naming ``url``; a non-transient
    server answer (bad request, wrong API key) raises at once.
    """
    for attempt in range(retries + 1):
        try:
            return fn()
        except Exception as exc:
            if isinstance(exc, UnexpectedResponse) and exc.status_code in (401, 403):
                raise IndexStoreError(
                    f"the Qdrant server at {url} refused the request to {what} "
                    f"({exc.status_code}). Fix: set QDRANT_API_KEY to a key valid for this "
                    "server.") from None
            if not is_transient(exc):
                raise
            if attempt == retries:
                raise IndexStoreError(
                    f"the Qdrant server at {url} is unreachable: could not {what} after "
                    f"{retries + 1} attempts ({_describe(exc)}). Fix: start the server or check "
                    "QDRANT_URL and the network; unset QDRANT_URL to use the embedded index."
                ) from None
            wait = min(backoff_s * 2 ** attempt, _MAX_WAIT_S)
            log.warning("Qdrant at %s: %s failed (%s); retry %d/%d in %.1fs", url, what,
                        _describe(exc), attempt + 1, retries, wait)
            sleep(wait)
    raise AssertionError("unreachable")


def _describe(exc: BaseException) -> str:
    source = exc.source if isinstance(exc, ResponseHandlingException) else exc
    if isinstance(source, UnexpectedResponse):
        return f"HTTP {source.status_code}"
    return f"{type(source).__name__}: {source}" if str(source) else type(source).__name__
