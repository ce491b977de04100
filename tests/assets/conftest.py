"""A real Dagster instance in a temp dir and tiny-profile resources whose state lives there too."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
from recross.config import Settings, load_settings
from recross_assets.resources import (
    IndexResource,
    MlflowResource,
    ProfileResource,
    QdrantResource,
    RecrossResource,
    TrackerResource,
)


@pytest.fixture(scope="module")
def platform_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("platform")


@pytest.fixture(scope="module")
def tiny_platform_settings(platform_home: Path, data_dir: Path) -> Settings:
    return load_settings("tiny", overrides={
        "home": str(platform_home / "home"), "data": {"data_dir": str(data_dir)},
        "tracking": {"tracking_uri": f"sqlite:///{platform_home / 'mlflow.db'}"}}, environ={})


@pytest.fixture(scope="module")
def tiny_resources(tiny_platform_settings: Settings) -> dict[str, object]:
    s = tiny_platform_settings
    return {"recross": RecrossResource(
        profile=ProfileResource(profile="tiny", home=str(s.home)),
        qdrant=QdrantResource(),
        mlflow=MlflowResource(tracking_uri=s.tracking.tracking_uri)),
        "indexes": IndexResource(), "tracker": TrackerResource()}


@pytest.fixture(scope="module")
def dagster_instance(platform_home: Path):
    folder = platform_home / "dagster"
    folder.mkdir(exist_ok=True)
    # two heavy steps at once (the repo's dagster.yaml has one), so the graph tests exercise
    # the main job's worker processes and its run plan; one slot is the plain in-process loop
    with dg.instance_for_test(temp_dir=str(folder), overrides={
            "concurrency": {"pools": {"default_limit": 2, "granularity": "op"}}}) as instance:
        yield instance
