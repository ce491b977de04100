"""Shared fixtures: the local data, tiny-profile settings with state in a temp dir, no network."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Settings must come from each test, never from the developer's shell.
for _var in ("RECROSS_PROFILE", "RECROSS_CONFIG", "RECROSS_HOME", "RECROSS_TARGETS",
             "MLFLOW_TRACKING_URI"):
    os.environ.pop(_var, None)
# QDRANT_URL / QDRANT_API_KEY name the server for the server cases only. Left in the
# environment, every CLI subprocess and Dagster run would silently use that server, so they move
# to names the library never reads; tests/index/index_helpers.py reads them back explicitly.
for _var in ("QDRANT_URL", "QDRANT_API_KEY"):
    if _var in os.environ:
        os.environ[f"RECROSS_TEST_{_var}"] = os.environ.pop(_var)

from recross.config import Settings, load_settings
from recross.data import UpstreamPool, load_upstream_pool, resolve_data_dir


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The ReCross data: RECROSS_DATA_DIR, else ../shared/recross-data."""
    return resolve_data_dir()


@pytest.fixture
def tiny_settings(tmp_path: Path, data_dir: Path) -> Settings:
    """Tiny-profile settings whose every artifact (index, models, MLflow) lives in tmp_path."""
    return load_settings("tiny", overrides={
        "home": str(tmp_path / "home"),
        "data": {"data_dir": str(data_dir)},
        "tracking": {"tracking_uri": f"sqlite:///{tmp_path / 'mlflow.db'}"},
    }, environ={})


@pytest.fixture(scope="session")
def tiny_pool(data_dir: Path) -> UpstreamPool:
    """The tiny profile's upstream pool: a few examples of six tasks."""
    settings = load_settings("tiny", environ={})
    return load_upstream_pool(data_dir, tasks=settings.data.upstream_tasks,
                              cap_per_task=settings.data.upstream_cap_per_task)
