"""`recross evaluate --data <target>` scores the target's test sample: the same numbers as the
same examples passed as a labelled file, and the MLflow run is filed under the target."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from recross.config import load_settings
from recross.pipeline import target_data, upstream

pytestmark = pytest.mark.slow
TARGET = "super_glue-cb"
SCORES = re.compile(r"SoftEM (\S+)  EM (\S+)  NLL (\S+) .*\(n=(\d+)\)")


@pytest.fixture(scope="module")
def home(tmp_path_factory, data_dir) -> Path:
    root = tmp_path_factory.mktemp("evaluate")
    settings = load_settings("tiny", overrides={"home": str(root / "home"),
                                                "data": {"data_dir": str(data_dir)}}, environ={})
    pool, _ = upstream.write_pool_table(settings)
    upstream.ensure_upstream_model(settings, pool, progress=False)
    return root


def evaluate(root: Path, data: str) -> tuple[tuple[str, ...], str]:
    env = {**os.environ, "RECROSS_HOME": str(root / "home"), "RECROSS_PROFILE": "tiny",
           "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-m", "recross.cli", "evaluate", "--model", "upstream",
                           "--data", data], env=env, capture_output=True, text=True, timeout=600,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    scores = SCORES.search(done.stdout)
    assert scores, done.stdout
    return scores.groups(), done.stdout.split("MLflow run id: ")[1].split()[0]


def test_a_target_name_scores_its_test_sample_like_the_same_examples_in_a_file(home, data_dir):
    settings = load_settings("tiny", overrides={"home": str(home / "home"),
                                                "data": {"data_dir": str(data_dir)}}, environ={})
    examples = target_data.test_examples(settings, TARGET)  # (not imported: pytest'd collect it)
    labelled = home / "cb.jsonl"
    labelled.write_text("".join(json.dumps({"input": e.input, "answers": list(e.answers)}) + "\n"
                                for e in examples))

    by_name, run_id = evaluate(home, TARGET)
    by_file, _ = evaluate(home, str(labelled))

    assert by_name[-1] == str(settings.data.test_sample_size) == str(len(examples))
    assert by_name == by_file
    run = MlflowClient(tracking_uri=f"sqlite:///{home / 'mlflow.db'}").get_run(run_id)
    assert run.data.tags["target_task"] == TARGET
    assert run.data.metrics["softem"] == pytest.approx(float(by_name[0]), abs=0.005)
