"""The `recross` command. Every subcommand has --help; user errors print one clear line and exit 2.

    recross data info                 # what the local data holds
    recross data download --to DIR    # fetch the same files over HTTP(S)
    recross config show --profile tiny

The one place the command is assembled: `recross` and `python -m recross.cli` are the same
group. The commands that drive Dagster (`run`, `task`, `ablate`) live in the code location
(``recross_assets.cli``) and are named here by module path, imported only when listed or run,
so the library itself never imports dagster.
"""

from __future__ import annotations

import errno
import importlib
import json
import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import click

from recross.config import PROFILES, Settings, load_settings
from recross.errors import RecrossError
from recross.redaction import hide_uri_credentials
from recross.retriever_names import RETRIEVERS

# A write that failed for lack of space (disk full, quota, file-size limit): the user's to fix.
DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
# Subcommands defined in the Dagster code location, by "module:attribute".
DAGSTER_COMMANDS = {"run": "recross_assets.cli:run", "task": "recross_assets.cli:task",
                    "ablate": "recross_assets.cli:ablate",
                    "upstream": "recross_assets.cli:upstream"}

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


class GroupWithCommandsByPath(click.Group):
    """A click group some of whose subcommands are imported from ``module:attribute`` paths
    when first needed (click's lazy-loading pattern)."""

    def __init__(self, *args, commands_by_path: Mapping[str, str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.commands_by_path = dict(commands_by_path)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.commands_by_path})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands_by_path:
            module, attribute = self.commands_by_path[cmd_name].split(":")
            return getattr(importlib.import_module(module), attribute)
        return super().get_command(ctx, cmd_name)


@click.group(cls=GroupWithCommandsByPath, commands_by_path=DAGSTER_COMMANDS,
             context_settings={"help_option_names": ["-h", "--help"]})
@profile_option
@config_option
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages.")
@click.pass_context
def cli(ctx: click.Context, profile: str | None, config_file: Path | None, verbose: bool) -> None:
    """ReCross: adapt a multi-task model to an unseen task from a few unlabelled examples."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    ctx.obj = {"profile": profile, "config_file": config_file}
    if not sys.stderr.isatty():  # a log: no model-loading or artifact-download bars (worker
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # processes inherit these)
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


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


QUERIES_HELP = "Unlabelled inputs of your task: .jsonl (field `input`), .txt or .csv."
NAME_HELP = ("Your task's name in MLflow and the model registry (default: the query file's "
             "stem, unless it is generic like `queries`).")


def _retrieval_options(func):
    func = _filter_options(func)
    func = click.option("--mu", type=click.FloatRange(min=1), default=None,
                        help="Upsampling ratio mu for `recross` (default: retrieval.upsample_ratio).")(func)
    func = click.option("--size", type=click.IntRange(min=1), default=None,
                        help="|R|, the number of examples to retrieve (default: retrieval.retrieved_size).")(func)
    func = click.option("--retriever", type=click.Choice([r for r in RETRIEVERS if r != "none"]),
                        default="recross", show_default=True, help="Which retriever.")(func)
    func = click.option("--refuse-repeats", is_flag=True,
                        help="Refuse a query file that repeats an input (default: warn, naming "
                        "the lines, and use the distinct inputs).")(func)
    func = click.option("--column", default="input", show_default=True,
                        help="Input field (JSONL) or column (CSV) of the query file.")(func)
    return func


def echo_warning(message: str) -> None:
    """A warning the user should see, on stderr so it never mixes with a command's output."""
    click.echo(f"warning: {message}", err=True)


