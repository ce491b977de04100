"""The `recross` command. Every subcommand has --help; user errors print one clear line and exit 2.

    recross data info                 # what the local data holds
    recross data download --to DIR    # fetch the same files over HTTP(S)
    recross config show --profile tiny
"""

from __future__ import annotations

import errno
import json
import logging
import sys
from pathlib import Path

import click

from recross.config import PROFILES, Settings, hide_uri_credentials, load_settings
from recross.errors import RecrossError

# A write that failed for lack of space (disk full, quota, file-size limit): the user's to fix.
DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)

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
    click.echo(hide_uri_credentials(json.dumps(settings_from(ctx).model_dump(mode="json"),
                                               indent=2)))



def _filter_options(func):
    for flag, help_text in (("--exclude-template", "Never retrieve from this template."),
                            ("--include-template", "Retrieve only from these templates."),
                            ("--exclude-task", "Never retrieve from this upstream task."),
                            ("--include-task", "Retrieve only from these upstream tasks.")):
        func = click.option(flag, multiple=True, metavar="NAME", help=help_text)(func)
    return func


def _retrieval_options(func):
    func = _filter_options(func)
    func = click.option("--mu", type=float, default=None,
                        help="Upsampling ratio mu for `recross` (default: retrieval.upsample_ratio).")(func)
    func = click.option("--size", type=int, default=None,
                        help="|R|, the number of examples to retrieve (default: retrieval.retrieved_size).")(func)
    func = click.option("--retriever", type=click.Choice(["random", "sbert", "recross-dagger", "recross"]),
                        default="recross", show_default=True, help="Which retriever.")(func)
    func = click.option("--column", default="input", show_default=True,
                        help="Input field (JSONL) or column (CSV) of the query file.")(func)
    func = click.option("--queries", type=click.Path(path_type=Path, dir_okay=False), required=True,
                        help="Unlabelled inputs of your task: .jsonl (field `input`), .txt or .csv.")(func)
    return func


def _user_retrieval(ctx: click.Context, *, queries: Path, column: str, retriever: str,
                    size: int | None, mu: float | None, include_task, exclude_task,
                    include_template, exclude_template):
    """Run one retrieval for a user's query file; returns (settings, query set, retrieved set)."""
    from recross.index.filters import TaskFilter
    from recross.pipeline.user_task import retrieve_user_queries

    overrides = {}
    if size is not None:
        overrides["retrieved_size"] = size
    if mu is not None:
        overrides["upsample_ratio"] = mu
    obj = ctx.find_root().obj
    settings = load_settings(obj.get("profile"), obj.get("config_file"),
                             overrides={"retrieval": overrides}) if overrides else settings_from(ctx)
    filters = TaskFilter(tuple(include_task), tuple(exclude_task), tuple(include_template),
                         tuple(exclude_template))
    return settings, retrieve_user_queries(settings, queries, column=column, retriever=retriever,
                                           filters=filters, echo=click.echo)


def _print_distribution(retrieved) -> None:
    from recross.retrieval.distribution import task_distribution

    frame = task_distribution(retrieved)
    click.echo("retrieved task distribution:")
    for row in frame.itertuples(index=False):
        click.echo(f"  {row.task:32s} {row.count:5d}  {100 * row.share:5.1f}%")


@cli.command()
@_retrieval_options
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="JSONL file of retrieved examples with provenance.")
@click.pass_context
def retrieve(ctx: click.Context, out: Path, **options) -> None:
    """Retrieve upstream examples for your task's unlabelled queries."""
    from recross.pipeline.user_task import write_retrieved_jsonl

    _, retrieved = _user_retrieval(ctx, **options)
    write_retrieved_jsonl(out, retrieved)
    _print_distribution(retrieved)
    click.echo(f"wrote {len(retrieved)} retrieved examples to {out}")


