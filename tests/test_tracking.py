"""MLflow tracking against a real sqlite store in a temp dir (and a real MLflow server, slow)."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from recross.config import Settings, load_settings
from recross.data import Example, UpstreamPool
from recross.errors import TrackingError
from recross.io import is_complete
from recross.models.adaptation import adapt, load_adapted
from recross.models.generation import generate
from recross.redaction import redact
from recross.tracking import (
    METRICS,
    Tracker,
    compare_table,
    fetch_runs,
    registry_name_and_alias,
    resolve_model_uri,
    tracking_uri,
)
from recross.tracking.models import MODEL_NAME

SECRET_PASSWORD = "hunter2-pw"
SECRET_API_KEY = "qdrant-key-9f8e7d"


def _settings(home: Path, **overrides: object) -> Settings:
    return load_settings("tiny", overrides={"home": str(home), **overrides}, environ={})


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Tracker:
    """One tracker (one sqlite store) for the module: opening a store migrates it (seconds)."""
    return Tracker(_settings(tmp_path_factory.mktemp("home")), experiment="study-a")


def _adapted(out_dir: Path, mode: str, examples: list[Example]) -> Path:
    """A real adapted model as the pipeline writes it: the tiny BART fine-tuned for a few steps."""
    settings = load_settings("tiny", overrides={"adaptation": {"mode": mode}}, environ={})
    adapt("build:tiny-bart", examples, settings.adaptation, max_input_length=64,
          max_output_length=16, out_dir=out_dir, progress=False, device="cpu")
    return out_dir


@pytest.fixture(scope="module")
def examples(tiny_pool: UpstreamPool) -> list[Example]:
    return list(tiny_pool.examples[:8])


@pytest.fixture(scope="module")
def full_checkpoint(tmp_path_factory: pytest.TempPathFactory, examples: list[Example]) -> Path:
    return _adapted(tmp_path_factory.mktemp("adapted") / "full", "full", examples)


def test_default_store_is_sqlite_under_home_and_env_overrides(tmp_path: Path) -> None:
    home = tmp_path / "rel-home"
    assert tracking_uri(_settings(home)) == f"sqlite:///{home.resolve()}/mlflow.db"
    env = load_settings("tiny", environ={"MLFLOW_TRACKING_URI": "http://mlflow:5000"})
    assert tracking_uri(env) == "http://mlflow:5000"


def test_seed_runs_nest_under_parent_with_tags_params_metrics_and_artifacts(
        store: Tracker, tmp_path: Path) -> None:
    png = tmp_path / "task_shares.png"
    png.write_bytes(b"\x89PNG fake bytes for the artifact round trip")
    with store.parent_run(name="super_glue-cb/recross", tags={"dagster_run_id": "dg-1"},
                          params={"filters": "exclude_target_task"}) as parent:
        for seed, score in ((0, 44.0), (1, 46.0)):
            with store.seed_run(parent=parent, target_task="super_glue-cb", retriever="recross",
                                seed=seed, params={"query_size": 4, "retrieved_size": 32}) as run:
                run.log_metrics({"softem": score, "em": score - 10})
                run.log_retrieved_ids(["ag_news|train|t|#1", "sciq|train|t|#2"])
                run.log_task_distribution(pd.DataFrame(
                    {"upstream_task": ["ag_news", "sciq"], "share": [0.5, 0.5]}), png=png)
                run.log_predictions(pd.DataFrame({"id": ["e1"], "prediction": ["yes"]}))

    client = MlflowClient(store.uri, registry_uri=store.uri)
    parent_run = client.get_run(parent.run_id)
    assert parent_run.info.status == "FINISHED"
    assert parent_run.data.params["filters"] == "exclude_target_task"
    assert parent_run.data.params["retrieval.retrieved_size"] == "32"  # every setting is a param
    assert parent_run.data.params["adaptation.learning_rate"] == "0.001"
    children = client.search_runs([store.experiment_id],
                                  f"tags.mlflow.parentRunId = '{parent.run_id}'",
                                  order_by=["tags.seed ASC"])
    assert [c.data.tags["seed"] for c in children] == ["0", "1"]
    child = children[0]
    assert {k: child.data.tags[k] for k in ("retriever", "target_task", "dagster_run_id",
                                            "upstream_model")} == {
        "retriever": "recross", "target_task": "super_glue-cb", "dagster_run_id": "dg-1",
        "upstream_model": "build:tiny-bart"}
    assert child.data.params["query_size"] == "4"
    assert {k: child.data.params[k] for k in ("profile", "retrieval.retrieved_size",
                                              "retrieval.upsample_ratio", "adaptation.epochs",
                                              "retrieval.exclude_target_task")} == {
        "profile": "tiny", "retrieval.retrieved_size": "32", "retrieval.upsample_ratio": "2.0",
        "adaptation.epochs": "1.0", "retrieval.exclude_target_task": "True"}
    assert child.data.metrics == {"softem": 44.0, "em": 34.0}
    names = {a.path for a in client.list_artifacts(child.info.run_id)}
    assert names == {"retrieved_ids.json", "task_distribution.csv", "task_shares.png",
                     "predictions.csv"}
    ids = json.loads(Path(client.download_artifacts(
        child.info.run_id, "retrieved_ids.json", str(tmp_path))).read_text())
    assert ids == ["ag_news|train|t|#1", "sciq|train|t|#2"]
    artifact_root = Path(store.settings.home).resolve() / "mlartifacts"
    assert Path(child.info.artifact_uri.removeprefix("file://")).is_relative_to(artifact_root)


def test_run_that_raises_is_marked_failed(store: Tracker) -> None:
    with pytest.raises(RuntimeError, match="boom"), store.parent_run(name="failing") as parent:
        raise RuntimeError("boom")
    assert MlflowClient(store.uri, registry_uri=store.uri).get_run(parent.run_id).info.status == "FAILED"


def test_fetch_runs_keeps_latest_run_per_seed_and_compare_prints_table(tmp_path: Path) -> None:
    settings = _settings(tmp_path / "home", tracking={"experiment": "study-b"})
    tracker = Tracker(settings)
    for materialization, offset in (("old", 0.0), ("new", 10.0)):
        for retriever in ("recross", "none", "sbert"):
            with tracker.parent_run(name=f"cb/{retriever}/{materialization}",
                                    tags={"dagster_run_id": materialization}) as parent:
                for seed in (0, 1):
                    with tracker.seed_run(parent=parent, target_task="super_glue-cb",
                                          retriever=retriever, seed=seed) as run:
                        run.log_metrics({"softem": 40.0 + offset + seed, "em": 30.0 + seed})

    runs = fetch_runs(settings)
    assert len(runs) == 6
    assert set(runs["dagster_run_id"]) == {"new"}
    assert runs.loc[runs["seed"] == 1, "softem"].tolist() == [51.0, 51.0, 51.0]
    assert len(fetch_runs(settings, latest_only=False)) == 12
    table = compare_table(settings)
    header = next(line for line in table.splitlines() if line.startswith("| target task"))
    assert header == "| target task | none | sbert | recross |"
    assert "50.50 ± 0.50" in table


def test_fetch_runs_of_unknown_experiment_names_it_and_the_fix(store: Tracker) -> None:
    with pytest.raises(TrackingError, match="no experiment 'nope'.*Fix"):
        fetch_runs(store.settings, experiment="nope")


def test_adapted_model_registered_with_alias_loads_back_by_models_uri(
        store: Tracker, tmp_path: Path, examples: list[Example], full_checkpoint: Path) -> None:
    checkpoint = full_checkpoint
    with (store.parent_run(name="adapt", tags={}) as parent,
          store.seed_run(parent=parent, target_task="super_glue-cb", retriever="recross",
                         seed=0) as run):
        uri = store.log_adapted_model(run, checkpoint, registered_name="cb-recross",
                                      alias="seed0")
    assert uri == "models:/cb-recross@seed0"
    client = MlflowClient(store.uri, registry_uri=store.uri)
    version = client.get_model_version_by_alias("cb-recross", "seed0")
    assert version.run_id == run.run_id
    logged = client.get_logged_model(version.source.removeprefix("models:/"))
    assert logged.experiment_id == store.experiment_id
    assert logged.tags["recross.checkpoint_kind"] == "full"
    assert logged.tags["recross.format"] == "pyfunc"
    assert logged.artifact_location.startswith(
        (Path(store.settings.home).resolve() / "mlartifacts").as_uri())
    local = resolve_model_uri(uri, store.settings, dst=tmp_path / "download")
    assert is_complete(local)  # the completion marker travels, so load_adapted accepts it
    assert (local / "model.safetensors").read_bytes() == (
        checkpoint / "model.safetensors").read_bytes()
    by_run = resolve_model_uri(f"runs:/{run.run_id}/{MODEL_NAME}", store.settings)
    assert (by_run / "model.safetensors").is_file()
    prompts = [e.input for e in examples[:2]]
    expected = generate(load_adapted(checkpoint, device="cpu"), prompts, num_beams=1,
                        max_new_tokens=4, batch_size=2, progress=False)
    served = mlflow.pyfunc.load_model(uri).predict(prompts, params={"max_new_tokens": 4})
    assert served == expected


def test_registry_names_are_valid_and_a_bad_alias_names_the_fix(
        store: Tracker, tmp_path: Path) -> None:
    name, alias = registry_name_and_alias(target_task="super_glue-wsc.fixed",
                                          retriever="recross-dagger", seed=3)
    assert (name, alias) == ("recross-super_glue-wsc.fixed-recross-dagger", "seed-3")
    checkpoint = tmp_path / "adapter"
    checkpoint.mkdir()
    (checkpoint / "adapter_config.json").write_text("{}")
    with store.parent_run(name="bad-alias") as run, pytest.raises(
            TrackingError, match=r"Invalid alias name: 'seed 3'.*Fix: use a registered model"):
        store.log_adapted_model(run, checkpoint, registered_name=name, alias="seed 3",
                                large_model_bytes=0)


def test_lora_adapter_and_large_checkpoint_register_and_resolve(
        store: Tracker, tmp_path: Path, examples: list[Example], full_checkpoint: Path) -> None:
    adapter = _adapted(tmp_path / "lora", "lora", examples)
    full = full_checkpoint
    with (store.parent_run(name="adapt-lora", tags={}) as parent,
          store.seed_run(parent=parent, target_task="piqa", retriever="recross", seed=1) as run):
        small = store.log_adapted_model(run, adapter, registered_name="piqa-lora", alias="seed1")
        large = store.log_adapted_model(run, full, registered_name="piqa-full", alias="seed1",
                                        large_model_bytes=0)
    local_adapter = resolve_model_uri(small, store.settings)
    assert (local_adapter / "adapter_config.json").is_file() and is_complete(local_adapter)
    prompts = [examples[0].input]
    expected = generate(load_adapted(adapter, device="cpu"), prompts, num_beams=1,
                        max_new_tokens=4, batch_size=1, progress=False)
    assert mlflow.pyfunc.load_model(small).predict(prompts, params={"max_new_tokens": 4}) == (
        expected)

    local_full = resolve_model_uri(large, store.settings)
    assert not (local_full / "MLmodel").exists() and is_complete(local_full)
    assert load_adapted(local_full, device="cpu").model.config.d_model > 0
    version = MlflowClient(store.uri, registry_uri=store.uri).get_model_version_by_alias("piqa-full", "seed1")
    model_id = version.source.removeprefix("models:/")
    model = MlflowClient(store.uri, registry_uri=store.uri).get_logged_model(model_id)
    assert model.tags["recross.format"] == "checkpoint"
    by_id = resolve_model_uri(f"models:/{model_id}", store.settings)
    assert (by_id / "config.json").is_file()


def test_credentials_and_api_key_never_reach_params_tags_or_output(
        tmp_path: Path, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("QDRANT_API_KEY", SECRET_API_KEY)
    settings = _settings(tmp_path / "home", index={
        "url": f"https://admin:{SECRET_PASSWORD}@qdrant.example:6333", "api_key": SECRET_API_KEY})
    tracker = Tracker(settings)
    with (tracker.parent_run(name="secret", tags={"note": f"key={SECRET_API_KEY}"},
                             params={"qdrant": settings.index.url}) as parent,
          tracker.seed_run(parent=parent, target_task="cb", retriever="sbert", seed=0,
                           params={"raw_key": SECRET_API_KEY}) as run):
        run.log_metrics({"softem": 1.0, "em": 0.0})
    print(compare_table(settings))
    stored = MlflowClient(tracker.uri).search_runs([tracker.experiment_id])
    values = [v for r in stored for v in (*r.data.params.values(), *r.data.tags.values())]
    assert parent.run_id in {r.info.run_id for r in stored}
    assert "https://***@qdrant.example:6333" in values
    captured = capfd.readouterr()
    for text in (*values, captured.out, captured.err, caplog.text):
        assert SECRET_PASSWORD not in text and SECRET_API_KEY not in text


def test_unwritable_sqlite_uri_raises_tracking_error_with_fix(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    uri = f"sqlite:///{blocker}/mlflow.db"
    with pytest.raises(TrackingError, match=r"cannot be written.*Fix: set RECROSS_HOME") as err:
        Tracker(_settings(tmp_path / "home", tracking={"tracking_uri": uri}))
    assert uri in str(err.value)


def test_unreachable_server_error_hides_credentials(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    uri = f"http://alice:{SECRET_PASSWORD}@127.0.0.1:{port}"
    with pytest.raises(TrackingError, match="unreachable.*Fix") as err:
        Tracker(_settings(tmp_path / "home", tracking={"tracking_uri": uri}))
    assert SECRET_PASSWORD not in str(err.value)
    assert f"http://***@127.0.0.1:{port}" in str(err.value)


def test_redact_hides_uri_credentials_key_pairs_and_known_secrets() -> None:
    text = (f"postgresql://bob:{SECRET_PASSWORD}@db/mlflow QDRANT_API_KEY={SECRET_API_KEY} "
            f'{{"api-key": "abc"}} plain {SECRET_API_KEY}')
    shown = redact(text, secrets=[SECRET_API_KEY])
    assert shown == 'postgresql://***@db/mlflow QDRANT_API_KEY=*** {"api-key": "***"} plain ***'


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory):
    """A real `mlflow server` on a free port, with proxied artifacts in a temp dir."""
    root = tmp_path_factory.mktemp("server")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1", "--backend-store-uri", f"sqlite:///{root / 'server.db'}",
         "--artifacts-destination", str(root / "artifacts")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("mlflow server did not start within 90 s")
        yield port
    finally:  # the server and its uvicorn child share the session this fixture started
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


@pytest.mark.slow
def test_server_store_prints_no_credentials_and_links_runs(
        mlflow_server: int, tmp_path: Path, capfd: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    uri = f"http://alice:{SECRET_PASSWORD}@127.0.0.1:{mlflow_server}"
    settings = _settings(tmp_path / "home", tracking={"tracking_uri": uri})
    tracker = Tracker(settings)
    with (tracker.parent_run(name="served", tags={"dagster_run_id": "dg-9"}) as parent,
          tracker.seed_run(parent=parent, target_task="cb", retriever="recross", seed=0) as run):
        run.log_metrics(dict.fromkeys(METRICS, 50.0))
        run.log_retrieved_ids(["a|b|c|#1"])
    print(tracker.run_url(run.run_id))
    print(compare_table(settings))
    captured = capfd.readouterr()
    assert SECRET_PASSWORD not in captured.out + captured.err + caplog.text
    assert "127.0.0.1" in caplog.text  # the debug log did see the server, without the password
    assert tracker.run_url(run.run_id) == (
        f"http://127.0.0.1:{mlflow_server}/#/experiments/{tracker.experiment_id}"
        f"/runs/{run.run_id}")
    assert fetch_runs(settings)["softem"].tolist() == [50.0]
    assert SECRET_PASSWORD not in "".join(MlflowClient(uri).get_run(parent.run_id)
                                          .data.params.values())


def test_bare_postgresql_uri_uses_the_installed_psycopg2_driver() -> None:
    settings = load_settings("tiny", environ={"MLFLOW_TRACKING_URI": "postgresql://u@db/mlflow"})
    assert tracking_uri(settings) == "postgresql+psycopg2://u@db/mlflow"


@pytest.mark.parametrize("input_format", ["plain", "reference"])
def test_served_model_answers_as_the_evaluation_scored_it(
        tmp_path: Path, examples: list[Example], full_checkpoint: Path, input_format: str) -> None:
    """The pyfunc model keeps the evaluation's beams, answer length, input truncation and input
    format: served without params, it answers what the evaluation scored on the same inputs."""
    from recross.pipeline.evaluation import predict

    settings = _settings(tmp_path / "home", generation={"num_beams": 3, "max_new_tokens": 6,
                                                         "batch_size": 2},
                         models={"max_input_length": 12, "input_format": input_format})
    tracker = Tracker(settings, experiment="served")
    with tracker.parent_run(name="serve") as run:
        uri = tracker.log_adapted_model(run, full_checkpoint, registered_name="serve-check",
                                        alias="seed-0")
    prompts = [e.input for e in examples[:3]]
    scored = predict(settings, full_checkpoint, prompts, progress=False)
    assert mlflow.pyfunc.load_model(uri).predict(prompts) == scored
    default_generation = generate(load_adapted(full_checkpoint, device="cpu"), prompts,
                                  num_beams=1, max_new_tokens=64, batch_size=16,
                                  max_input_length=512, progress=False)
    assert scored != default_generation, "pick settings whose answers differ from the defaults"


def test_opening_a_store_leaves_the_next_settings_on_their_own_store(tmp_path, monkeypatch):
    """MLflow writes its URI into MLFLOW_TRACKING_URI, which load_settings reads above a config
    file: a study loaded after another store was opened in this process tracked into that one."""
    from recross.tracking import Tracker

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    first = load_settings("tiny", overrides={"home": str(tmp_path / "a")}, environ={})
    Tracker(first)
    assert "MLFLOW_TRACKING_URI" not in os.environ
    config = tmp_path / "study.yaml"
    config.write_text(f"tracking:\n  tracking_uri: sqlite:///{tmp_path / 'b.db'}\n")
    assert load_settings("tiny", config).tracking.tracking_uri == f"sqlite:///{tmp_path / 'b.db'}"
