"""A catalog of bad inputs through the `recross` command: each exits non-zero with one message
naming the problem and the fix, prints no traceback, and changes nothing already written.

The command runs in this process (``recross.cli.main`` with ``sys.argv`` set, so error
handling is exactly the console script's). Inputs already tried through the CLI elsewhere
(tests/test_cli_user_task.py: empty query file, missing column, non-text query, misspelt filter
task, |R| = 0 or larger than the pool, mu < 1, a folder that is not a model) are not repeated.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from recross.cli import main
from recross.config import load_settings
from recross.index import collection_name, open_index
from recross.io import atomic_directory
from recross.models import load_seq2seq
from recross.pipeline import upstream

PREVIOUS_OUTPUT = '{"previous": "output, must survive"}\n'
# Our errors name a fix or the names meant; click's usage errors list the choices and point to -h.
FIX_HINTS = ("Fix", "Did you mean", "for help.")


@dataclass(frozen=True)
class BadInput:
    """``args``/``env`` may name prepared inputs as ``{name}`` (see the ``inputs`` fixture)."""

    id: str
    args: tuple[str, ...]
    expect: tuple[str, ...]  # fragments the error message must contain
    env: dict[str, str] = field(default_factory=dict)


RETRIEVE = ("retrieve", "--retriever", "random", "--out", "{previous}")
DENSE = ("retrieve", "--retriever", "sbert", "--out", "{previous}")
CATALOG: tuple[BadInput, ...] = (
    # data files
    BadInput("truncated-data-file", ("data", "info"), ("upstream-5000.json", "not valid JSON"),
             {"RECROSS_DATA_DIR": "{data_truncated}"}),
    BadInput("example-of-wrong-shape", ("data", "info"), ("[0]: expected a 3-element array",),
             {"RECROSS_DATA_DIR": "{data_wrong_shape}"}),
    BadInput("answers-not-a-list", ("data", "info"), ("answers", "list of strings"),
             {"RECROSS_DATA_DIR": "{data_answers_text}"}),
    BadInput("data-dir-without-split-json", ("data", "info"),
             ("holds no split.json", "recross data download"), {"RECROSS_DATA_DIR": "{empty_dir}"}),
    # task names
    BadInput("unknown-upstream-task", ("data", "info"), ("unknown upstream task 'ag_newz'",),
             {"RECROSS_CONFIG": "{config_unknown_task}"}),
    BadInput("unknown-target-task", ("evaluate", "--model", "upstream", "--data",
                                     "super_glue_cb"), ("super_glue_cb", "super_glue-cb")),
    BadInput("unknown-template", (*RETRIEVE, "--queries", "{queries}", "--include-template",
                                  "no_such_template"), ("template 'no_such_template'",)),
    # query sets
    # a repeated input is only refused on request (by default: a warning, the distinct inputs)
    BadInput("duplicated-query-set", (*RETRIEVE, "--queries", "{queries_duplicated}",
                                      "--refuse-repeats"), ("repeats line", "de-duplicate")),
    BadInput("over-long-query-set", (*RETRIEVE, "--queries", "{queries_too_many}"),
             ("40 distinct inputs, more than the 32", "--size")),
    BadInput("query-file-not-utf8", (*RETRIEVE, "--queries", "{queries_binary}"),
             ("not UTF-8",)),
    BadInput("query-file-unsupported-type", (*RETRIEVE, "--queries", "{queries_pdf}"),
             ("unsupported file type .pdf",)),
    BadInput("query-file-missing", (*RETRIEVE, "--queries", "{missing}"), ("no such file",)),
    BadInput("query-line-not-json", (*RETRIEVE, "--queries", "{queries_bad_jsonl}"),
             (":2: not a JSON object",)),
    BadInput("query-csv-empty-cell", (*RETRIEVE, "--queries", "{queries_empty_cell}"),
             (":3: empty 'input' cell",)),
    # |R|, mu, filters
    BadInput("negative-retrieved-size", (*RETRIEVE, "--queries", "{queries}", "--size", "-5"),
             ("--size", "x>=1")),
    BadInput("mu-below-one-in-config", (*RETRIEVE, "--queries", "{queries}"),
             ("retrieval.upsample_ratio", "greater than or equal to 1"),
             {"RECROSS_CONFIG": "{config_mu}"}),
    BadInput("filter-excluding-everything", (*RETRIEVE, "--queries", "{queries}",
                                             "--include-task", "sciq", "--exclude-task", "sciq"),
             ("leaves no upstream example", "widen")),
    # the index
    BadInput("collection-of-another-dimension", (*DENSE, "--queries", "{queries}"),
             ("dimension mismatch", "rebuild"), {"RECROSS_HOME": "{home_other_dimension}"}),
    BadInput("collection-of-another-encoder", (*DENSE, "--queries", "{queries}"),
             ("was built by encoder 'someone-elses-encoder'",),
             {"RECROSS_HOME": "{home_other_encoder}"}),
    BadInput("qdrant-url-not-answering", (*DENSE, "--queries", "{queries}"),
             ("the Qdrant server at http://127.0.0.1:", "is unreachable", "after 2 attempts"),
             {"QDRANT_URL": "{closed_url}", "RECROSS_CONFIG": "{config_fast_retries}"}),
    BadInput("export-file-that-is-not-an-export", ("index", "import", "--file",
                                                   "{not_an_export}"), ("not_an_export",)),
    # checkpoints
    BadInput("interrupted-adaptation-checkpoint", ("predict", "--model", "{interrupted_model}",
                                                   "--inputs", "{queries}", "--out",
                                                   "{previous}"),
             ("not a complete adapted model",)),
    BadInput("model-path-is-a-file", ("predict", "--model", "{queries}", "--inputs",
                                      "{queries}", "--out", "{previous}"),
             ("no such directory and not an MLflow URI",)),
    BadInput("unregistered-mlflow-model", ("predict", "--model", "models:/no-such-model@x",
                                           "--inputs", "{queries}", "--out", "{previous}"),
             ("no-such-model",)),
    BadInput("labelled-file-without-answers", ("evaluate", "--model", "upstream", "--data",
                                               "{queries_jsonl}"), ("has no answers",)),
    # configuration
    BadInput("config-unknown-key", ("config", "show"),
             ("retrieval.retreived_size", "Extra inputs are not permitted"),
             {"RECROSS_CONFIG": "{config_unknown_key}"}),
    BadInput("config-wrong-type", ("config", "show"),
             ("retrieval.retrieved_size", "valid integer"),
             {"RECROSS_CONFIG": "{config_wrong_type}"}),
    BadInput("config-not-a-mapping", ("config", "show"), ("holds a list, not a mapping",),
             {"RECROSS_CONFIG": "{config_list}"}),
    BadInput("config-invalid-yaml", ("config", "show"), ("not valid YAML",),
             {"RECROSS_CONFIG": "{config_invalid}"}),
    BadInput("config-file-missing", ("--config", "{missing}", "config", "show"),
             ("cannot read config file",)),
    BadInput("unknown-profile-in-environment", ("config", "show"), ("unknown profile 'huge'",),
             {"RECROSS_PROFILE": "huge"}),
    BadInput("unknown-retriever", ("retrieve", "--retriever", "tfidf", "--queries", "{queries}",
                                   "--out", "{previous}"), ("Invalid value for '--retriever'",)),
    # MLflow
    BadInput("mlflow-uri-not-writable", ("compare",), ("cannot be written",),
             {"MLFLOW_TRACKING_URI": "sqlite:///{previous}/mlflow.db"}),
    BadInput("mlflow-server-not-answering", ("compare",), ("is unreachable", "http://***@"),
             {"MLFLOW_TRACKING_URI": "{closed_url_with_password}"}),
    BadInput("mlflow-unknown-experiment", ("compare", "--experiment", "no-such-study"),
             ("no experiment 'no-such-study'",)),
)


def _closed_url(credentials: str = "") -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://{credentials}127.0.0.1:{sock.getsockname()[1]}"


def _broken_data_dir(root: Path, data_dir: Path, name: str, content: str) -> Path:
    """A data directory that links to the real one, with ag_news's file replaced."""
    folder = root / name
    folder.mkdir()
    for entry in data_dir.iterdir():
        if entry.name != "ag_news":
            (folder / entry.name).symlink_to(entry)
    (folder / "ag_news").mkdir()
    (folder / "ag_news" / "upstream-5000.json").write_text(content)
    return folder


