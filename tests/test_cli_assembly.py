"""The `recross` command is assembled in one place (recross.cli), without importing dagster."""

from __future__ import annotations

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
