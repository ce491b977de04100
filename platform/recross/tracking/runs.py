"""Runs: one experiment per study, a parent run per materialization, a nested run per
(target task, retriever, query-set seed), with the conventional metric names, tags and artifacts."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pandas as pd
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException

from recross.config import Settings
from recross.errors import TrackingError
from recross.paths import StatePaths, slug
from recross.redaction import redact, secret_values
from recross.tracking.models import (
    LARGE_MODEL_BYTES,
    REGISTRY_FIX,
    directory_bytes,
    log_checkpoint_model,
    log_pyfunc_model,
    register_version,
    serving_config,
)
from recross.tracking.store import STORE_FIX, guarded, is_server, open_store, tracking_uri

# Identical names for every retriever; nll: gold answers' mean per-token NLL (lower is better),
# rank_acc / rank_coverage: rank classification accuracy and the share of examples it scored.
METRICS: tuple[str, ...] = ("softem", "em", "nll", "rank_acc", "rank_coverage")
# Settings repeated on every seed run (the parent holds all of them), so runs of different
# retrievers line up in the UI's compare view: profile, models, |Q|, |R|, mu, lr, batch, epochs,
# filters.
SEED_RUN_SETTINGS: tuple[str, ...] = (
    "profile", "models.upstream_model", "models.sbert_model", "models.reranker_base",
    "retrieval.query_size", "retrieval.retrieved_size", "retrieval.upsample_ratio",
    "retrieval.exclude_target_task", "adaptation.mode", "adaptation.learning_rate",
    "adaptation.lora_learning_rate", "adaptation.batch_size", "adaptation.epochs")
_PARAMS_PER_BATCH = 100  # MLflow's limit on params in one log_batch call


@dataclass(frozen=True)
class TrackedRun:
    """A live run: log metrics, params and the conventional artifacts of a ReCross evaluation."""

    tracker: Tracker
    run_id: str

    def log_metrics(self, metrics: Mapping[str, float], *, step: int = 0) -> None:
        """Log scores; evaluation runs use :data:`METRICS` (``softem``, ``em``) as names."""
        now = int(time.time() * 1000)
        self.tracker._batch(self.run_id, metrics=[
            Metric(key, float(value), now, step) for key, value in metrics.items()])

    def log_params(self, params: Mapping[str, object]) -> None:
        self.tracker._log_params(self.run_id, params)

    def log_table(self, name: str, frame: pd.DataFrame) -> None:
        """Log ``frame`` as the CSV artifact ``name`` (``.csv`` added when missing)."""
        artifact = name if name.endswith(".csv") else f"{name}.csv"
        self.tracker._guard("log a table", lambda: self.tracker.client.log_text(
            self.run_id, frame.to_csv(index=False), artifact))

    def log_json(self, name: str, value: Any) -> None:
        artifact = name if name.endswith(".json") else f"{name}.json"
        self.tracker._guard("log a JSON artifact", lambda: self.tracker.client.log_text(
            self.run_id, json.dumps(value, indent=2, sort_keys=True, default=str), artifact))

    def log_file(self, path: Path, *, folder: str | None = None) -> None:
        """Log one local file (a PNG, a report) as an artifact."""
        self.tracker._guard("log a file", lambda: self.tracker.client.log_artifact(
            self.run_id, str(path), folder))

    def log_retrieved_ids(self, example_ids: Sequence[str]) -> None:
        """The retrieved set R, as example ids (``<task>|<split>|<template>|#<index>``)."""
        self.log_json("retrieved_ids", list(example_ids))

    def log_task_distribution(self, shares: pd.DataFrame, *, png: Path | None = None) -> None:
        """Upstream-task shares of R (CSV) and, when given, its picture (PNG)."""
        self.log_table("task_distribution", shares)
        if png is not None:
            self.log_file(png)

    def log_predictions(self, predictions: pd.DataFrame) -> None:
        """One row per test example (id, prediction, gold answers, scores)."""
        self.log_table("predictions", predictions)


class Tracker:
    """One experiment of one store; checks up front that the store can be written.

    Keep one per process and reuse it: opening an sqlite store runs its migrations (seconds).
    """

    def __init__(self, settings: Settings, *, experiment: str | None = None) -> None:
        self.settings = settings
        self.experiment = experiment or settings.tracking.experiment
        self.uri = tracking_uri(settings)
        self._secrets = secret_values(settings)
        self._parent_tags: dict[str, dict[str, str]] = {}
        self.client = open_store(self.uri, self._secrets)
        self.experiment_id: str = self._guard("open the experiment", self._ensure_experiment)

    # -- runs -----------------------------------------------------------------------------

    @contextmanager
    def parent_run(self, *, name: str, tags: Mapping[str, object] | None = None,
                   params: Mapping[str, object] | None = None) -> Iterator[TrackedRun]:
        """A run per materialization; its params are every setting (secrets left out) + ``params``.

        ``tags`` (e.g. ``dagster_run_id``) are copied onto the nested seed runs.
        """
        parent_tags = {"upstream_model": self.settings.models.upstream_model, **(tags or {})}
        with self._run(name=name, tags=parent_tags,
                       params={**self.settings.logged_params(), **(params or {})}) as run:
            self._parent_tags[run.run_id] = self._tag_dict(parent_tags)
            try:
                yield run
            finally:
                self._parent_tags.pop(run.run_id, None)

    @contextmanager
    def seed_run(self, *, parent: TrackedRun | str | None, target_task: str,
                 retriever: str | None, seed: int, params: Mapping[str, object] | None = None,
                 tags: Mapping[str, object] | None = None) -> Iterator[TrackedRun]:
        """The run of one (target task, retriever, query-set seed), nested under ``parent``;
        its params are :data:`SEED_RUN_SETTINGS` + ``params``. ``retriever`` None (a user's
        model of unknown origin) leaves the tag out, and `recross compare` with it."""
        parent_id = parent.run_id if isinstance(parent, TrackedRun) else parent
        inherited = self._parent_tags.get(parent_id, {}) if parent_id else {}
        run_tags: dict[str, object] = {
            **inherited, "upstream_model": self.settings.models.upstream_model, **(tags or {}),
            "target_task": target_task, "retriever": retriever, "seed": seed}
        if parent_id:
            run_tags["mlflow.parentRunId"] = parent_id
        settings = self.settings.logged_params()
        key_settings = {key: settings[key] for key in SEED_RUN_SETTINGS}
        with self._run(name=f"{target_task}/{retriever or 'unknown'}/seed-{seed}", tags=run_tags,
                       params={**key_settings, **(params or {})}) as run:
            yield run

    @contextmanager
    def _run(self, *, name: str, tags: Mapping[str, object],
             params: Mapping[str, object]) -> Iterator[TrackedRun]:
        created = self._guard("start a run", lambda: self.client.create_run(
            self.experiment_id, run_name=name, tags=self._tag_dict(tags)))
        run = TrackedRun(self, created.info.run_id)
        self._log_params(run.run_id, params)
        try:
            yield run
        except BaseException:
            self._guard("end a failed run", lambda: self.client.set_terminated(run.run_id, "FAILED"))
            raise
        self._guard("end a run", lambda: self.client.set_terminated(run.run_id, "FINISHED"))

    def run_url(self, run_id: str) -> str | None:
        """The run's page in the MLflow UI (credentials stripped), or None without a server."""
        if not is_server(self.uri) or self.uri.startswith("databricks"):
            return None
        parts = urlsplit(self.uri)
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        base = f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}"
        return f"{base}/#/experiments/{self.experiment_id}/runs/{run_id}"

    # -- models ---------------------------------------------------------------------------

    def log_adapted_model(self, run: TrackedRun | str, model_dir: Path, *, registered_name: str,
                          alias: str, large_model_bytes: int = LARGE_MODEL_BYTES) -> str:
        """Log an adapted checkpoint (full model or LoRA adapter directory) under ``run``,
        register it as a new version of ``registered_name`` and point ``alias`` at it.

        The pyfunc model answers with this tracker's generation and truncation settings (those
        the evaluation scored with), so the served model is the scored one. Returns
        ``models:/<registered_name>@<alias>``; :func:`recross.tracking.resolve_model_uri` turns
        it (or the run's ``runs:/`` / ``models:/<model_id>`` URI) back into a local directory.
        """
        run_id = run.run_id if isinstance(run, TrackedRun) else run
        model_dir = Path(model_dir)
        if not model_dir.is_dir():
            raise TrackingError(f"cannot log adapted model {model_dir}: not a directory. "
                                "Fix: pass the directory written by save_pretrained.")
        kind = "lora" if (model_dir / "adapter_config.json").is_file() else "full"
        tags = {"recross.checkpoint_kind": kind}
        if directory_bytes(model_dir) > large_model_bytes:
            model_id = self._guard("log a large checkpoint", lambda: log_checkpoint_model(
                self.client, self.experiment_id, run_id, model_dir, tags))
        else:
            model_id = self._guard("log a pyfunc model", lambda: log_pyfunc_model(
                self.experiment_id, run_id, model_dir, tags,
                serving=serving_config(self.settings)))
        if self.settings.tracking.register_models:
            self._guard("register the model", lambda: register_version(
                self.client, model_id, run_id, registered_name=registered_name, alias=alias),
                fix=REGISTRY_FIX)
            return f"models:/{registered_name}@{alias}"
        return f"models:/{model_id}"

    # -- plumbing -------------------------------------------------------------------------

    def _ensure_experiment(self) -> str:
        found = self.client.get_experiment_by_name(self.experiment)
        if found is not None:
            if found.lifecycle_stage == "deleted":
                raise TrackingError(
                    f"experiment {self.experiment!r} at {redact(self.uri, self._secrets)} is "
                    "deleted. Fix: restore it in the MLflow UI or choose another "
                    "tracking.experiment.")
            return found.experiment_id
        location = None
        if not is_server(self.uri):  # a server stores artifacts itself
            root = StatePaths(self.settings.home.resolve()).mlflow_artifacts / slug(self.experiment)
            location = root.as_uri()
        try:
            return self.client.create_experiment(self.experiment, artifact_location=location)
        except MlflowException:  # another process (a parallel partition) created it first
            created = self.client.get_experiment_by_name(self.experiment)
            if created is None:
                raise
            return created.experiment_id

    def _tag_dict(self, tags: Mapping[str, object]) -> dict[str, str]:
        return {key: redact(str(value), self._secrets) for key, value in tags.items()
                if value is not None}

    def _log_params(self, run_id: str, params: Mapping[str, object]) -> None:
        items = [Param(key, redact(str(value), self._secrets)) for key, value in params.items()]
        for start in range(0, len(items), _PARAMS_PER_BATCH):
            self._batch(run_id, params=items[start:start + _PARAMS_PER_BATCH])

    def _batch(self, run_id: str, *, metrics: list[Metric] | None = None,
               params: list[Param] | None = None, tags: list[RunTag] | None = None) -> None:
        self._guard("log to a run", lambda: self.client.log_batch(
            run_id, metrics=metrics or [], params=params or [], tags=tags or []))

    def _guard(self, action: str, call: Any, *, fix: str = STORE_FIX) -> Any:
        return guarded(self.uri, self._secrets, action, call, fix=fix)
