"""A user's own task end to end through the `recross` command, in subprocesses (tiny profile)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
from mlflow.tracking import MlflowClient
from recross.pipeline import upstream
from recross.pipeline.layout import TargetPaths

pytestmark = pytest.mark.slow
QUERIES = ["Is this review positive or negative? I loved every minute of it.",
           "Is this review positive or negative? Dull plot and wooden acting.",
           "Is this review positive or negative? A masterpiece of the genre."]


@pytest.fixture(scope="module")
def home(tmp_path_factory, data_dir) -> Path:
    """Upstream model and both indexes built once for the module (tiny profile)."""
    root = tmp_path_factory.mktemp("cli")
    from recross.config import load_settings

    settings = load_settings("tiny", overrides={"home": str(root / "home")}, environ={})
    pool, _ = upstream.write_pool_table(settings)
    upstream.ensure_upstream_model(settings, pool, progress=False)
    upstream.build_pool_index(settings, pool, "upstream", progress=False)
    return root


def recross(home: Path, *args: str, check: bool = True,
            env_changes: dict[str, str | None] | None = None) -> subprocess.CompletedProcess:
    """Run `python -m recross.cli` on the module's state; ``env_changes`` None values unset."""
    env = {**os.environ, "RECROSS_HOME": str(home / "home"), "RECROSS_PROFILE": "tiny",
           "MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlflow.db'}",
           "DAGSTER_HOME": str(home / "dagster"), "HF_HUB_OFFLINE": "1"}
    for name, value in (env_changes or {}).items():
        if value is None:
            env.pop(name)
        else:
            env[name] = value.format(home=home)
    (home / "dagster").mkdir(exist_ok=True)
    out = subprocess.run([sys.executable, "-m", "recross.cli", *args], env=env,
                         check=False, capture_output=True, text=True, timeout=600)
    if check:
        assert out.returncode == 0, out.stdout + out.stderr
    return out


@pytest.fixture(scope="module")
def query_file(home: Path) -> Path:
    path = home / "queries.jsonl"
    path.write_text("".join(json.dumps({"input": q}) + "\n" for q in QUERIES))
    return path


def test_every_command_has_help(home):
    for command in (["retrieve"], ["adapt"], ["predict"], ["evaluate"], ["compare"],
                    ["task", "add"], ["upstream", "add"], ["run"], ["ablate"], ["data", "download"],
                    ["index", "export"], ["index", "import"]):
        out = recross(home, *command, "--help")
        assert "Usage:" in out.stdout


def test_retrieve_respects_include_and_exclude_filters(home, query_file):
    out_file = home / "retrieved.jsonl"
    out = recross(home, "retrieve", "--queries", str(query_file), "--retriever", "recross-dagger",
                  "--size", "12", "--include-task", "ag_news", "--include-task", "rotten_tomatoes",
                  "--include-task", "sciq", "--exclude-task", "sciq", "--out", str(out_file))
    rows = [json.loads(line) for line in out_file.read_text().splitlines()]
    assert len(rows) == 12
    assert {r["task"] for r in rows} <= {"ag_news", "rotten_tomatoes"}
    assert all(r["query_index"] in (0, 1, 2) and r["rank"] >= 1 for r in rows)
    assert "retrieved task distribution" in out.stdout
    distinct = len({r["example_id"] for r in rows})
    assert f"retrieved 12 examples, {distinct} distinct" in out.stdout


def test_adapt_logs_filters_to_mlflow_and_the_model_predicts_and_evaluates(home, query_file):
    model_dir = home / "adapted"
    out = recross(home, "adapt", "--queries", str(query_file), "--retriever", "random",
                  "--size", "8", "--exclude-task", "samsum", "--out", str(model_dir),
                  "--name", "reviews")
    run_id = out.stdout.split("MLflow run id: ")[1].split()[0]
    run = MlflowClient(tracking_uri=f"sqlite:///{home / 'mlflow.db'}").get_run(run_id)
    assert run.data.params["exclude_tasks"] == "samsum"
    assert run.data.params["retriever"] == "random"
    labelled = home / "labelled.jsonl"
    labelled.write_text("".join(json.dumps({"input": q, "answers": ["positive"]}) + "\n"
                                for q in QUERIES))
    preds = home / "preds.jsonl"
    recross(home, "predict", "--model", str(model_dir), "--inputs", str(labelled),
            "--out", str(preds))
    assert len(preds.read_text().splitlines()) == len(QUERIES)
    scores = recross(home, "evaluate", "--model", str(model_dir), "--data", str(labelled))
    assert "SoftEM" in scores.stdout and "(n=3)" in scores.stdout


