"""A developer's QDRANT_URL reaches the server cases only, never a CLI subprocess or a Dagster
run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).parent

_PROBE = """
import os
from recross.config import load_settings
assert "QDRANT_URL" not in os.environ and "QDRANT_API_KEY" not in os.environ, dict(os.environ)
assert load_settings("tiny").index.backend == "edge"
"""


def test_a_shell_qdrant_url_is_hidden_from_the_library_and_kept_for_the_server_cases(tmp_path):
    """Runs pytest on a probe with QDRANT_URL set, as a developer running the server cases does."""
    probe = tmp_path / "test_probe.py"
    index_dir, library_probe = str(TESTS / "index"), _PROBE
    probe.write_text(
        "import subprocess, sys\n"
        f"sys.path.insert(0, {index_dir!r})\n"
        "from index_helpers import server_api_key_from_env, server_url_from_env\n\n"
        "def test_probe():\n"
        "    assert server_url_from_env() == 'http://qdrant.invalid:6333'\n"
        "    assert server_api_key_from_env() == 'k'\n"
        f"    subprocess.run([sys.executable, '-c', {library_probe!r}], check=True)\n")
    (tmp_path / "conftest.py").write_text((TESTS / "conftest.py").read_text())
    env = {**os.environ, "QDRANT_URL": "http://qdrant.invalid:6333", "QDRANT_API_KEY": "k"}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           str(probe)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
