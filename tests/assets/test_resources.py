"""Resources do the run-wide work: settings knobs from the launchpad, one open index per run
(closed at the end), one MLflow tracker per run."""

from __future__ import annotations

import pytest
from recross.config import Settings
from recross.errors import ConfigError, IndexStoreError
from recross.pipeline.upstream import build_pool_index, open_pool_index, write_pool_table
from recross_assets.resources import IndexResource, ProfileResource, TrackerResource


def test_launchpad_knobs_reach_the_settings_of_the_active_mode() -> None:
    full = ProfileResource(profile="tiny", retrieved_size=48, learning_rate=0.25).settings()
    assert full.retrieval.retrieved_size == 48 and full.adaptation.learning_rate == 0.25
    lora = ProfileResource(profile="tiny", learning_rate=0.5, adaptation_mode="lora",
                           overrides="{retrieval: {upsample_ratio: 3}}").settings()
    assert lora.adaptation.mode == "lora" and lora.adaptation.lora_learning_rate == 0.5
    assert lora.adaptation.learning_rate == ProfileResource(profile="tiny").settings(
    ).adaptation.learning_rate  # the full-tuning rate is left as the profile has it
    assert lora.retrieval.upsample_ratio == 3


@pytest.mark.parametrize("text, problem", [("[1, 2]", "holds a list"),
                                           ("{retrieval: [", "not valid YAML"),
                                           ("{retrieval: {upsample_ratio: 0.5}}",
                                            "upsample_ratio")])
def test_bad_resource_overrides_name_the_problem_and_the_fix(text: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem) as caught:
        ProfileResource(profile="tiny", overrides=text).settings()
    assert "Fix" in str(caught.value)


def test_a_run_opens_each_index_once_and_closes_it_at_teardown(tiny_settings: Settings) -> None:
    pool, _ = write_pool_table(tiny_settings)
    build_pool_index(tiny_settings, pool, "sbert", progress=False)
    resource = IndexResource()
    opened = resource.for_pool(tiny_settings, pool)
    handle = opened.get("sbert")
    assert resource.for_pool(tiny_settings, pool) is opened and opened.get("sbert") is handle
    assert handle.index.count() == len(pool)
    with pytest.raises(IndexStoreError, match="already open"):  # held for the whole run
        open_pool_index(tiny_settings, pool, "sbert")
    resource.teardown_after_execution(None)
    reopened = open_pool_index(tiny_settings, pool, "sbert")  # released at the end of the run
    reopened.index.close()


def test_a_run_shares_one_tracker_per_store(tiny_settings: Settings) -> None:
    resource = TrackerResource()
    first = resource.for_settings(tiny_settings)
    assert resource.for_settings(tiny_settings) is first
    other = tiny_settings.model_copy(deep=True)
    other.tracking.experiment = "another-study"
    assert resource.for_settings(other) is not first
