"""The `recross` command. Every subcommand has --help; user errors print one clear line and exit 2.

    recross data info                 # what the local data holds
    recross data download --to DIR    # fetch the same files over HTTP(S)
    recross config show --profile tiny
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click

from recross.config import PROFILES, Settings, load_settings
from recross.errors import RecrossError

profile_option = click.option("--profile", type=click.Choice(PROFILES), default=None,
                              help="Settings profile (default: RECROSS_PROFILE or small).")
config_option = click.option("--config", "config_file", type=click.Path(path_type=Path),
                             default=None, help="YAML/JSON file overriding the profile.")


def settings_from(ctx: click.Context) -> Settings:
    """The settings chosen by the group's --profile/--config (loaded once per command)."""
    obj = ctx.find_root().obj
    if "settings" not in obj:
        obj["settings"] = load_settings(obj.get("profile"), obj.get("config_file"))
    return obj["settings"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@profile_option
@config_option
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages.")
@click.pass_context
def cli(ctx: click.Context, profile: str | None, config_file: Path | None, verbose: bool) -> None:
    """ReCross: adapt a multi-task model to an unseen task from a few unlabelled examples."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    ctx.obj = {"profile": profile, "config_file": config_file}


@cli.group()
def data() -> None:
    """Inspect or download the prompted task data."""


@data.command("info")
@click.pass_context
def data_info(ctx: click.Context) -> None:
    """Print the data directory, the upstream pool per task and the target tasks."""
    from recross.data import TaskRegistry, load_upstream_pool, resolve_data_dir

    settings = settings_from(ctx)
    data_dir = resolve_data_dir(settings.data.data_dir)
    pool = load_upstream_pool(data_dir, tasks=settings.data.upstream_tasks,
                              cap_per_task=settings.data.upstream_cap_per_task)
    click.echo(f"data directory: {data_dir}")
    for task, count in pool.task_counts().items():
        click.echo(f"  {task:32s} {count:6d}  ({pool.sources[task]})")
    click.echo(f"upstream pool: {len(pool.tasks)} tasks, {len(pool)} examples"
               + (f"; no data for {', '.join(pool.missing)}" if pool.missing else ""))
    click.echo(f"targets: {', '.join(TaskRegistry.from_data_dir(data_dir).targets)}")


@data.command("download")
@click.option("--to", "dest", type=click.Path(path_type=Path), required=True,
              help="Folder to write the data into (then set RECROSS_DATA_DIR to it).")
@click.option("--base-url", default=None, help="Base URL of the raw data folder "
              "(default: data.download_base_url, the INK-USC/ReCross repository).")
@click.option("--force", is_flag=True, help="Download again even complete files.")
@click.pass_context
def data_download(ctx: click.Context, dest: Path, base_url: str | None, force: bool) -> None:
    """Fetch split.json and every upstream and target file; complete files are skipped."""
    from recross.data.download import download_data

    settings = settings_from(ctx)
    report = download_data(dest, base_url=base_url or settings.data.download_base_url, force=force)
    click.echo(f"downloaded {len(report.downloaded)} files, {len(report.skipped)} already complete"
               + (f"; no data on the server for {', '.join(report.missing)}" if report.missing else ""))
    click.echo(f"use it with: export RECROSS_DATA_DIR={dest.resolve()}")


@cli.group()
def config() -> None:
    """Inspect settings."""


@config.command("show")
@click.pass_context
def config_show(ctx: click.Context) -> None:
    """Print the effective settings (secrets hidden) as JSON."""
    click.echo(json.dumps(settings_from(ctx).model_dump(mode="json"), indent=2))


def main() -> None:
    """Console entry point: user errors become one line on stderr and exit code 2."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except RecrossError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
