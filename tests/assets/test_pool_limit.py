"""dagster.yaml keeps two CPU-heavy steps off the same cores: the instance it configures reads a
limit of one slot per pool and one run at a time, and every heavy asset is in the pool (two
slots measured no faster on 2 cores: dagster.yaml)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
from recross_assets.defs.upstream import CPU_POOL

REPO = Path(__file__).resolve().parents[2]
HEAVY = {"upstream_model", "upstream_index", "sbert_index", "distant_supervision", "reranker",
         "adapted_models", "evaluations"}


def test_the_repo_instance_allows_one_step_per_pool_and_one_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the relative storage folders of dagster.yaml land here
    instance = dg.DagsterInstance.from_config(str(REPO))
    try:
        config = instance.get_concurrency_config()
    finally:
        instance.dispose()
    assert config.pool_config.default_pool_limit == 1
    assert config.pool_config.pool_granularity.value == "op"
    assert config.run_queue_config.max_concurrent_runs == 1


@pytest.mark.parametrize("asset", sorted(HEAVY))
def test_every_cpu_heavy_asset_takes_a_slot_of_the_pool(asset):
    from recross_assets.definitions import defs

    assert defs.get_assets_def(asset).op.pool == CPU_POOL
