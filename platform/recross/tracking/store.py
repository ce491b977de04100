"""Which MLflow store a run writes to, checked up front, and MLflow failures as clear errors."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from recross.config import Settings
from recross.errors import TrackingError
from recross.paths import StatePaths
from recross.redaction import redact

# MLflow prints "View run ... at <tracking URI>" when a run ends on a server store; that URI may
# carry user:password@. We print our own redacted link instead (``Tracker.run_url``).
os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"

STORE_FIX = ("Fix: check that MLFLOW_TRACKING_URI points at a reachable MLflow server or a "
             "writable database, and that the run still exists.")
_HEALTH_TIMEOUT_S = 5.0


def tracking_uri(settings: Settings) -> str:
    """``settings.tracking.tracking_uri`` (set from ``MLFLOW_TRACKING_URI`` by ``load_settings``),
    else ``sqlite:///<home>/mlflow.db`` with an absolute path.

    The process environment is not read here: MLflow's own ``set_tracking_uri`` writes it, so
    it would leak one store's URI into the next settings object.
    """
    uri = settings.tracking.tracking_uri
    if uri:
        # SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3, which is not installed; the
        # project ships psycopg2, so name that driver instead of failing on a missing module.
        if uri.startswith("postgresql://"):
            uri = "postgresql+psycopg2://" + uri.removeprefix("postgresql://")
        return uri
    return f"sqlite:///{StatePaths(settings.home.resolve()).mlflow_db}"


def is_server(uri: str) -> bool:
    return urlsplit(uri).scheme in ("http", "https", "databricks")


def _sqlite_path(uri: str) -> Path | None:
    if not uri.startswith("sqlite:///"):
        return None
    rest = uri.removeprefix("sqlite:///").split("?", 1)[0]
    return None if rest in ("", ":memory:") else Path(rest)


def guarded(uri: str, secrets: Sequence[str], action: str, call: Any, *,
            fix: str = STORE_FIX) -> Any:
    """Run an MLflow call; turn its failure into a TrackingError with every secret redacted."""
    try:
        return call()
    except TrackingError:
        raise
    except (MlflowException, OSError) as exc:
        raise TrackingError(f"MLflow could not {action} at {redact(uri, secrets)}: "
                            f"{redact(str(exc), secrets)[:500]}. {fix}") from None


def open_store(uri: str, secrets: Sequence[str]) -> MlflowClient:
    """Point mlflow (fluent API, model logging) at ``uri`` after checking it can be written."""
    shown = redact(uri, secrets)
    if (db := _sqlite_path(uri)) is not None:
        try:
            db.parent.mkdir(parents=True, exist_ok=True)
            with open(db, "ab"):
                pass
        except OSError as exc:
            raise TrackingError(
                f"MLflow tracking store {shown} cannot be written: {exc.strerror} ({db}). "
                "Fix: set RECROSS_HOME to a writable folder, or MLFLOW_TRACKING_URI to a "
                "writable sqlite:///<path> or an MLflow server URL.") from None
    elif is_server(uri) and not uri.startswith("databricks"):
        _check_server(uri, shown)
    # MLflow also writes the URI into os.environ["MLFLOW_TRACKING_URI"], which load_settings
    # reads above a config file: the next settings loaded in this process (a study, a test)
    # would silently track into this store. Keep the environment as the user set it.
    before = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    if before is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = before
    return guarded(uri, secrets, "open the store", lambda: MlflowClient(uri, registry_uri=uri))


def _check_server(uri: str, shown: str) -> None:
    """Fail in seconds, not after MLflow's minutes of retries, when the server is down."""
    import requests  # a dependency of mlflow

    try:
        response = requests.get(f"{uri.rstrip('/')}/health", timeout=_HEALTH_TIMEOUT_S)
    except requests.RequestException as exc:
        raise TrackingError(
            f"MLflow server {shown} is unreachable ({type(exc).__name__}). Fix: start it "
            "(deploy/ has a compose file) or unset MLFLOW_TRACKING_URI to use the local "
            "sqlite store.") from None
    if response.status_code >= 400:
        raise TrackingError(
            f"MLflow server {shown} answered HTTP {response.status_code} on /health. Fix: check "
            "the URL and the credentials (MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD).")