def _home_with_collection(root: Path, base: Path, name: str, *, dimension: int,
                          encoder: str) -> Path:
    """A copy of ``base`` where the SBERT collection was built by another encoder."""
    home = root / name
    shutil.copytree(base, home)
    settings = load_settings("tiny", overrides={"home": str(home)}, environ={})
    pool = upstream.read_pool(settings)
    real = upstream.make_encoder(settings, "sbert")
    open_index(settings.index, collection=collection_name(real.name,
                                                          upstream.pool_fingerprint(pool)),
               dimension=dimension, encoder_name=encoder, home=home).close()
    return home


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> dict[str, str]:
    """Every prepared input, by name; ``home`` holds a pool table and an (untrained) tiny M."""
    root = tmp_path_factory.mktemp("bad-inputs")
    home = root / "home"
    settings = load_settings("tiny", overrides={"home": str(home),
                                                "data": {"data_dir": str(data_dir)}},
                             environ={})
    upstream.write_pool_table(settings)
    bundle = load_seq2seq(settings.models.upstream_model, device="cpu")
    with atomic_directory(upstream.upstream_model_dir(settings)) as staging:
        bundle.model.save_pretrained(staging)
        bundle.tokenizer.save_pretrained(staging)
    row = ["Question: what is it?", ["an answer"], "ag_news|train|p|#1"]
    files: dict[str, Path] = {
        "queries": root / "queries.txt",
        "queries_jsonl": root / "queries.jsonl",
        "queries_duplicated": root / "duplicated.txt", "queries_too_many": root / "many.txt",
        "queries_binary": root / "binary.txt", "queries_pdf": root / "queries.pdf",
        "queries_bad_jsonl": root / "bad.jsonl", "queries_empty_cell": root / "cells.csv",
        "config_unknown_task": root / "task.yaml", "config_mu": root / "mu.yaml",
        "config_fast_retries": root / "retries.yaml", "config_unknown_key": root / "key.yaml",
        "config_wrong_type": root / "type.yaml", "config_list": root / "list.yaml",
        "config_invalid": root / "invalid.yaml", "not_an_export": root / "not_an_export.parquet",
    }
    contents = {
        "queries": "Is this review positive? A fine film.\nIs this review positive? Dull.\n",
        "queries_jsonl": '{"input": "Is this review positive? A fine film."}\n',
        "queries_duplicated": "Is it spam? Win now.\nIs it spam? Hello.\nIs it spam? Win now.\n",
        "queries_too_many": "".join(f"Query number {i}?\n" for i in range(40)),
        "queries_pdf": "%PDF-1.4\n",
        "queries_bad_jsonl": '{"input": "fine"}\n{"input": "cut\n',
        "queries_empty_cell": "input,answers\nfine,yes\n ,no\n",
        "config_unknown_task": "data:\n  upstream_tasks: [ag_newz]\n",
        "config_mu": "retrieval:\n  upsample_ratio: 0.5\n",
        "config_fast_retries": "index:\n  retries: 1\n  retry_backoff_s: 0.01\n  timeout_s: 1\n",
        "config_unknown_key": "retrieval:\n  retreived_size: 512\n",
        "config_wrong_type": "retrieval:\n  retrieved_size: many\n",
        "config_list": "- retrieval\n- 512\n",
        "config_invalid": "retrieval: [unclosed\n",
        "not_an_export": "PAR1 but not really parquet",
    }
    for name, text in contents.items():
        files[name].write_text(text)
    files["queries_binary"].write_bytes(b"\xff\xfe\x00bad")
    interrupted = root / "interrupted-model"
    bundle.model.save_pretrained(interrupted)  # weights written, never marked complete
    empty = root / "empty-data"
    empty.mkdir()
    good = json.dumps([row])
    files.update({
        "home": home, "interrupted_model": interrupted, "empty_dir": empty,
        "missing": root / "missing.jsonl",
        "data_truncated": _broken_data_dir(root, data_dir, "truncated", good[:-5]),
        "data_wrong_shape": _broken_data_dir(root, data_dir, "shape", json.dumps([row[:2]])),
        "data_answers_text": _broken_data_dir(root, data_dir, "answers", json.dumps(
            [[row[0], "an answer", row[2]]])),
        "home_other_dimension": _home_with_collection(root, home, "home-dim", dimension=8,
                                                      encoder="someone-elses-encoder"),
        "home_other_encoder": _home_with_collection(root, home, "home-enc", dimension=32,
                                                    encoder="someone-elses-encoder"),
    })
    strings = {name: str(path) for name, path in files.items()}
    strings.update(closed_url=_closed_url(),
                   closed_url_with_password=_closed_url("alice:pw-1f2e@"),
                   data_dir=str(data_dir), root=str(root))
    return strings