def _user_retrieval(ctx: click.Context, *, queries: Path, task: str, column: str,
                    retriever: str, size: int | None, mu: float | None, refuse_repeats: bool,
                    include_task, exclude_task, include_template, exclude_template):
    """Run one retrieval for a user's query file; returns (settings, retrieved set).

    The file is read and checked before the pipeline (torch, transformers, Qdrant) is imported,
    so a bad file fails in well under a second.
    """
    from recross.data.user_files import read_query_inputs

    overrides: dict[str, float] = {}
    if size is not None:
        overrides["retrieved_size"] = size
    if mu is not None:
        overrides["upsample_ratio"] = mu
    obj = ctx.find_root().obj
    settings = load_settings(obj.get("profile"), obj.get("config_file"),
                             overrides={"retrieval": overrides}) if overrides else settings_from(ctx)
    inputs = read_query_inputs(queries, column=column, refuse_repeats=refuse_repeats,
                               warn=echo_warning)
    if len(inputs) > settings.retrieval.retrieved_size:
        raise click.BadParameter(
            f"{queries} has {len(inputs)} distinct inputs, more than the "
            f"{settings.retrieval.retrieved_size} examples to retrieve. Fix: pass a larger "
            "--size, or fewer queries (the method needs a handful, e.g. 16).", param_hint="--size")
    from recross.index.filters import TaskFilter
    from recross.pipeline.user_task import retrieve_user_queries

    filters = TaskFilter(tuple(include_task), tuple(exclude_task), tuple(include_template),
                         tuple(exclude_template))

    return settings, retrieve_user_queries(settings, inputs, task=task, retriever=retriever,
                                           filters=filters, echo=click.echo)


def _stored_retrieval(ctx: click.Context, path: Path, options: Mapping[str, object]):
    """The retrieved set of a `recross retrieve --out` file; returns (settings, retrieved set)."""
    from click.core import ParameterSource

    given = [f"--{key.replace('_', '-')}" for key in options
             if ctx.get_parameter_source(key) is not ParameterSource.DEFAULT]
    if given:
        raise click.UsageError(f"{', '.join(given)} only shape a new retrieval; --retrieved adapts "
                               "on the stored set as it is. Fix: drop them, or pass --queries.")
    from recross.pipeline.upstream import read_pool
    from recross.pipeline.user_task import read_retrieved_jsonl

    settings = settings_from(ctx)
    return settings, read_retrieved_jsonl(path, read_pool(settings))


def _print_distribution(retrieved) -> None:
    from recross.retrieval.distribution import task_distribution

    frame = task_distribution(retrieved)
    click.echo(f"retrieved {len(retrieved)} examples, {len(set(retrieved.example_ids))} distinct "
               "(an example close to several queries is kept once per query)")
    click.echo("retrieved task distribution:")
    for row in frame.itertuples(index=False):
        click.echo(f"  {row.task:32s} {row.count:5d}  {100 * row.share:5.1f}%")


@cli.command()
@click.option("--queries", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help=QUERIES_HELP)
@_retrieval_options
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="JSONL file of retrieved examples with provenance.")
@click.option("--name", default=None, help="Your task's name, recorded in the --out file "
              "(default: the query file's stem).")
@click.pass_context
def retrieve(ctx: click.Context, out: Path, queries: Path, name: str | None, **options) -> None:
    """Retrieve upstream examples for your task's unlabelled queries."""
    _, retrieved = _user_retrieval(ctx, queries=queries, task=name or queries.stem, **options)
    from recross.pipeline.user_task import write_retrieved_jsonl

    write_retrieved_jsonl(out, retrieved)
    _print_distribution(retrieved)
    click.echo(f"wrote {len(retrieved)} retrieved examples to {out}")


@cli.command()
@click.option("--queries", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help=QUERIES_HELP + " Either this or --retrieved.")
@click.option("--retrieved", "retrieved_file", type=click.Path(path_type=Path, dir_okay=False),
              default=None, help="Adapt on a `recross retrieve --out` file as it is, without "
              "retrieving (and reranking) again.")
