"""Resources: the active profile, the Qdrant index, MLflow and the artifact store.

Each is a typed ``ConfigurableResource``. The embedded defaults need no environment at all;
``QDRANT_URL``/``QDRANT_API_KEY`` and ``MLFLOW_TRACKING_URI`` are passed as ``EnvVar`` when set,
so secrets are resolved at run time and never stored in the definitions.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
from recross.config import Settings, load_settings
from recross.paths import StatePaths
from recross.tracking import Tracker


class ProfileResource(dg.ConfigurableResource):
    """Which settings profile (tiny / small / paper) and optional config file a run uses."""

    profile: str = "small"
    config_file: str | None = None
    home: str | None = None  # RECROSS_HOME when unset

    def settings(self, **overrides: object) -> Settings:
        extra = dict(overrides)
        if self.home:
            extra["home"] = self.home
        return load_settings(self.profile, self.config_file, overrides=extra)


class QdrantResource(dg.ConfigurableResource):
    """The example index: embedded Qdrant Edge unless a server URL is given."""

    url: str | None = None
    api_key: str | None = None

    def overrides(self) -> dict[str, object]:
        index: dict[str, object] = {}
        if self.url:
            index.update(url=self.url, backend="server")
        if self.api_key:
            index["api_key"] = self.api_key
        return {"index": index} if index else {}


class MlflowResource(dg.ConfigurableResource):
    """The MLflow tracking store: sqlite under RECROSS_HOME unless a URI is given."""

    tracking_uri: str | None = None
    experiment: str = "recross"

    def overrides(self) -> dict[str, object]:
        tracking: dict[str, object] = {"experiment": self.experiment}
        if self.tracking_uri:
            tracking["tracking_uri"] = self.tracking_uri
        return {"tracking": tracking}


class RecrossResource(dg.ConfigurableResource):
    """Everything an asset needs, combined: settings, paths keyed by asset/partition, tracker."""

    profile: ProfileResource
    qdrant: QdrantResource
    mlflow: MlflowResource

    def settings(self) -> Settings:
        overrides = {**self.qdrant.overrides(), **self.mlflow.overrides()}
        return self.profile.settings(**overrides)

    def paths(self) -> StatePaths:
        return StatePaths(Path(self.settings().home))

    def tracker(self) -> Tracker:
        return Tracker(self.settings())


def _env(name: str) -> dg.EnvVar | None:
    return dg.EnvVar(name) if os.environ.get(name) else None


def default_resources(profile: str | None = None, home: str | None = None,
                      config_file: str | None = None) -> dict[str, object]:
    """Resources for `dagster dev`, `recross run` and tests (profile: RECROSS_PROFILE or small)."""
    return {"recross": RecrossResource(
        profile=ProfileResource(profile=profile or os.environ.get("RECROSS_PROFILE", "small"),
                                config_file=config_file or os.environ.get("RECROSS_CONFIG"),
                                home=home),
        qdrant=QdrantResource(url=_env("QDRANT_URL"), api_key=_env("QDRANT_API_KEY")),
        mlflow=MlflowResource(tracking_uri=_env("MLFLOW_TRACKING_URI")),
    )}
