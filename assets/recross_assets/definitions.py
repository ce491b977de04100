"""The code location: `dagster dev -m recross_assets.definitions` (DAGSTER_HOME holds dagster.yaml)."""

from __future__ import annotations

import dagster as dg

from recross_assets.defs.report import report
from recross_assets.defs.reranking import distant_supervision, reranker
from recross_assets.defs.targets import adapted_models, evaluations, query_sets, retrieved_sets
from recross_assets.defs.upstream import (
    bm25_index,
    hybrid_index,
    sbert_index,
    upstream_index,
    upstream_model,
    upstream_pool,
)
from recross_assets.resources import default_resources
from recross_assets.sensors import target_registry, upstream_registry

UPSTREAM_ASSETS = [upstream_pool, upstream_model, upstream_index, sbert_index,
                   distant_supervision, reranker]
TARGET_ASSETS = [query_sets, retrieved_sets, adapted_models, evaluations]
LEXICAL_INDEX_ASSETS = [bm25_index, hybrid_index]  # materialized for the retrievers that use them

upstream_job = dg.define_asset_job("upstream", selection=dg.AssetSelection.assets(*UPSTREAM_ASSETS),
                                   description="Pool, upstream model, both indexes, reranker.")
target_job = dg.define_asset_job("per_target", selection=dg.AssetSelection.assets(*TARGET_ASSETS),
                                 description="Query sets -> retrieval -> adaptation -> evaluation "
                                             "for one target x retriever partition.")

defs = dg.Definitions(
    assets=[*UPSTREAM_ASSETS, *LEXICAL_INDEX_ASSETS, *TARGET_ASSETS, report],
    jobs=[upstream_job, target_job],
    sensors=[target_registry, upstream_registry],
    resources=default_resources(),
)
