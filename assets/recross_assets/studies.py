"""Studies: the asset graph run again under changed settings (quality benchmark, ablations).

A study writes its per-target results to its own folder and MLflow experiment and uses its own
in-memory Dagster instance (its partitions are not the main job's), while sharing the upstream
model, indexes and reranker with the main job through RECROSS_HOME. Its settings overrides
travel as resource config, the same way a launchpad run sets them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import dagster as dg
import yaml
from recross.config import Settings, load_settings

from recross_assets.main_job import MainJobResult, run_main_job
from recross_assets.resources import default_resources


def run_study(profile: str, overrides: Mapping[str, Any], *, base_config: Path | None = None,
              echo: Callable[[str], None] = print) -> tuple[Settings, MainJobResult]:
    """Run the main job with ``overrides`` (must name ``study``) on a fresh Dagster instance."""
    settings = load_settings(profile, base_config, overrides=dict(overrides))
    resources = default_resources(profile=profile,
                                  config_file=str(base_config) if base_config else None,
                                  overrides=yaml.safe_dump(dict(overrides)))
    with dg.DagsterInstance.ephemeral() as instance:
        result = run_main_job(settings, instance=instance, resources=resources, echo=echo)
    return settings, result