@_retrieval_options
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="Directory for the adapted model (checkpoint or LoRA adapter).")
@click.option("--name", default=None, help=NAME_HELP)
@click.pass_context
def adapt(ctx: click.Context, out: Path, name: str | None, queries: Path | None,
          retrieved_file: Path | None, **options) -> None:
    """Retrieve for your queries, fine-tune the upstream model on the result, log it to MLflow."""
    from recross.data.user_files import user_task_name

    if (queries is None) == (retrieved_file is None):
        raise click.UsageError("pass --queries FILE (retrieve, then adapt) or --retrieved FILE "
                               "(the --out file of `recross retrieve`), one of the two.")
    if retrieved_file is not None:
        settings, retrieved = _stored_retrieval(ctx, retrieved_file, options)
        task = user_task_name(name, retrieved.query_task, source=f"--retrieved {retrieved_file}")
    elif queries is not None:
        task = user_task_name(name, queries.stem, source=f"--queries {queries}")
        settings, retrieved = _user_retrieval(ctx, queries=queries, task=task, **options)
    from recross.pipeline.user_task import adapt_user_task

    _print_distribution(retrieved)
    result = adapt_user_task(settings, retrieved, out_dir=out, task_name=task)
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
    """Answer inputs with an adapted model (full checkpoint or LoRA adapter): one output line
    per input line, repeated inputs included."""
    from recross.data.user_files import read_user_rows

    rows = read_user_rows(inputs, column=column)  # checked before the model is loaded
    from recross.pipeline.user_task import predict_file

    n = predict_file(settings_from(ctx), model, [row.input for row in rows], out,
                     echo=click.echo)
    click.echo(f"wrote {n} predictions to {out}, one per input line")


@cli.command()
@click.option("--model", required=True, help="Adapted model directory or MLflow model URI; "
              "`upstream` for the upstream model itself.")
@click.option("--data", required=True, help="Labelled .jsonl/.csv file (answers), or a target task name.")
@click.option("--column", default="input", show_default=True)
@click.option("--name", default=None, help="Task the MLflow run is filed under (default: --data "
              "when it names a task, else the task the model was adapted for, else the file's "
              "stem).")
@click.pass_context
def evaluate(ctx: click.Context, model: str, data: str, column: str, name: str | None) -> None:
    """SoftEM, EM, gold NLL and rank accuracy of a model on labelled data, logged to MLflow
    (shown by `recross compare`)."""
    from recross.data.user_files import LABELLED_SUFFIXES, read_labelled_examples, user_task_name

    labelled = Path(data)
    if labelled.suffix in LABELLED_SUFFIXES:
        read_labelled_examples(labelled, task="-", column=column)  # fails before the model loads
    from recross.pipeline.user_task import evaluate_model, log_user_evaluation, model_origin

    settings = settings_from(ctx)
    origin = model_origin(settings, model)
    if labelled.suffix not in LABELLED_SUFFIXES:
        task = name or data  # a target task's test set
    else:
        task = name or origin.target_task or user_task_name(None, labelled.stem,
                                                            source=f"--data {data}")
    scores = evaluate_model(settings, model, data, column=column)
    ranked = (f"rank accuracy {scores['rank_acc']:.2f} (coverage {scores['rank_coverage']:.0f}%)"
              if scores["rank_coverage"] > 0 else
              "rank accuracy n/a (no example has known choices)")
    click.echo(f"SoftEM {scores['softem']:.2f}  EM {scores['em']:.2f}  NLL {scores['nll']:.3f}  "
               f"{ranked}  top-answer share {100 * scores['top_share']:.0f}%  (n={scores['n']})")
    run_id = log_user_evaluation(settings, scores, target_task=task, retriever=origin.retriever,
                                 model=model, data=data)
    click.echo(f"MLflow run id: {run_id} (task {task!r}, retriever "
               + (f"{origin.retriever!r})" if origin.retriever else
                  "not recorded with this model, so `recross compare` leaves it out)"))


@cli.command()
@click.option("--experiment", default=None, help="MLflow experiment (default: tracking.experiment).")
@click.pass_context
def compare(ctx: click.Context, experiment: str | None) -> None:
    """Per-retriever SoftEM, gold NLL and rank accuracy, with paired deltas vs none / random,
    read back from MLflow."""
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
def index_export(ctx: click.Context, kind: Literal["upstream", "sbert"], out: Path) -> None:
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
                        home=Path(settings.home), distance=manifest.distance)
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
