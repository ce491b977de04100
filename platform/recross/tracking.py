"""MLflow tracking: one experiment per study, a parent run per materialization, a nested run per
(target task, retriever, query-set seed), adapted models logged and registered with aliases.

The only module of the library that imports mlflow. Default store: ``sqlite:///<home>/mlflow.db``
with artifacts under ``<home>/mlartifacts`` (MLflow 3 moved its default off the file store);
``MLFLOW_TRACKING_URI`` (or ``settings.tracking.tracking_uri``) points elsewhere, e.g. the server
of ``deploy/``. Credentials in URIs and the Qdrant API key are redacted from every param, tag,
message and printed line this module produces. Usage::

    tracker = Tracker(settings)  # one per process: opening a store costs seconds
    with (tracker.parent_run(name="super_glue-cb/recross", tags={"dagster_run_id": rid}) as parent,
          tracker.seed_run(parent=parent, target_task="super_glue-cb", retriever="recross",
                           seed=0) as run):
        run.log_metrics({"softem": 44.5, "em": 40.1})
        run.log_retrieved_ids(ids)
        uri = tracker.log_adapted_model(run, checkpoint_dir, registered_name="cb-recross",
                                        alias="seed-0")
    checkpoint = resolve_model_uri(uri, settings)
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import mlflow
import pandas as pd
from mlflow.entities import LoggedModelOutput, Metric, Param, RunTag
from mlflow.exceptions import MlflowException
from mlflow.models import Model, ModelSignature
from mlflow.tracking import MlflowClient
from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema

from recross.config import Settings, hide_uri_credentials
from recross.errors import TrackingError
from recross.evaluation.reports import Table1, build_table1, table1_markdown
from recross.paths import StatePaths, slug

# MLflow prints "View run ... at <tracking URI>" when a run ends on a server store; that URI may
# carry user:password@. We print our own redacted link instead (``Tracker.run_url``).
os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"

METRICS: tuple[str, ...] = ("softem", "em")  # identical names for every retriever
# Settings repeated on every seed run (the parent holds all of them), so runs of different
# retrievers line up in the UI's compare view: profile, models, |Q|, |R|, mu, lr, batch, epochs,
# filters.
SEED_RUN_SETTINGS: tuple[str, ...] = (
    "profile", "models.upstream_model", "models.sbert_model", "models.reranker_base",
    "retrieval.query_size", "retrieval.retrieved_size", "retrieval.upsample_ratio",
    "retrieval.exclude_target_task", "adaptation.mode", "adaptation.learning_rate",
    "adaptation.lora_learning_rate", "adaptation.batch_size", "adaptation.epochs")
MODEL_NAME = "adapted-model"  # name of the logged model inside its run
CHECKPOINT_ARTIFACT = "checkpoint"  # key of the checkpoint directory inside the pyfunc model
# Above this size an adapted checkpoint is logged as plain model artifacts, not as a pyfunc model:
# pyfunc.save_model stages a copy of every artifact before uploading it, so a BART0-sized (1.6 GB)
# full checkpoint would need three copies on disk; LoRA adapters (a few MB) stay pyfunc models.
LARGE_MODEL_BYTES = 1 << 30
_STORE_FIX = ("Fix: check that MLFLOW_TRACKING_URI points at a reachable MLflow server or a "
              "writable database, and that the run still exists.")
_REGISTRY_FIX = ("Fix: use a registered model name without '/' or ':' and an alias of letters, "
                 "digits, '_' or '-' other than 'latest' or 'v<number>' "
                 "(see registry_name_and_alias).")
_PARAMS_PER_BATCH = 100  # MLflow's limit on params in one log_batch call
_HEALTH_TIMEOUT_S = 5.0

_KEY_VALUE_SECRET = re.compile(
    r"(?P<key>\b[\w-]*?(?:api[_-]?key|password|passwd|token|secret)\b[\"']?\s*[=:]\s*[\"']?)"
    r"[^\s&\"',}]+", re.IGNORECASE)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Hide ``user:password@`` in URIs, ``api_key=...``-style pairs and the given secret values.

    >>> redact("postgresql://bob:hunter2@db:5432/mlflow?api_key=abc")
    'postgresql://***@db:5432/mlflow?api_key=***'
    """
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, "***")
    text = hide_uri_credentials(text)
    return _KEY_VALUE_SECRET.sub(r"\g<key>***", text)


