"""Adapted models in MLflow: logged as pyfunc models (or plain checkpoints when large),
registered per (target task, retriever) with a seed alias, served with the settings they were
scored with, and fetched back as local checkpoint directories."""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.entities import LoggedModelOutput
from mlflow.exceptions import MlflowException
from mlflow.models import Model, ModelSignature
from mlflow.tracking import MlflowClient
from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema

from recross.config import Settings
from recross.errors import TrackingError
from recross.paths import slug
from recross.redaction import secret_values
from recross.tracking.store import guarded, open_store, tracking_uri

MODEL_NAME = "adapted-model"  # name of the logged model inside its run
CHECKPOINT_ARTIFACT = "checkpoint"  # key of the checkpoint directory inside the pyfunc model
# Above this size an adapted checkpoint is logged as plain model artifacts, not as a pyfunc model:
# pyfunc.save_model stages a copy of every artifact before uploading it, so a BART0-sized (1.6 GB)
# full checkpoint would need three copies on disk; LoRA adapters (a few MB) stay pyfunc models.
LARGE_MODEL_BYTES = 1 << 30
REGISTRY_FIX = ("Fix: use a registered model name without '/' or ':' and an alias of letters, "
                "digits, '_' or '-' other than 'latest' or 'v<number>' "
                "(see registry_name_and_alias).")


USER_MODEL_ALIAS = "current"  # `recross adapt`: the latest adaptation of a (task, retriever)
MODELS_LISTED = 20  # registered models named in a "no such model" error; the rest are counted


def registered_model_name(*, target_task: str, retriever: str) -> str:
    """``recross-<task>-<retriever>``: one registered model per (task, retriever), so an alias
    never moves from one retriever's model to another's."""
    return f"recross-{slug(target_task)}-{slug(retriever)}"


def registry_name_and_alias(*, target_task: str, retriever: str, seed: int) -> tuple[str, str]:
    """Registry name and alias of an adapted model: ``recross-<task>-<retriever>``, ``seed-<n>``."""
    return registered_model_name(target_task=target_task, retriever=retriever), f"seed-{seed}"


def serving_config(settings: Settings) -> dict[str, int | str]:
    """The generation, truncation and input-format settings an evaluation scores with; a logged
    model keeps them so that serving it answers exactly as it did when it was scored (a LoRA
    adapter's base is reloaded plain, so the format cannot come from the checkpoint alone)."""
    g = settings.generation
    return {"num_beams": g.num_beams, "max_new_tokens": g.max_new_tokens,
            "batch_size": g.batch_size, "max_input_length": settings.models.max_input_length,
            "input_format": settings.models.input_format}


def directory_bytes(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())


def log_checkpoint_model(client: MlflowClient, experiment_id: str, run_id: str, model_dir: Path,
                         tags: Mapping[str, str]) -> str:
    """A LoggedModel holding the checkpoint directory as is: no staging copy, no MLmodel."""
    model = client.create_logged_model(
        experiment_id, name=MODEL_NAME, source_run_id=run_id,
        tags={**tags, "recross.format": "checkpoint"})
    client.log_model_artifacts(model.model_id, str(model_dir))
    client.finalize_logged_model(model.model_id, "READY")
    client.log_outputs(run_id, [LoggedModelOutput(model.model_id, step=0)])
    return model.model_id


def register_version(client: MlflowClient, model_id: str, run_id: str, *, registered_name: str,
                     alias: str) -> None:
    """A new version of ``registered_name`` for ``model_id``, with ``alias`` pointing at it."""
    try:
        client.get_registered_model(registered_name)
    except MlflowException:
        client.create_registered_model(registered_name)
    created = client.create_model_version(
        registered_name, source=f"models:/{model_id}", run_id=run_id, model_id=model_id)
    client.set_registered_model_alias(registered_name, alias, created.version)


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

    ``mlflow.pyfunc.load_model(uri).predict(["prompt", ...])`` answers with the library's own
    loader and generator: :func:`recross.models.load_adapted` for what
    :func:`recross.models.adapt` saved (full or LoRA on its recorded base), else a plain
    ``save_pretrained`` checkpoint. Beams, answer length and input truncation default to the
    values the model was scored with (its ``model_config``); ``params`` may override them.
    Logged as "models from code" (:data:`_MODEL_CODE`), MLflow 3's alternative to pickling the
    instance; loading needs ``recross`` importable.
    """

    def load_context(self, context: Any) -> None:
        from recross.models.adaptation import ADAPTED_FILE, load_adapted
        from recross.models.input_format import set_input_format
        from recross.models.loading import load_seq2seq

        checkpoint = Path(context.artifacts[CHECKPOINT_ARTIFACT])
        self.bundle = (load_adapted(checkpoint) if (checkpoint / ADAPTED_FILE).is_file()
                       else load_seq2seq(checkpoint))
        self.serving = dict(context.model_config or {})
        input_format = self.serving.pop("input_format", None)
        if input_format is not None:
            set_input_format(self.bundle.model, input_format)

    def predict(self, context: Any, model_input: pd.DataFrame,
                params: dict[str, Any] | None = None) -> list[str]:
        """One answer per prompt: MLflow hands the prompts over as the one string column of the
        signature (a list of strings is converted before it gets here)."""
        from recross.models.generation import generate

        options = {**self.serving, **(params or {})}
        return generate(self.bundle, model_input.iloc[:, 0].tolist(),
                        num_beams=int(options["num_beams"]),
                        max_new_tokens=int(options["max_new_tokens"]),
                        batch_size=int(options["batch_size"]),
                        max_input_length=int(options["max_input_length"]), progress=False)


def _signature(serving: Mapping[str, int | str]) -> ModelSignature:
    """Explicit, because a ``list[str]`` type hint would infer a signature without a params
    schema, and MLflow drops the params a signature does not declare; the defaults are the
    scored settings, since MLflow fills in a param's default when a caller leaves it out."""
    return ModelSignature(
        inputs=Schema([ColSpec("string")]), outputs=Schema([ColSpec("string")]),
        params=ParamSchema([ParamSpec(name, "integer", value)
                            for name, value in serving.items() if isinstance(value, int)]))