def test_task_add_registers_a_partition_whose_query_sets_materialize(home, query_file):
    recross(home, "task", "add", "my_reviews", "--queries", str(query_file))
    from recross.config import load_settings
    from recross_assets.defs.targets import query_sets
    from recross_assets.resources import default_resources

    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        assert "my_reviews" in instance.get_dynamic_partitions("targets")
        key = dg.MultiPartitionKey({"target": "my_reviews", "retriever": "random"})
        result = dg.materialize([query_sets], instance=instance, partition_key=str(key),
                                resources=default_resources(profile="tiny",
                                                            home=str(home / "home")))
        assert result.success
    settings = load_settings("tiny", overrides={"home": str(home / "home")}, environ={})
    saved = json.loads(TargetPaths.of(settings, "my_reviews", "random").query_sets.read_text())
    assert saved[0]["inputs"] == QUERIES


@pytest.mark.parametrize("args, message", [
    (["retrieve", "--queries", "{empty}", "--out", "x.jsonl"], "file is empty"),
    (["retrieve", "--queries", "{nocol}", "--column", "text", "--out", "x.jsonl"],
     "no column 'text'"),
    (["retrieve", "--queries", "{nontext}", "--out", "x.jsonl"], "must be non-empty text"),
    (["retrieve", "--queries", "{good}", "--retriever", "random", "--include-task", "ag_newz",
      "--out", "x.jsonl"], "ag_news"),
    (["retrieve", "--queries", "{good}", "--retriever", "random", "--size", "100000",
      "--out", "x.jsonl"], "100000"),
    (["retrieve", "--queries", "{good}", "--retriever", "random", "--size", "0",
      "--out", "x.jsonl"], "--size"),
    (["retrieve", "--queries", "{good}", "--retriever", "random", "--size", "2",
      "--out", "x.jsonl"], "--size"),
    (["retrieve", "--queries", "{good}", "--retriever", "recross", "--mu", "0.5",
      "--out", "x.jsonl"], "--mu"),
    (["adapt", "--queries", "{good}", "--retriever", "random", "--out", "m"], "--name"),
    (["adapt", "--retrieved", "{foreign}", "--out", "m", "--name", "t"],
     "not in this profile's upstream pool"),
    (["adapt", "--retrieved", "{foreign}", "--size", "4", "--out", "m"], "--size"),
    (["predict", "--model", "{notmodel}", "--inputs", "{good}", "--out", "x.jsonl"],
     "is not a complete adapted model"),
])
def test_bad_user_input_gives_a_message_and_nonzero_exit(home, query_file, args, message):
    files = {"empty": home / "empty.txt", "nocol": home / "q.csv", "nontext": home / "n.jsonl",
             "good": query_file, "notmodel": home / "not-a-model",
             "foreign": home / "foreign.jsonl"}
    files["foreign"].write_text(json.dumps({"example_id": "nowhere|train|p|#1", "score": 1.0,
                                            "retriever": "random"}) + "\n")
    files["empty"].write_text("")
    files["nocol"].write_text("input,answers\nhello,x\n")
    files["nontext"].write_text('{"input": 3}\n')
    files["notmodel"].mkdir(exist_ok=True)
    (files["notmodel"] / "config.json").write_text("{}")
    out = recross(home, *[a.format(**files) for a in args], check=False)
    assert out.returncode != 0
    assert message in out.stderr, out.stderr
    assert "Traceback" not in out.stderr


def test_predict_writes_one_row_per_input_line_repeats_included(home):
    inputs = home / "repeating.txt"
    lines = [QUERIES[0], QUERIES[1], QUERIES[0], QUERIES[2], QUERIES[0]]
    inputs.write_text("\n".join(lines) + "\n")
    preds = home / "repeating-preds.jsonl"
    recross(home, "predict", "--model", "upstream", "--inputs", str(inputs), "--out", str(preds))
    rows = [json.loads(line) for line in preds.read_text().splitlines()]
    assert [row["input"] for row in rows] == lines
    assert rows[0]["prediction"] == rows[2]["prediction"] == rows[4]["prediction"]


