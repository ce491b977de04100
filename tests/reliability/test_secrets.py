"""QDRANT_API_KEY and credentials inside URIs never reach logs, MLflow params, Dagster's run
records or what the CLI prints (MLflow's own store is covered by tests/test_tracking.py)."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from click.testing import CliRunner
from recross.config import IndexSettings, load_settings
from recross.errors import IndexStoreError
from recross.index import open_index

API_KEY = "qdrant-key-7c1e09"
PASSWORD = "pw-5b9d44"
SECRETS = (API_KEY, PASSWORD)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, f"{secret!r} leaked in: ...{text[max(0, text.find(secret) - 200):][:400]}"


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, data_dir: Path) -> Iterator[str]:
    """The environment of a deployment with a Qdrant API key and an MLflow server login."""
    uri = f"http://alice:{PASSWORD}@127.0.0.1:{_closed_port()}"
    for name, value in {"QDRANT_API_KEY": API_KEY, "MLFLOW_TRACKING_URI": uri,
                        "RECROSS_HOME": str(tmp_path / "home"), "RECROSS_PROFILE": "tiny",
                        "RECROSS_DATA_DIR": str(data_dir)}.items():
        monkeypatch.setenv(name, value)
    yield uri


def test_mlflow_params_config_show_and_the_run_hint_hide_key_and_uri_credentials(secret_env):
    from recross.cli import cli
    from recross_assets.cli import _ui_hint

    settings = load_settings()
    assert settings.index.api_key.get_secret_value() == API_KEY
    assert settings.tracking.tracking_uri == secret_env  # the settings did receive both

    params = settings.logged_params()
    shown = CliRunner().invoke(cli, ["config", "show"])

    assert shown.exit_code == 0, shown.output
    assert params["tracking.tracking_uri"] == secret_env.replace(f"alice:{PASSWORD}", "***")
    assert json.loads(shown.output)["index"]["api_key"] == "**********"
    assert_no_secret(json.dumps(params), shown.output, _ui_hint(settings))


def test_dagster_materializations_record_no_secret(secret_env, capfd, caplog):
    from recross_assets.defs.upstream import sbert_index, upstream_pool
    from recross_assets.partitions import register_upstream_tasks
    from recross_assets.resources import default_resources

    caplog.set_level(logging.DEBUG)
    resources = default_resources()
    # The environment is read inside the run (load_settings), never copied into the definitions.
    assert resources["recross"].qdrant.api_key is None
    with dg.DagsterInstance.ephemeral() as instance:
        register_upstream_tasks(instance, ["ag_news"])
        result = dg.materialize([upstream_pool, sbert_index], resources=resources,
                                instance=instance, partition_key="ag_news")
        assert result.success
        records = [dg.serialize_value(entry) for entry in instance.all_logs(result.run_id)]
        run = instance.get_run_by_id(result.run_id)
    metadata = [str(m.metadata) for m in result.asset_materializations_for_node("sbert_index")]
    captured = capfd.readouterr()
    assert any('"points"' in r for r in records) and metadata  # the metadata was recorded
    assert_no_secret(*records, json.dumps(run.run_config, default=str), *metadata,
                     captured.out, captured.err, caplog.text)


def test_unreachable_server_retries_and_error_hide_key_and_url_credentials(tmp_path, capfd,
                                                                           caplog):
    caplog.set_level(logging.DEBUG)
    port = _closed_port()
    settings = IndexSettings(url=f"http://bob:{PASSWORD}@127.0.0.1:{port}", api_key=API_KEY,
                             backend="server", retries=2, retry_backoff_s=0.01, timeout_s=1)

    with pytest.raises(IndexStoreError, match="unreachable") as caught:
        open_index(settings, collection="pool", dimension=8, encoder_name="e", home=tmp_path)

    assert f"http://***@127.0.0.1:{port}" in str(caught.value)
    assert "retry 2/2" in caplog.text  # the retries were logged, with the URL
    captured = capfd.readouterr()
    assert_no_secret(str(caught.value), caplog.text, captured.out, captured.err)