def _snapshot(*paths: Path) -> dict[str, str]:
    """sha1 of every file under ``paths`` (Edge's lock file holds the last opener's pid)."""
    files = [p for path in paths for p in ([path] if path.is_file() else path.rglob("*"))
             if p.is_file() and p.name != ".lock"]
    return {str(p): hashlib.sha1(p.read_bytes()).hexdigest() for p in files}


def _run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """The console script in this process: its exit code and everything it printed."""
    sys.argv = ["recross", *args]
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.mark.parametrize("case", CATALOG, ids=[c.id for c in CATALOG])
def test_bad_input_exits_nonzero_naming_problem_and_fix_and_keeps_what_was_written(
        case: BadInput, inputs: dict[str, str], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], tmp_path: Path):
    previous = tmp_path / "previous.jsonl"  # an earlier command's output, named by --out
    previous.write_text(PREVIOUS_OUTPUT)
    inputs = {**inputs, "previous": str(previous)}
    env = {"RECROSS_HOME": inputs["home"], "RECROSS_PROFILE": "tiny",
           "RECROSS_DATA_DIR": inputs["data_dir"], "DAGSTER_HOME": inputs["root"],
           "MLFLOW_TRACKING_URI": f"sqlite:///{inputs['root']}/mlflow.db", **case.env}
    for name in ("QDRANT_URL", "QDRANT_API_KEY", "RECROSS_CONFIG", "RECROSS_TARGETS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value.format(**inputs))
    monkeypatch.setattr(sys, "argv", sys.argv)  # restored after the case
    written = (Path(inputs["home"]), Path(env["RECROSS_HOME"].format(**inputs)), previous)
    before = _snapshot(*written)

    code, output = _run_cli([a.format(**inputs) for a in case.args], capsys)

    assert code != 0, output
    assert "Traceback" not in output
    for fragment in case.expect:
        assert fragment in output, output
    assert any(hint in output for hint in FIX_HINTS), output
    assert "pw-1f2e" not in output
    assert _snapshot(*written) == before
    assert previous.read_text() == PREVIOUS_OUTPUT
    assert not list(Path(inputs["home"]).glob("**/.*.~*"))  # no temporaries left behind
