"""The `recross` subcommands that drive Dagster: `run`, `task add`, `upstream add`, `ablate`.

The `recross` group itself is assembled in one place, :mod:`recross.cli`, which names these
commands by module path (``DAGSTER_COMMANDS``) and imports this module only when one of them
is listed or run; nothing here registers itself as a side effect of being imported.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import click
from recross.cli import echo_warning, settings_from
from recross.io import atomic_file


def _check_dagster_home() -> None:
    if not os.environ.get("DAGSTER_HOME"):
        raise click.UsageError("DAGSTER_HOME is not set. Fix: export DAGSTER_HOME=$PWD from the "
                               "repo root (it holds dagster.yaml), as `make run` does.")


def _instance():
    _check_dagster_home()
    import dagster as dg

    try:
        return dg.DagsterInstance.get()
    except Exception as exc:  # a broken dagster.yaml, storage that cannot be reached
        first_line = (str(exc).strip().splitlines() or [""])[0]
        raise click.ClickException(
            f"cannot open the Dagster instance of DAGSTER_HOME={os.environ['DAGSTER_HOME']} "
            f"({type(exc).__name__}: {first_line}). Fix: check the dagster.yaml there (the "
            "repo root's is the reference).") from exc


def _ui_hint(settings) -> str:
    from recross.redaction import hide_uri_credentials
    from recross.tracking import tracking_uri

    return ("open the Dagster UI:  DAGSTER_HOME=$PWD .venv/bin/dagster dev -m "
            "recross_assets.definitions   (http://127.0.0.1:3000)\n"
            "open the MLflow UI:  .venv/bin/mlflow ui --backend-store-uri "
            f"{hide_uri_credentials(tracking_uri(settings))}"
            "   (http://127.0.0.1:5000)")


@click.command()
@click.option("--retriever", "retrievers", multiple=True,
              help="These retrievers (default: settings.retrievers, the paper's five; "
                   "bm25, hybrid, recross-hybrid and dsir are opt-in).")
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


@click.group()
def task() -> None:
    """Your own target tasks (dynamic partitions of the per-target assets)."""


@task.command("add")
@click.argument("name")
@click.option("--queries", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="Unlabelled inputs: .jsonl (field `input`), .txt or .csv.")
@click.option("--data", "labelled", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Optional labelled .jsonl/.csv for the evaluations asset.")
@click.option("--column", default="input", show_default=True)
@click.option("--refuse-repeats", is_flag=True, help="Refuse a query file that repeats an input "
              "(default: warn, naming the lines, and keep the distinct inputs).")
@click.pass_context
def task_add(ctx: click.Context, name: str, queries: Path, labelled: Path | None,
             column: str, refuse_repeats: bool) -> None:
    """Register NAME as a target partition; its assets then materialize from the Dagster UI.

    DAGSTER_HOME and both files are checked before anything is written, and a task stored here
    is removed again if its partition cannot be added: a failed `task add` leaves nothing behind.
    """
    from recross.pipeline.target_registry import is_user_task, register_user_task

    _check_dagster_home()
    settings = settings_from(ctx)
    existed = is_user_task(settings, name)
    folder = register_user_task(settings, name, queries, labelled=labelled, column=column,
                                refuse_repeats=refuse_repeats,
                                warn=echo_warning)
    try:
        from recross_assets.partitions import register_targets

        added = register_targets(_instance(), [name])
    except BaseException:
        if not existed:
            shutil.rmtree(folder, ignore_errors=True)
        raise
    click.echo(f"task {name!r} stored in {folder}; "
               + ("added as a target partition" if added else "partition already existed"))


@click.command()
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


@click.group()
def upstream() -> None:
    """Your own upstream tasks: partitions of the pool and of every index (M is not retrained)."""


@upstream.command("add")
@click.argument("name")
@click.option("--data", "data_file", type=click.Path(path_type=Path, dir_okay=False),
              required=True, help="Labelled .jsonl/.csv (input and answers), as `evaluate` reads.")
@click.option("--column", default="input", show_default=True)
@click.option("--template", default=None,
              help="Template name in the payload, for template filters (default: NAME).")
@click.pass_context
def upstream_add(ctx: click.Context, name: str, data_file: Path, column: str,
                 template: str | None) -> None:
    """Add NAME as an upstream task: store its examples, add its partition, index only it.

    Retrieval can then return its examples and filters can name it (--include-task NAME,
    --exclude-task NAME). The upstream model M is not retrained on it.
    """
    from recross.pipeline.upstream_registry import register_user_upstream, user_upstream_dir

    from recross_assets.resources import default_resources
    from recross_assets.upstream_tasks import add_upstream_partition

    _check_dagster_home()
    settings = settings_from(ctx)
    existed = user_upstream_dir(settings, name).is_dir()
    folder, count = register_user_upstream(settings, name, data_file, column=column,
                                           template=template)
    config_file = ctx.find_root().obj.get("config_file")
    resources = default_resources(profile=settings.profile, home=str(settings.home),
                                  config_file=str(config_file) if config_file else None)
    try:
        added = add_upstream_partition(settings, name, instance=_instance(), resources=resources)
    except BaseException:
        if not existed:
            shutil.rmtree(folder, ignore_errors=True)
        raise
    click.echo(f"upstream task {name!r}: {count} examples stored in {folder}; partition "
               + ("added" if added.registered else "already existed, its data replaced")
               + f"; materialized {', '.join(added.built)} (Dagster run {added.run_id})")
