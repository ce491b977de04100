"""The code location loads, and its graph is what users see in the UI."""

import subprocess
import sys

import dagster as dg
import pytest
from recross.retriever_names import RETRIEVERS


def test_definitions_load_with_every_asset_check_and_job():
    from recross_assets.definitions import defs

    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert keys == {"upstream_pool", "upstream_model", "upstream_index", "sbert_index",
                    "bm25_index", "hybrid_index", "distant_supervision", "reranker",
                    "query_sets", "retrieved_sets", "adapted_models", "evaluations", "report"}
    checks = {c.name for c in graph.asset_check_keys}
    assert {"point_count_equals_pool", "size_is_R", "no_target_leakage", "softem_in_range",
            "heldout_accuracy_above_chance"} <= checks
    partitions = defs.get_assets_def("retrieved_sets").partitions_def
    assert isinstance(partitions, dg.MultiPartitionsDefinition)
    dims = {d.name: d.partitions_def for d in partitions.partitions_defs}
    assert set(dims) == {"target", "retriever"}
    assert list(dims["retriever"].get_partition_keys()) == list(RETRIEVERS)
    assert defs.resolve_job_def("per_target") is not None


@pytest.mark.slow  # a fresh `dagster` process imports the whole code location: ~45 s on 2 cores
def test_dagster_cli_validates_the_code_location():
    out = subprocess.run([sys.executable, "-m", "dagster", "definitions", "validate", "-m",
                          "recross_assets.definitions"], check=False, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
