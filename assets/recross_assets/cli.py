"""The `recross` command: the library's commands plus those that drive Dagster (`run`, `task add`).

The library's CLI (recross.cli) knows nothing of Dagster; this module adds the commands that
materialize assets or register partitions, and is the console entry point.
"""

from __future__ import annotations

import os
from pathlib import Path

import click
from recross.cli import cli, settings_from
from recross.cli import main as library_main
from recross.io import atomic_file


def _instance():
    import dagster as dg

    if not os.environ.get("DAGSTER_HOME"):
        raise click.UsageError("DAGSTER_HOME is not set. Fix: export DAGSTER_HOME=$PWD from the "
                               "repo root (it holds dagster.yaml), as `make run` does.")
    return dg.DagsterInstance.get()


def _ui_hint(settings) -> str:
    from recross.config import hide_uri_credentials
    from recross.tracking import tracking_uri

    return ("open the Dagster UI:  DAGSTER_HOME=$PWD .venv/bin/dagster dev -m "
            "recross_assets.definitions   (http://127.0.0.1:3000)\n"
            "open the MLflow UI:  .venv/bin/mlflow ui --backend-store-uri "
            f"{hide_uri_credentials(tracking_uri(settings))}"
            "   (http://127.0.0.1:5000)")


@cli.command()
@click.option("--retriever", "retrievers", multiple=True,
              help="Only these retrievers (default: all five).")
@click.pass_context
def run(ctx: click.Context, retrievers: tuple[str, ...]) -> None:
    """Materialize the whole asset graph for the chosen targets (RECROSS_TARGETS) through Dagster."""
    from recross_assets.main_job import run_main_job
    from recross_assets.resources import default_resources

    settings = settings_from(ctx)
    config_file = ctx.find_root().obj.get("config_file")
    resources = default_resources(profile=settings.profile, home=str(settings.home),
                                  config_file=str(config_file) if config_file else None)
    result = run_main_job(settings, instance=_instance(), resources=resources, echo=click.echo,
                          retrievers=list(retrievers) or None)
    click.echo("\n" + result.report_markdown)
    click.echo(f"\ntargets: {', '.join(result.targets)}; retrievers: {', '.join(result.retrievers)}")
    click.echo(f"materialized {result.materialized} asset partitions, reused {result.skipped}, "
               f"in {result.seconds / 60:.1f} min")
    click.echo(f"report and heatmap: {result.report_dir}/table1.md, "
               f"{result.report_dir}/task_shares.png")
    click.echo(_ui_hint(settings))


@cli.group()
def task() -> None:
    """Your own target tasks (dynamic partitions of the per-target assets)."""


@task.command("add")
@click.argument("name")
@click.option("--queries", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="Unlabelled inputs: .jsonl (field `input`), .txt or .csv.")
@click.option("--data", "labelled", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Optional labelled .jsonl/.csv for the evaluations asset.")
@click.option("--column", default="input", show_default=True)
@click.pass_context
def task_add(ctx: click.Context, name: str, queries: Path, labelled: Path | None,
             column: str) -> None:
    """Register NAME as a target partition; its assets then materialize from the Dagster UI."""
    from recross.pipeline.target import register_user_task

    from recross_assets.partitions import register_targets

    folder = register_user_task(settings_from(ctx), name, queries, labelled=labelled,
                                column=column)
    added = register_targets(_instance(), [name])
    click.echo(f"task {name!r} stored in {folder}; "
               + ("added as a target partition" if added else "partition already existed"))


@cli.command()
@click.option("--target", "targets", multiple=True, required=True,
              help="Target tasks to ablate on (repeat the option).")
@click.option("--query-sets", type=int, default=2, show_default=True,
              help="Query sets (seeds) per target and setting.")
@click.option("--test-sample", type=int, default=200, show_default=True,
              help="Test examples per target (0: all).")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Also write the table as CSV here.")
@click.pass_context
def ablate(ctx: click.Context, targets: tuple[str, ...], query_sets: int, test_sample: int,
           out: Path | None) -> None:
    """ReCross with |Q| in {1,8,16,32}, |R| in {256,512,1024}, mu in {2,3,4} (paper's Table 3)."""
    from recross_assets.ablation import run_ablation

    settings = settings_from(ctx)
    config_file = ctx.find_root().obj.get("config_file")
    table = run_ablation(settings.profile, targets=targets, n_query_sets=query_sets,
                         test_sample_size=test_sample or None, base_config=config_file,
                         echo=click.echo)
    click.echo(table.to_markdown(index=False, floatfmt=".2f"))
    if out is not None:
        with atomic_file(out) as staging:
            table.to_csv(staging, index=False)


def main() -> None:
    library_main()


if __name__ == "__main__":
    main()
