"""``models.device`` reaches the trainer of every adaptation, not a silent ``auto``."""

from __future__ import annotations

import inspect

import pandas as pd
import pytest
from recross.config import Settings
from recross.models import adaptation as adaptation_module
from recross.models import training
from recross.pipeline.adaptation import adapt_for_target
from recross.pipeline.layout import TargetPaths
from recross.pipeline.upstream import ensure_upstream_model, write_pool_table


def test_adapt_has_no_default_device() -> None:
    """A caller that forgets the device fails loudly instead of training on a GPU it was told
    not to use."""
    assert inspect.signature(adaptation_module.adapt).parameters["device"].default is (
        inspect.Parameter.empty)


@pytest.mark.slow
def test_models_device_setting_reaches_the_adaptation_trainer(
        tiny_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = tiny_settings.model_copy(deep=True)
    settings.models.device = "cpu"
    pool, _ = write_pool_table(settings)
    ensure_upstream_model(settings, pool, progress=False)
    paths = TargetPaths.of(settings, "super_glue-cb", "random")
    paths.retrieved(0).parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"example_id": [e.example_id for e in pool.examples[:8]]}).to_parquet(
        paths.retrieved(0), index=False)
    seen: list[str] = []
    real = training.resolve_device

    def recording(device: str):
        seen.append(device)
        return real(device)

    monkeypatch.setattr(training, "resolve_device", recording)
    adapt_for_target(settings, pool, target="super_glue-cb", retriever="random", seeds=[0],
                     progress=False)
    assert seen == ["cpu"]