def _secrets(settings: Settings) -> list[str]:
    """Secret values that may show up verbatim (not only inside a URI) and must be hidden."""
    found = [os.environ.get(name, "") for name in
             ("QDRANT_API_KEY", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN")]
    if settings.index.api_key is not None:
        found.append(settings.index.api_key.get_secret_value())
    for uri in (settings.tracking.tracking_uri, settings.index.url):
        if uri and (password := urlsplit(uri).password):
            found.append(password)
    return found


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


def _is_server(uri: str) -> bool:
    return urlsplit(uri).scheme in ("http", "https", "databricks")


def _sqlite_path(uri: str) -> Path | None:
    if not uri.startswith("sqlite:///"):
        return None
    rest = uri.removeprefix("sqlite:///").split("?", 1)[0]
    return None if rest in ("", ":memory:") else Path(rest)


@dataclass(frozen=True)
class TrackedRun:
    """A live run: log metrics, params and the conventional artifacts of a ReCross evaluation."""

    tracker: Tracker
    run_id: str

    def log_metrics(self, metrics: Mapping[str, float], *, step: int = 0) -> None:
        """Log scores; evaluation runs use :data:`METRICS` (``softem``, ``em``) as names."""
        now = _now_ms()
        self.tracker._batch(self.run_id, metrics=[
            Metric(key, float(value), now, step) for key, value in metrics.items()])

    def log_params(self, params: Mapping[str, object]) -> None:
        self.tracker._log_params(self.run_id, params)

    def set_tags(self, tags: Mapping[str, object]) -> None:
        self.tracker._batch(self.run_id, tags=self.tracker._tags(tags))

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
        self._secrets = _secrets(settings)
        self._parent_tags: dict[str, dict[str, str]] = {}
        self.client = _open_store(self.uri, self._secrets)
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
    def seed_run(self, *, parent: TrackedRun | str | None, target_task: str, retriever: str,
                 seed: int, params: Mapping[str, object] | None = None,
                 tags: Mapping[str, object] | None = None) -> Iterator[TrackedRun]:
        """The run of one (target task, retriever, query-set seed), nested under ``parent``;
        its params are :data:`SEED_RUN_SETTINGS` + ``params``."""
        parent_id = parent.run_id if isinstance(parent, TrackedRun) else parent
        inherited = self._parent_tags.get(parent_id, {}) if parent_id else {}
        run_tags: dict[str, object] = {
            **inherited, "upstream_model": self.settings.models.upstream_model, **(tags or {}),
            "target_task": target_task, "retriever": retriever, "seed": seed}
        if parent_id:
            run_tags["mlflow.parentRunId"] = parent_id
        settings = self.settings.logged_params()
        key_settings = {key: settings[key] for key in SEED_RUN_SETTINGS}
        with self._run(name=f"{target_task}/{retriever}/seed-{seed}", tags=run_tags,
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
        if not _is_server(self.uri) or self.uri.startswith("databricks"):
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

        Returns ``models:/<registered_name>@<alias>``; :func:`resolve_model_uri` turns it (or the
        run's ``runs:/`` / ``models:/<model_id>`` URI) back into a local directory.
        """
        run_id = run.run_id if isinstance(run, TrackedRun) else run
        model_dir = Path(model_dir)
        if not model_dir.is_dir():
            raise TrackingError(f"cannot log adapted model {model_dir}: not a directory. "
                                "Fix: pass the directory written by save_pretrained.")
        kind = "lora" if (model_dir / "adapter_config.json").is_file() else "full"
        tags = {"recross.checkpoint_kind": kind}
        if _directory_bytes(model_dir) > large_model_bytes:
            model_id = self._guard("log a large checkpoint", lambda: self._log_checkpoint_model(
                run_id, model_dir, tags))
        else:
            model_id = self._guard("log a pyfunc model", lambda: _log_pyfunc_model(
                self.experiment_id, run_id, model_dir, tags))
        if self.settings.tracking.register_models:
            self._guard("register the model", lambda: self._register(
                model_id, run_id, registered_name=registered_name, alias=alias), fix=_REGISTRY_FIX)
            return f"models:/{registered_name}@{alias}"
        return f"models:/{model_id}"

    def _log_checkpoint_model(self, run_id: str, model_dir: Path, tags: Mapping[str, str]) -> str:
        """A LoggedModel holding the checkpoint directory as is: no staging copy, no MLmodel."""
        model = self.client.create_logged_model(
            self.experiment_id, name=MODEL_NAME, source_run_id=run_id,
            tags={**tags, "recross.format": "checkpoint"})
        self.client.log_model_artifacts(model.model_id, str(model_dir))
        self.client.finalize_logged_model(model.model_id, "READY")
        self.client.log_outputs(run_id, [LoggedModelOutput(model.model_id, step=0)])
        return model.model_id

    def _register(self, model_id: str, run_id: str, *, registered_name: str, alias: str) -> None:
        try:
            self.client.get_registered_model(registered_name)
        except MlflowException:
            self.client.create_registered_model(registered_name)
        version = self.client.create_model_version(
            registered_name, source=f"models:/{model_id}", run_id=run_id, model_id=model_id)
        self.client.set_registered_model_alias(registered_name, alias, version.version)

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
        if not _is_server(self.uri):  # a server stores artifacts itself
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

    def _tags(self, tags: Mapping[str, object]) -> list[RunTag]:
        return [RunTag(key, value) for key, value in self._tag_dict(tags).items()]

    def _log_params(self, run_id: str, params: Mapping[str, object]) -> None:
        items = [Param(key, redact(str(value), self._secrets)) for key, value in params.items()]
        for start in range(0, len(items), _PARAMS_PER_BATCH):
            self._batch(run_id, params=items[start:start + _PARAMS_PER_BATCH])

    def _batch(self, run_id: str, *, metrics: list[Metric] | None = None,
               params: list[Param] | None = None, tags: list[RunTag] | None = None) -> None:
        self._guard("log to a run", lambda: self.client.log_batch(
            run_id, metrics=metrics or [], params=params or [], tags=tags or []))

    def _guard(self, action: str, call: Any, *, fix: str = _STORE_FIX) -> Any:
        return _guarded(self.uri, self._secrets, action, call, fix=fix)


def registry_name_and_alias(*, target_task: str, retriever: str, seed: int) -> tuple[str, str]:
    """Registry name and alias of an adapted model: ``recross-<task>-<retriever>``, ``seed-<n>``."""
    return f"recross-{slug(target_task)}-{slug(retriever)}", f"seed-{seed}"


def _guarded(uri: str, secrets: Sequence[str], action: str, call: Any, *,
             fix: str = _STORE_FIX) -> Any:
    """Run an MLflow call; turn its failure into a TrackingError with every secret redacted."""
    try:
        return call()
    except TrackingError:
        raise
    except (MlflowException, OSError) as exc:
        raise TrackingError(f"MLflow could not {action} at {redact(uri, secrets)}: "
                            f"{redact(str(exc), secrets)[:500]}. {fix}") from None


def _open_store(uri: str, secrets: Sequence[str]) -> MlflowClient:
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
    elif _is_server(uri) and not uri.startswith("databricks"):
        _check_server(uri, shown)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return _guarded(uri, secrets, "open the store", lambda: MlflowClient(uri, registry_uri=uri))


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


def _now_ms() -> int:
    return int(time.time() * 1000)


def _directory_bytes(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())


def _pip_requirements() -> list[str]:
    pins = []
    for package in ("mlflow", "torch", "transformers", "peft"):
        try:
            pins.append(f"{package}=={version(package)}")
        except PackageNotFoundError:
            continue
    return pins


class AdaptedSeq2Seq(mlflow.pyfunc.PythonModel):
    """Pyfunc wrapper of an adapted seq2seq checkpoint: the directory is the model's artifact.

    ``mlflow.pyfunc.load_model(uri).predict(["prompt", ...], params={"num_beams": 4})`` answers
    with the library's own loader and generator: :func:`recross.models.load_adapted` for what
    :func:`recross.models.adapt` saved (full or LoRA on its recorded base), else a plain
    ``save_pretrained`` checkpoint. Logged as "models from code" (:data:`_MODEL_CODE`), MLflow 3's
    alternative to pickling the instance; loading needs ``recross`` importable.
    """

    def load_context(self, context: Any) -> None:
        from recross.models.adaptation import ADAPTED_FILE, load_adapted
        from recross.models.loading import load_seq2seq

        checkpoint = Path(context.artifacts[CHECKPOINT_ARTIFACT])
        self.bundle = (load_adapted(checkpoint) if (checkpoint / ADAPTED_FILE).is_file()
                       else load_seq2seq(checkpoint))

    def predict(self, context: Any, model_input: pd.DataFrame,
                params: dict[str, Any] | None = None) -> list[str]:
        """One answer per prompt: MLflow hands the prompts over as the one string column of
        :data:`_SIGNATURE` (a list of strings is converted before it gets here)."""
        from recross.models.generation import generate

        options = params or {}
        return generate(self.bundle, model_input.iloc[:, 0].tolist(), num_beams=int(options.get("num_beams", 1)),
                        max_new_tokens=int(options.get("max_new_tokens", 64)),
                        batch_size=int(options.get("batch_size", 16)), progress=False)


# Explicit, because a ``list[str]`` type hint would infer a signature without a params schema,
# and MLflow drops the params a signature does not declare.
_SIGNATURE = ModelSignature(
    inputs=Schema([ColSpec("string")]), outputs=Schema([ColSpec("string")]),
    params=ParamSchema([ParamSpec("num_beams", "integer", 1),
                        ParamSpec("max_new_tokens", "integer", 64),
                        ParamSpec("batch_size", "integer", 16)]))

_MODEL_CODE = """\
import mlflow
from recross.tracking import AdaptedSeq2Seq

mlflow.models.set_model(AdaptedSeq2Seq())
"""


def _log_pyfunc_model(experiment_id: str, run_id: str, model_dir: Path,
                      tags: Mapping[str, str]) -> str:
    """Log ``model_dir`` as a pyfunc model of ``run_id`` (``Model.log`` takes the run id, so no
    fluent active run is needed); pip requirements are pinned, not inferred by loading the model.

    Without an active run MLflow files the new LoggedModel under the *active experiment* (default:
    "0", artifacts in ./mlruns of the working directory), not the run's: so set it first.
    """
    mlflow.set_experiment(experiment_id=experiment_id)
    with (tempfile.TemporaryDirectory(prefix="recross-model-code-") as scratch,
          warnings.catch_warnings()):
        # No input example on purpose: MLflow would load the checkpoint and generate at log time
        # to validate it, which costs more than the logging itself on a large model.
        warnings.filterwarnings("ignore", message=".*input example was not provided")
        code = Path(scratch) / "adapted_model.py"
        code.write_text(_MODEL_CODE, encoding="utf-8")
        info = Model.log(
            artifact_path=None, name=MODEL_NAME, flavor=mlflow.pyfunc, run_id=run_id,
            python_model=str(code), artifacts={CHECKPOINT_ARTIFACT: str(model_dir)},
            signature=_SIGNATURE,
            pip_requirements=_pip_requirements(), tags={**tags, "recross.format": "pyfunc"})
    return info.model_id


def resolve_model_uri(uri: str, settings: Settings, *, dst: Path | None = None) -> Path:
    """Download a logged adapted model (``models:/name@alias``, ``models:/<id>``, ``runs:/...``)
    and return the local checkpoint directory (inside a pyfunc model: its checkpoint artifact).

    Without ``dst`` a local store hands back its own directory (no copy of a large checkpoint):
    read it, never write into it.
    """
    store = tracking_uri(settings)
    secrets = _secrets(settings)
    _open_store(store, secrets)
    if dst is not None:
        dst.mkdir(parents=True, exist_ok=True)
    local = Path(_guarded(store, secrets, f"download {uri}", lambda: mlflow.artifacts.download_artifacts(
        artifact_uri=uri, dst_path=str(dst) if dst else None, tracking_uri=store,
        registry_uri=store)))
    if not (local / "MLmodel").is_file():
        return local
    flavor = Model.load(str(local)).flavors.get("python_function", {})
    checkpoint = flavor.get("artifacts", {}).get(CHECKPOINT_ARTIFACT, {}).get("path")
    if checkpoint is None:
        raise TrackingError(f"{uri} is an MLflow model without a {CHECKPOINT_ARTIFACT!r} artifact. "
                            "Fix: pass the URI of a model logged by Tracker.log_adapted_model.")
    return local / checkpoint


RUN_COLUMNS: tuple[str, ...] = (
    "run_id", "parent_run_id", "target_task", "retriever", "seed", *METRICS, "upstream_model",
    "dagster_run_id", "start_time")


def fetch_runs(settings: Settings, *, experiment: str | None = None,
               latest_only: bool = True) -> pd.DataFrame:
    """Finished seed runs of the study as a tidy frame (``RUN_COLUMNS``), via mlflow.search_runs.

    ``latest_only`` keeps the newest run of each (target task, retriever, seed), so a
    re-materialized partition replaces, not duplicates, its numbers.
    """
    name = experiment or settings.tracking.experiment
    store = tracking_uri(settings)
    secrets = _secrets(settings)
    client = _open_store(store, secrets)
    if _guarded(store, secrets, "find the experiment",
                lambda: client.get_experiment_by_name(name)) is None:
        raise TrackingError(f"no experiment {name!r} at {redact(store, secrets)}. Fix: run an "
                            "evaluation first, or set tracking.experiment / MLFLOW_TRACKING_URI "
                            "to the study you mean.")
    raw = _guarded(store, secrets, "search runs", lambda: mlflow.search_runs(
        experiment_names=[name], filter_string="attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"]))
    frame = pd.DataFrame({column: pd.Series(dtype=object) for column in RUN_COLUMNS})
    needed = ("tags.target_task", "tags.retriever", "tags.seed")
    if raw.empty or any(column not in raw.columns for column in needed):
        return frame
    raw = raw.dropna(subset=list(needed))
    for column in RUN_COLUMNS:
        source = {"run_id": "run_id", "start_time": "start_time",
                  "parent_run_id": "tags.mlflow.parentRunId"}.get(column)
        source = source or (f"metrics.{column}" if column in METRICS else f"tags.{column}")
        frame[column] = raw[source].to_numpy() if source in raw.columns else None
    frame["seed"] = frame["seed"].astype(int)
    if latest_only:
        frame = frame.drop_duplicates(["target_task", "retriever", "seed"], keep="first")
    return frame.sort_values(["target_task", "retriever", "seed"]).reset_index(drop=True)


def compare_table(settings: Settings, *, experiment: str | None = None,
                  metric: str = "softem") -> str:
    """`recross compare`: Table 1 (per target task, mean +- std per retriever) from the store."""
    runs = fetch_runs(settings, experiment=experiment)
    if runs.empty:
        return (f"no finished evaluation runs in experiment "
                f"{experiment or settings.tracking.experiment!r}")
    table: Table1 = build_table1(runs, metric=metric)
    return table1_markdown(table)
