"""The Dagster webserver started for real on 127.0.0.1 and asked over GraphQL for the graph."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

pytestmark = pytest.mark.slow

QUERY = """{ assetNodes { assetKey { path } isPartitioned
             partitionDefinition { dimensionTypes { name } } } }"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/graphql",
                                     data=json.dumps({"query": query}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_webserver_serves_the_asset_graph_and_partitions(tmp_path):
    port = _free_port()
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    server = subprocess.Popen([sys.executable, "-m", "dagster_webserver", "-h", "127.0.0.1",
                               "-p", str(port), "-m", "recross_assets.definitions"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                data = _graphql(port, QUERY)["data"]
                if data.get("assetNodes"):
                    break
            except OSError:
                pass
            assert server.poll() is None, "webserver exited"
            assert time.monotonic() < deadline, "webserver did not answer in 120 s"
            time.sleep(1)
        nodes = {"/".join(n["assetKey"]["path"]): n for n in data["assetNodes"]}
        assert {"upstream_pool", "upstream_index", "sbert_index", "reranker", "report"} <= set(nodes)
        partitioned = nodes["retrieved_sets"]
        assert partitioned["isPartitioned"]
        dims = {d["name"] for d in partitioned["partitionDefinition"]["dimensionTypes"]}
        assert dims == {"target", "retriever"}
    finally:
        server.terminate()
        server.wait(timeout=30)