@cli.command()
@_retrieval_options
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="Directory for the adapted model (checkpoint or LoRA adapter).")
@click.option("--name", default=None, help="Task name for MLflow (default: the query file's stem).")
@click.pass_context
def adapt(ctx: click.Context, out: Path, name: str | None, **options) -> None:
    """Retrieve for your queries, fine-tune the upstream model on the result, log it to MLflow."""
    from recross.pipeline.user_task import adapt_user_task

    settings, retrieved = _user_retrieval(ctx, **options)
    _print_distribution(retrieved)
    result = adapt_user_task(settings, retrieved, out_dir=out,
                             task_name=name or options["queries"].stem)
    click.echo(f"adapted model: {out} ({settings.adaptation.mode}, "
               f"{result.seconds:.0f}s, final training loss {result.final_loss})")
    click.echo(f"MLflow run id: {result.run_id}   model: {result.model_uri}")


@cli.command()
@click.option("--model", required=True, help="Adapted model directory, or an MLflow model URI "
              "(models:/NAME@ALIAS, runs:/RUN_ID/...).")
@click.option("--inputs", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="Inputs to answer: .jsonl (field `input`), .txt or .csv.")
@click.option("--column", default="input", show_default=True)
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="JSONL file of {input, prediction}.")
@click.pass_context
def predict(ctx: click.Context, model: str, inputs: Path, column: str, out: Path) -> None:
    """Answer inputs with an adapted model (full checkpoint or LoRA adapter)."""
    from recross.pipeline.user_task import predict_file

    n = predict_file(settings_from(ctx), model, inputs, out, column=column, echo=click.echo)
    click.echo(f"wrote {n} predictions to {out}")


@cli.command()
@click.option("--model", required=True, help="Adapted model directory or MLflow model URI; "
              "`upstream` for the upstream model itself.")
@click.option("--data", required=True, help="Labelled .jsonl/.csv file (answers), or a target task name.")
@click.option("--column", default="input", show_default=True)
@click.pass_context
def evaluate(ctx: click.Context, model: str, data: str, column: str) -> None:
    """SoftEM and EM of a model on labelled data."""
    from recross.pipeline.user_task import evaluate_model

    scores = evaluate_model(settings_from(ctx), model, data, column=column, echo=click.echo)
    click.echo(f"SoftEM {scores['softem']:.2f}  EM {scores['em']:.2f}  (n={scores['n']})")


@cli.command()
@click.option("--experiment", default=None, help="MLflow experiment (default: tracking.experiment).")
@click.pass_context
def compare(ctx: click.Context, experiment: str | None) -> None:
    """Per-retriever SoftEM table read back from MLflow."""
    from recross.tracking import compare_table

    click.echo(compare_table(settings_from(ctx), experiment=experiment))


@cli.group()
def index() -> None:
    """Move an example index between machines without re-encoding."""


@index.command("export")
@click.option("--kind", type=click.Choice(["upstream", "sbert"]), default="upstream", show_default=True)
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="Portable parquet file: ids, vectors, payload, and the encoder manifest.")
@click.pass_context
def index_export(ctx: click.Context, kind: str, out: Path) -> None:
    """Write an index (built here) to a portable parquet file."""
    from recross.index.transfer import export_index
    from recross.pipeline.upstream import open_pool_index, read_pool

    settings = settings_from(ctx)
    handle = open_pool_index(settings, read_pool(settings), kind)
    try:
        n = export_index(handle.index, out)
    finally:
        handle.index.close()
    click.echo(f"exported {n} points of {handle.index.collection} to {out}")


@index.command("import")
@click.option("--file", "path", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              required=True, help="A file written by `recross index export`.")
@click.pass_context
def index_import(ctx: click.Context, path: Path) -> None:
    """Load an exported index into the configured Qdrant (e.g. a cluster via QDRANT_URL)."""
    from recross.index import open_index
    from recross.index.transfer import import_index, read_manifest

    settings = settings_from(ctx)
    manifest = read_manifest(path)
    target = open_index(settings.index, collection=manifest.collection,
                        dimension=manifest.dimension, encoder_name=manifest.encoder_name,
                        home=Path(settings.home))
    try:
        report = import_index(target, path)
    finally:
        target.close()
    click.echo(f"imported {report.written} points ({report.skipped} already present) "
               f"into {manifest.collection}")


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
    except OSError as exc:
        if exc.errno not in DISK_FULL_ERRNOS:
            raise
        click.echo(f"error: {exc.strerror} while writing {exc.filename or 'a file'}. Fix: free "
                   "disk space (or point RECROSS_HOME / --out at a larger disk) and run the "
                   "command again; earlier complete results were kept.", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
