"""Where the per-target products of a study live: one folder per (target task, retriever)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from recross.config import Settings
from recross.paths import slug


@dataclass(frozen=True)
class TargetPaths:
    """Where one (target, retriever) partition keeps its products."""

    root: Path

    @classmethod
    def of(cls, settings: Settings, target: str, retriever: str) -> TargetPaths:
        return cls(study_root(settings) / slug(target) / slug(retriever))

    @property
    def query_sets(self) -> Path:
        return self.root / "query_sets.json"

    def retrieved(self, seed: int) -> Path:
        return self.root / "retrieved" / f"seed-{seed}.parquet"

    def predictions(self, seed: int) -> Path:
        return self.root / "predictions" / f"seed-{seed}.parquet"

    def adapted(self, seed: int) -> Path:
        return self.root / "adapted" / f"seed-{seed}"

    @property
    def evaluation(self) -> Path:
        return self.root / "evaluation.parquet"


def study_root(settings: Settings) -> Path:
    """Where the per-target results of ``settings.study`` live."""
    return Path(settings.home) / "studies" / slug(settings.study)
