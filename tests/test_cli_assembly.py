"""The `recross` command is assembled in one place (recross.cli), without importing dagster."""

from __future__ import annotations

import os
import subprocess
import sys

from click.testing import CliRunner
from recross.cli import DAGSTER_COMMANDS, cli


def test_the_library_group_lists_the_dagster_commands():
    listing = CliRunner().invoke(cli, ["--help"]).output
    for name in ("run", "task", "ablate", "retrieve", "adapt", "evaluate"):
        assert f"  {name} " in listing


def test_each_dagster_command_resolves_to_its_own_command():
    for name in DAGSTER_COMMANDS:
        command = cli.get_command(None, name)
        assert command is not None and command.name == name


def test_importing_the_cli_does_not_import_dagster():
    probe = ("import sys, recross.cli; "
             "sys.exit(1 if any(m.split('.')[0] == 'dagster' for m in sys.modules) else 0)")
    assert subprocess.run([sys.executable, "-c", probe], check=False, timeout=60).returncode == 0


def test_output_to_a_log_turns_off_library_progress_bars(monkeypatch):
    """Not a terminal (here: CliRunner's captured stderr): the libraries' own bars (model
    loading, artifact downloads) would fill the log with redraws, for this process and the
    worker processes it starts."""
    for name in ("HF_HUB_DISABLE_PROGRESS_BARS", "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"):
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(cli, ["data", "info", "--help"])  # the group's callback runs
    assert result.exit_code == 0, result.output
    assert os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] == "1"
    assert os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] == "false"
