"""Every way the platform hides a secret before it is printed, logged or stored.

Credentials travel inside URIs (``postgresql://user:password@db``), as ``api_key=...`` pairs and
as bare values (the Qdrant API key, MLflow's password or token in the environment). One module
knows all three, so a new place that shows text has one function to call.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from recross.config import Settings

_URI_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]+@")
_KEY_VALUE_SECRET = re.compile(
    r"(?P<key>\b[\w-]*?(?:api[_-]?key|password|passwd|token|secret)\b[\"']?\s*[=:]\s*[\"']?)"
    r"[^\s&\"',}]+", re.IGNORECASE)
# Environment variables whose values are secrets wherever they show up.
SECRET_VARIABLES: tuple[str, ...] = (
    "QDRANT_API_KEY", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN")


def hide_uri_credentials(text: str) -> str:
    """``http://user:password@host`` -> ``http://***@host`` wherever a URI appears in ``text``.

    >>> hide_uri_credentials("see http://bob:pw@example.org/x")
    'see http://***@example.org/x'
    """
    return _URI_CREDENTIALS.sub(r"\g<scheme>***@", text)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Hide ``user:password@`` in URIs, ``api_key=...``-style pairs and the given secret values.

    >>> redact("postgresql://bob:hunter2@db:5432/mlflow?api_key=abc")
    'postgresql://***@db:5432/mlflow?api_key=***'
    """
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, "***")
    text = hide_uri_credentials(text)
    return _KEY_VALUE_SECRET.sub(r"\g<key>***", text)


def secret_values(settings: Settings) -> list[str]:
    """Secret values that may show up verbatim (not only inside a URI) and must be hidden."""
    found = [os.environ.get(name, "") for name in SECRET_VARIABLES]
    if settings.index.api_key is not None:
        found.append(settings.index.api_key.get_secret_value())
    for uri in (settings.tracking.tracking_uri, settings.index.url):
        if uri and (password := urlsplit(uri).password):
            found.append(password)
    return found
