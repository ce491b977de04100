"""A write that fails for lack of space keeps the previous complete artifact, and says so.

The child process runs under RLIMIT_FSIZE (set via ``preexec_fn``): every write past 1 KB fails
with EFBIG, as a full disk fails with ENOSPC, in the middle of the file. It rewrites three
complete artifacts with bigger ones: the pool table (``write_pool_table``), an adapted model
directory (``adapt`` into an existing ``out_dir``) and a ``recross retrieve --out`` file.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import resource
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from recross.config import load_settings
from recross.models import adapt, load_adapted
from recross.pipeline import upstream

FILE_SIZE_LIMIT = 1024  # bytes; every artifact below is larger

CHILD = textwrap.dedent("""
    import contextlib, io, json, os, sys
    from pathlib import Path
    from recross.config import load_settings
    from recross.models import adapt
    from recross.pipeline import upstream
    from recross.cli import main

    home, adapted, queries, out = (Path(p) for p in sys.argv[1:5])
    report = {}

    def attempt(name, call):
        try:
            call()
            report[name] = "written"
        except OSError as exc:
            report[name] = exc.errno

    bigger = load_settings("tiny", overrides={"home": str(home),
                                              "data": {"upstream_cap_per_task": 24}})
    attempt("pool_table", lambda: upstream.write_pool_table(bigger))
    pool = upstream.read_pool(load_settings("tiny", overrides={"home": str(home)}))
    attempt("adapted_model", lambda: adapt(
        "build:tiny-bart", pool.examples[24:32], bigger.adaptation, max_input_length=64,
        max_output_length=16, out_dir=adapted, progress=False, device="cpu"))
    stderr = io.StringIO()
    sys.argv = ["recross", "retrieve", "--queries", str(queries), "--retriever", "random",
                "--size", "8", "--out", str(out)]
    with contextlib.redirect_stderr(stderr):
        try:
            main()
            report["cli_exit"] = 0
        except SystemExit as exc:
            report["cli_exit"] = exc.code
    report["cli_stderr"] = stderr.getvalue()
    print(json.dumps(report))
""")


def _digest(path: Path) -> dict[str, str]:
    """sha1 of every file under ``path`` (or of ``path`` itself), by relative name."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return {str(p.relative_to(path.parent)): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in files}


def _limit_file_size() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, FILE_SIZE_LIMIT))


@pytest.mark.slow
def test_writes_failing_for_lack_of_space_keep_the_previous_artifacts(tmp_path, data_dir):
    home = tmp_path / "home"
    settings = load_settings("tiny", overrides={"home": str(home)}, environ={})
    pool, pool_path = upstream.write_pool_table(settings)
    adapted = tmp_path / "adapted"
    adapt("build:tiny-bart", pool.examples[:8], settings.adaptation, max_input_length=64,
          max_output_length=16, out_dir=adapted, progress=False, device="cpu")
    queries, out = tmp_path / "queries.txt", tmp_path / "retrieved.jsonl"
    queries.write_text("Is this review positive? Great film.\n")
    out.write_text('{"previous": "retrieval"}\n')
    before = {**_digest(pool_path), **_digest(adapted), **_digest(out)}

    env = {**os.environ, "RECROSS_HOME": str(home), "RECROSS_PROFILE": "tiny",
           "RECROSS_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    child = subprocess.run([sys.executable, "-c", CHILD, str(home), str(adapted), str(queries),
                            str(out)], env=env, capture_output=True, text=True, timeout=300,
                           preexec_fn=_limit_file_size, check=False)
    assert child.returncode == 0, child.stderr
    report = json.loads(child.stdout.strip().splitlines()[-1])

    assert report["pool_table"] == report["adapted_model"] == errno.EFBIG
    assert report["cli_exit"] == 2
    assert f"error: File too large while writing {out}. Fix: free disk space" in \
        report["cli_stderr"] and "Traceback" not in report["cli_stderr"]
    after = {**_digest(pool_path), **_digest(adapted), **_digest(out)}
    assert after == before  # byte for byte, and no temporary file left beside them
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adapted", "home", "queries.txt",
                                                          "retrieved.jsonl"]
    # the bigger pool's tables (their own folder, named for the cap) left no file behind
    assert [p for p in pool_path.parent.rglob("*") if p.is_file() and p.parent != pool_path] == []
    assert len(upstream.read_pool(settings)) == len(pool)
    assert load_adapted(adapted, device="cpu").model is not None