def _registered(home: Path) -> dict[str, dict[str, str]]:
    # registry_uri too: MlflowClient otherwise asks the registry mlflow.set_registry_uri last
    # named in this process (another test's store)
    uri = f"sqlite:///{home / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    return {model.name: {alias: client.get_model_version(model.name, version).run_id
                         for alias, version in model.aliases.items()}
            for model in client.search_registered_models()}


def test_adapted_models_are_registered_per_task_and_retriever(home, query_file):
    retrieved = home / "dagger.jsonl"
    recross(home, "retrieve", "--queries", str(query_file), "--retriever", "recross-dagger",
            "--size", "8", "--name", "perret", "--out", str(retrieved))
    by_dagger = recross(home, "adapt", "--retrieved", str(retrieved), "--out",
                        str(home / "perret-dagger"))
    by_random = recross(home, "adapt", "--queries", str(query_file), "--retriever", "random",
                        "--size", "8", "--name", "perret", "--out", str(home / "perret-random"))
    run_of = {name: out.stdout.split("MLflow run id: ")[1].split()[0]
              for name, out in (("recross-dagger", by_dagger), ("random", by_random))}
    registered = _registered(home)
    assert registered["recross-perret-recross-dagger"]["current"] == run_of["recross-dagger"]
    assert registered["recross-perret-random"]["current"] == run_of["random"]
    # --retrieved adapted on the stored set as it is, no new retrieval
    run = MlflowClient(tracking_uri=f"sqlite:///{home / 'mlflow.db'}").get_run(
        run_of["recross-dagger"])
    assert run.data.params["retriever"] == "recross-dagger"
    assert "retrieving" not in by_dagger.stdout
    missing = recross(home, "predict", "--model", "models:/recross-perret@current", "--inputs",
                      str(query_file), "--out", str(home / "x.jsonl"), check=False)
    assert missing.returncode == 2
    assert "no registered model 'recross-perret'" in missing.stderr
    assert "models:/recross-perret-random@current" in missing.stderr


def test_evaluate_logs_a_run_that_compare_shows(home, query_file):
    model_dir = home / "evaluated"
    recross(home, "adapt", "--queries", str(query_file), "--retriever", "random", "--size", "8",
            "--name", "graded", "--out", str(model_dir))
    labelled = home / "labelled.jsonl"
    labelled.write_text("".join(json.dumps({"input": q, "answers": ["positive"]}) + "\n"
                                for q in QUERIES))
    out = recross(home, "evaluate", "--model", str(model_dir), "--data", str(labelled))
    run_id = out.stdout.split("MLflow run id: ")[1].split()[0]
    run = MlflowClient(tracking_uri=f"sqlite:///{home / 'mlflow.db'}").get_run(run_id)
    assert run.data.tags["target_task"] == "graded"
    assert run.data.tags["retriever"] == "random"
    assert run.data.tags["seed"] == "0"
    assert {"softem", "em", "nll", "rank_acc", "rank_coverage", "top_share"} <= set(
        run.data.metrics)
    assert run.data.metrics["nll"] > 0 and run.data.metrics["rank_coverage"] == 0.0
    assert "NLL " in out.stdout and "rank accuracy n/a (no example has known choices)" in out.stdout
    assert run.data.params["n_test"] == "3"
    assert "graded" in recross(home, "compare").stdout


@pytest.mark.parametrize("env_changes, labelled_text, message", [
    ({"DAGSTER_HOME": None}, None, "DAGSTER_HOME is not set"),
    ({}, '{"input": "no answers here"}\n', "has no answers"),
    ({"DAGSTER_HOME": "{home}/broken-dagster"}, None, "cannot open the Dagster instance"),
])
def test_failed_task_add_leaves_nothing_behind(home, query_file, env_changes, labelled_text,
                                               message):
    (home / "broken-dagster").mkdir(exist_ok=True)
    (home / "broken-dagster" / "dagster.yaml").write_text("run_storage: [unclosed\n")
    args = ["task", "add", "half_added", "--queries", str(query_file)]
    if labelled_text is not None:
        labelled = home / "unlabelled.jsonl"
        labelled.write_text(labelled_text)
        args += ["--data", str(labelled)]
    out = recross(home, *args, check=False, env_changes=env_changes)
    assert out.returncode != 0 and message in out.stderr, out.stderr
    assert not (home / "home" / "tasks" / "half_added").exists()
