"""`recross retrieve --retriever bm25|hybrid|dsir` on a user's query file (tiny profile)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from recross.config import load_settings
from recross.pipeline import upstream
from recross.pipeline.lexical import build_lexical_collection

pytestmark = pytest.mark.slow
QUERIES = ["Summarize the dialogue: Anna: are you coming tonight? Ben: yes, at eight.",
           "Summarize the dialogue: Tom: did you buy milk? Ann: no, I forgot, sorry!",
           "What is the topic of this news article? Stocks rallied as the bank cut rates."]


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    """Pool, M, M's index and both lexical collections, built once (tiny profile)."""
    root = tmp_path_factory.mktemp("lexical-cli")
    settings = load_settings("tiny", overrides={"home": str(root / "home")}, environ={})
    pool, _ = upstream.write_pool_table(settings)
    upstream.ensure_upstream_model(settings, pool, progress=False)
    upstream.build_pool_index(settings, pool, "upstream", progress=False)
    for kind in ("bm25", "hybrid"):
        first = build_lexical_collection(settings, pool, kind, progress=False)
        again = build_lexical_collection(settings, pool, kind, progress=False)
        assert first.points == again.points == len(pool)
        assert (again.report.written, again.report.skipped) == (0, len(pool))  # idempotent
    (root / "queries.txt").write_text("\n".join(QUERIES) + "\n")
    return root


@pytest.mark.parametrize("retriever", ["bm25", "hybrid", "dsir"])
def test_retrieve_with_a_lexical_or_resampling_retriever(home, retriever):
    out_file = home / f"{retriever}.jsonl"
    env = {**os.environ, "RECROSS_HOME": str(home / "home"), "RECROSS_PROFILE": "tiny",
           "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-m", "recross.cli", "retrieve", "--queries",
                          str(home / "queries.txt"), "--retriever", retriever, "--size", "12",
                          "--exclude-task", "ag_news", "--out", str(out_file)],
                         env=env, check=False, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    rows = [json.loads(line) for line in out_file.read_text().splitlines()]
    assert len(rows) == 12 and {r["retriever"] for r in rows} == {retriever}
    assert "ag_news" not in {r["task"] for r in rows}
    if retriever == "bm25":  # the dialogue queries find samsum's dialogues first
        assert rows[0]["task"] == "samsum"