_MODEL_CODE = """\
import mlflow
from recross.tracking.models import AdaptedSeq2Seq

mlflow.models.set_model(AdaptedSeq2Seq())
"""


def log_pyfunc_model(experiment_id: str, run_id: str, model_dir: Path, tags: Mapping[str, str],
                     *, serving: Mapping[str, int | str]) -> str:
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
            signature=_signature(serving), model_config=dict(serving),
            pip_requirements=_pip_requirements(), tags={**tags, "recross.format": "pyfunc"})
    return info.model_id


def resolve_model_uri(uri: str, settings: Settings, *, dst: Path | None = None) -> Path:
    """Download a logged adapted model (``models:/name@alias``, ``models:/<id>``, ``runs:/...``)
    and return the local checkpoint directory (inside a pyfunc model: its checkpoint artifact).

    Without ``dst`` a local store hands back its own directory (no copy of a large checkpoint):
    read it, never write into it.
    """
    store = tracking_uri(settings)
    secrets = secret_values(settings)
    client = open_store(store, secrets)
    guarded(store, secrets, f"look up {uri}", lambda: _check_registered(client, uri))
    if dst is not None:
        dst.mkdir(parents=True, exist_ok=True)
    local = Path(guarded(store, secrets, f"download {uri}",
                         lambda: mlflow.artifacts.download_artifacts(
                             artifact_uri=uri, dst_path=str(dst) if dst else None,
                             tracking_uri=store, registry_uri=store)))
    if not (local / "MLmodel").is_file():
        return local
    flavor = Model.load(str(local)).flavors.get("python_function", {})
    checkpoint = flavor.get("artifacts", {}).get(CHECKPOINT_ARTIFACT, {}).get("path")
    if checkpoint is None:
        raise TrackingError(f"{uri} is an MLflow model without a {CHECKPOINT_ARTIFACT!r} artifact. "
                            "Fix: pass the URI of a model logged by Tracker.log_adapted_model.")
    return local / checkpoint


def _check_registered(client: MlflowClient, uri: str) -> None:
    """``models:/NAME@ALIAS`` or ``models:/NAME/VERSION`` whose name or alias is not registered:
    an error listing what is, instead of a download failure that seems to blame the store."""
    reference = uri.removeprefix("models:/")
    if reference == uri or not ("@" in reference or "/" in reference):
        return  # runs:/... or models:/<model id>
    name, _, alias = reference.partition("@")
    name = name.split("/")[0]
    registered = {model.name: model for model in client.search_registered_models(max_results=1000)}
    if name not in registered:
        names = sorted(registered)
        shown = ", ".join(f"models:/{n}@{a}" if (a := _first_alias(registered[n])) else n
                          for n in names[:MODELS_LISTED])
        more = f" and {len(names) - MODELS_LISTED} more" if len(names) > MODELS_LISTED else ""
        raise TrackingError(
            f"no registered model {name!r} in this MLflow store; "
            + (f"registered: {shown}{more}. " if names else "no model is registered yet. ")
            + "Fix: pass one of these, or the URI that `recross adapt` printed (models are "
            "registered per task and retriever: recross-<task>-<retriever>).")
    aliases = sorted(registered[name].aliases or {})
    if alias and alias not in aliases:
        raise TrackingError(f"registered model {name!r} has no alias {alias!r} (aliases: "
                            f"{', '.join(aliases) or 'none'}). Fix: use one of them.")


def _first_alias(model: Any) -> str | None:
    return min(model.aliases) if model.aliases else None
