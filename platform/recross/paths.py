"""The layout of the state folder ``RECROSS_HOME`` (default ``.recross/``).

One place names every path the platform writes, so assets, CLI and tests agree on it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path


def slug(text: str) -> str:
    """A file-system-safe name for a model id, task or collection (``a/b:c`` -> ``a--b-c``)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text.replace("/", "--")).strip("-")


@dataclass(frozen=True)
class StatePaths:
    home: Path

    @property
    def models(self) -> Path:
        return self.home / "models"

    def upstream_model(self, name: str) -> Path:
        return self.models / "upstream" / slug(name)

    def training_checkpoints(self, name: str) -> Path:
        return self.models / "upstream-training" / slug(name)

    def reranker(self, name: str) -> Path:
        return self.models / "reranker" / slug(name)

    @property
    def int8_encoders(self) -> Path:
        """ONNX int8 copies of the index encoders, one file per (weights, max length)."""
        return self.models / "onnx-int8"

    @property
    def qdrant(self) -> Path:
        """Embedded Qdrant Edge shards: one folder per collection."""
        return self.home / "qdrant"

    @property
    def dsir(self) -> Path:
        """DSIR's hashed n-gram counts of a pool, one file per (pool, buckets, n-gram order)."""
        return self.home / "dsir"

    @property
    def tables(self) -> Path:
        return self.home / "tables"

    def mining(self, name: str) -> Path:
        return self.home / "mining" / slug(name)

    @property
    def logs(self) -> Path:
        """Text logs of long jobs (the main job's Dagster events)."""
        return self.home / "logs"

    @property
    def reports(self) -> Path:
        return self.home / "reports"

    @property
    def user_tasks(self) -> Path:
        return self.home / "tasks"

    @property
    def user_upstream_tasks(self) -> Path:
        """Upstream tasks a user added (`recross upstream add`), one folder each."""
        return self.home / "upstream_tasks"

    @property
    def mlflow_db(self) -> Path:
        return self.home / "mlflow.db"

    @property
    def mlflow_artifacts(self) -> Path:
        return self.home / "mlartifacts"
