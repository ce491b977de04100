"""Resources: the run's settings, the Qdrant indexes it opens, and its MLflow tracker.

Each is a typed ``ConfigurableResource``. The environment is read in one place only,
:func:`recross.config.load_settings` (``RECROSS_PROFILE``, ``QDRANT_URL``, ``QDRANT_API_KEY``,
``MLFLOW_TRACKING_URI``, ...), inside the run, so secrets never sit in the definitions; a field
set here (in code or in the launchpad's ``resources`` section) overrides it. The embedded
defaults need no environment at all.

``indexes`` and ``tracker`` do real work: a run opens each index collection (and its encoder)
once and MLflow's store once, shares them between its assets, and closes them when it ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import dagster as dg
import yaml
from pydantic import Field, PrivateAttr
from recross.config import Settings, deep_merge, load_settings
from recross.data import UpstreamPool
from recross.errors import ConfigError
from recross.pipeline.indexes import OpenIndexes
from recross.tracking import Tracker

from recross_assets.cpu_share import run_threads


class ProfileResource(dg.ConfigurableResource):
    """Which settings a run uses: a profile, a config file, and overrides from the launchpad."""

    profile: str | None = Field(None, description="tiny / small / paper (unset: RECROSS_PROFILE, "
                                                  "else small)")
    config_file: str | None = Field(None, description="YAML/JSON settings file (unset: "
                                                      "RECROSS_CONFIG)")
    home: str | None = Field(None, description="state folder (unset: RECROSS_HOME, else .recross)")
    # default= spelled out: mypy's pydantic plugin reads a positional default as "required"
    retrieved_size: int | None = Field(default=None,
                                       description="|R|: examples retrieved per query set")
    learning_rate: float | None = Field(default=None, description="adaptation learning rate of "
                                                                  "the active mode (full or LoRA)")
    adaptation_mode: str | None = Field(default=None, description="full (the paper) or lora")
    overrides: str | None = Field(None, description="any other settings as a YAML mapping, e.g. "
                                                    "'{retrieval: {upsample_ratio: 3}}'")

    def settings(self, **extra: Any) -> Settings:
        layers = deep_merge(self._knobs(), self._parsed_overrides())
        if self.home:
            layers["home"] = self.home
        layers = deep_merge(layers, extra)
        settings = load_settings(self.profile, self.config_file, overrides=layers)
        if self.learning_rate is None:
            return settings
        field = "lora_learning_rate" if settings.adaptation.mode == "lora" else "learning_rate"
        return load_settings(self.profile, self.config_file, overrides=deep_merge(
            layers, {"adaptation": {field: self.learning_rate}}))

    def _knobs(self) -> dict[str, Any]:
        knobs: dict[str, Any] = {}
        if self.retrieved_size is not None:
            knobs["retrieval"] = {"retrieved_size": self.retrieved_size}
        if self.adaptation_mode is not None:
            knobs["adaptation"] = {"mode": self.adaptation_mode}
        return knobs

    def _parsed_overrides(self) -> dict[str, Any]:
        if not self.overrides:
            return {}
        try:
            parsed = yaml.safe_load(self.overrides)
        except yaml.YAMLError as exc:
            raise ConfigError(f"resource config `overrides` is not valid YAML: {exc}. Fix: write "
                              "a mapping of sections, e.g. '{retrieval: {retrieved_size: 64}}'."
                              ) from exc
        if not isinstance(parsed, dict):
            raise ConfigError(f"resource config `overrides` holds a {type(parsed).__name__}, not "
                              "a mapping. Fix: write sections of keys, e.g. "
                              "'{adaptation: {epochs: 1}}'.")
        return parsed


class QdrantResource(dg.ConfigurableResource):
    """The example index: embedded Qdrant Edge unless a server URL is set here or in QDRANT_URL."""

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
    """The MLflow store: MLFLOW_TRACKING_URI or sqlite under RECROSS_HOME unless set here."""

    tracking_uri: str | None = None
    experiment: str | None = None

    def overrides(self) -> dict[str, object]:
        tracking: dict[str, object] = {}
        if self.experiment:
            tracking["experiment"] = self.experiment
        if self.tracking_uri:
            tracking["tracking_uri"] = self.tracking_uri
        return {"tracking": tracking} if tracking else {}


class RecrossResource(dg.ConfigurableResource):
    """The run's settings, combined from the profile, Qdrant and MLflow resources."""

    profile: ProfileResource
    qdrant: QdrantResource
    mlflow: MlflowResource

    def settings(self) -> Settings:
        return self.profile.settings(**deep_merge(self.qdrant.overrides(),
                                                  self.mlflow.overrides()))

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """Give the run's heavy steps their share of the cores (recross_assets.cpu_share)."""
        from recross.models.device import use_cpu_threads  # torch: imported when a run starts

        if context.instance is None:
            return
        tags = context.dagster_run.tags if context.dagster_run is not None else {}
        threads = run_threads(context.instance, dict(tags))
        if threads is not None:
            use_cpu_threads(threads)


class IndexResource(dg.ConfigurableResource):
    """The index collections of one run, opened on first use and closed when the run ends."""

    _open: OpenIndexes | None = PrivateAttr(default=None)

    def for_pool(self, settings: Settings, pool: UpstreamPool) -> OpenIndexes:
        """The run's open indexes of ``pool`` (reopened if a step uses other settings)."""
        if self._open is None or not self._open.serves(settings, pool):
            self.close()
            self._open = OpenIndexes(settings, pool)
        return self._open

    def close(self) -> None:
        if self._open is not None:
            self._open.close()
            self._open = None

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        self.close()


class TrackerResource(dg.ConfigurableResource):
    """One MLflow tracker per run: opening a store costs seconds, so the run's assets share it."""

    _trackers: dict[str, Tracker] = PrivateAttr(default_factory=dict)

    def for_settings(self, settings: Settings) -> Tracker:
        key = f"{settings.tracking.tracking_uri}|{settings.tracking.experiment}|{settings.home}"
        if key not in self._trackers:
            self._trackers[key] = Tracker(settings)
        return self._trackers[key]

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        self._trackers.clear()


def default_resources(profile: str | None = None, home: str | None = None,
                      config_file: str | None = None,
                      overrides: str | None = None) -> dict[str, object]:
    """Resources for `dagster dev`, `recross run`, studies and tests; unset fields fall back to
    the environment, read by ``load_settings`` inside the run."""
    return {
        "recross": RecrossResource(
            profile=ProfileResource(profile=profile, config_file=config_file, home=home,
                                    overrides=overrides),
            qdrant=QdrantResource(), mlflow=MlflowResource()),
        "indexes": IndexResource(),
        "tracker": TrackerResource(),
    }


@dataclass(frozen=True)
class ResourceRecipe:
    """A resource's class and field values, from which a worker process builds it again: the
    main job's worker processes need the caller's resources, which do not pickle themselves."""

    kind: type[dg.ConfigurableResource]
    fields: dict[str, Any]

    @classmethod
    def of(cls, resource: dg.ConfigurableResource) -> ResourceRecipe:
        return cls(type(resource), {name: _recipe_or_value(getattr(resource, name))
                                    for name in type(resource).model_fields})

    def build(self) -> dg.ConfigurableResource:
        return self.kind(**{name: value.build() if isinstance(value, ResourceRecipe) else value
                            for name, value in self.fields.items()})


def _recipe_or_value(value: Any) -> Any:
    return ResourceRecipe.of(value) if isinstance(value, dg.ConfigurableResource) else value
