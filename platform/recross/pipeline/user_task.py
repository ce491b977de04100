"""A user's own task from files: retrieve, adapt (tracked in MLflow), predict, evaluate."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from recross.config import Settings
from recross.data import QuerySet, resolve_data_dir
from recross.data.targets import validate_query_inputs
from recross.data.user_files import (
    read_labelled_examples,
    read_query_inputs,
    read_user_rows,
    truncate_inputs,
)
from recross.errors import DataError
from recross.evaluation.metrics import score_predictions
from recross.index.filters import TaskFilter
from recross.io import atomic_write_text
from recross.models import adapt, load_seq2seq, load_tokenizer
from recross.paths import slug
from recross.pipeline.target import build_retriever, predict, test_examples
from recross.pipeline.upstream import read_pool, upstream_model_dir
from recross.retrieval import RetrievedSet
from recross.tracking import Tracker, resolve_model_uri

Echo = Callable[[str], None]


def _fit_inputs(settings: Settings, inputs: list[str], echo: Echo) -> list[str]:
    """Truncate inputs longer than the model's limit, with a warning (never silently)."""
    tokenizer = load_tokenizer(upstream_model_dir(settings))
    fitted, cut = truncate_inputs(inputs, tokenizer=tokenizer,
                                  max_length=settings.models.max_input_length)
    if cut:
        echo(f"warning: {cut} input(s) exceed {settings.models.max_input_length} tokens and "
             "were truncated (models.max_input_length)")
    return fitted


def retrieve_user_queries(settings: Settings, queries: Path, *, column: str, retriever: str,
                          filters: TaskFilter, echo: Echo = print) -> RetrievedSet:
    """Retrieve |R| upstream examples for the inputs of ``queries`` (at most |R| of them, none
    repeated: a repeated query would silently count twice)."""
    inputs = [row.input for row in read_user_rows(queries, column=column)]
    validate_query_inputs(inputs, where=f"query file {queries}",
                          max_size=settings.retrieval.retrieved_size)
    if retriever != "random":
        inputs = _fit_inputs(settings, inputs, echo)
    query_set = QuerySet(task=queries.stem, seed=0, inputs=tuple(inputs))
    pool = read_pool(settings)
    engine = build_retriever(settings, pool, retriever)
    echo(f"retrieving {settings.retrieval.retrieved_size} examples with {retriever} "
         f"for {len(inputs)} queries")
    return engine.retrieve(query_set, size=settings.retrieval.retrieved_size, filters=filters)


def write_retrieved_jsonl(path: Path, retrieved: RetrievedSet) -> None:
    lines = [json.dumps({**item.example.to_record(), "score": item.score,
                         "query_index": item.query_index, "rank": item.rank,
                         "retriever": retrieved.retriever}) for item in retrieved.items]
    atomic_write_text(path, "\n".join(lines) + "\n")


@dataclass
class UserAdaptation:
    run_id: str
    model_uri: str
    seconds: float
    final_loss: float | None


def adapt_user_task(settings: Settings, retrieved: RetrievedSet, *, out_dir: Path,
                    task_name: str) -> UserAdaptation:
    """Fine-tune M on ``retrieved`` into ``out_dir`` and log the run, ids and model to MLflow."""
    tracker = Tracker(settings)
    base = load_seq2seq(upstream_model_dir(settings), device=settings.models.device)
    params = {**retrieved.filters.as_params(), "retriever": retrieved.retriever,
              "retrieved_size": len(retrieved), "queries": retrieved.query_task}
    with tracker.parent_run(name=f"{task_name}/{retrieved.retriever}",
                            tags={"target_task": task_name, "retriever": retrieved.retriever},
                            params=params) as run:
        started = time.perf_counter()
        result = adapt(base, retrieved.examples, settings.adaptation,
                       max_input_length=settings.models.max_input_length,
                       max_output_length=settings.models.max_output_length, out_dir=out_dir)
        seconds = time.perf_counter() - started
        run.log_params(result.params)
        run.log_metrics({"adapt_seconds": seconds,
                         **({"final_loss": result.final_loss} if result.log else {})})
        run.log_retrieved_ids(retrieved.example_ids)
        uri = tracker.log_adapted_model(run, out_dir, registered_name=f"recross-{slug(task_name)}",
                                        alias="current")
    return UserAdaptation(run_id=run.run_id, model_uri=uri, seconds=seconds,
                          final_loss=result.final_loss)


def _model_dir(settings: Settings, model: str) -> Path | None:
    """A local model directory for ``model`` (path or MLflow URI); None means M itself."""
    if model == "upstream":
        return None
    if model.startswith(("models:/", "runs:/")):
        return resolve_model_uri(model, settings)
    path = Path(model)
    if not path.is_dir():
        raise DataError(f"--model {model}: no such directory and not an MLflow URI. Fix: pass the "
                        "--out directory of `recross adapt`, or models:/NAME@ALIAS.")
    return path


def predict_file(settings: Settings, model: str, inputs_path: Path, out: Path, *,
                 column: str = "input", echo: Echo = print) -> int:
    inputs = _fit_inputs(settings, read_query_inputs(inputs_path, column=column), echo)
    predictions = predict(settings, _model_dir(settings, model), inputs)
    atomic_write_text(out, "".join(json.dumps({"input": i, "prediction": p}) + "\n"
                                   for i, p in zip(inputs, predictions)))
    return len(predictions)


def evaluate_model(settings: Settings, model: str, data: str, *, column: str = "input",
                   echo: Echo = print) -> dict[str, float]:
    """SoftEM/EM on a labelled file, or on a target task's test set when ``data`` names one."""
    path = Path(data)
    if path.suffix in (".jsonl", ".csv"):
        examples = read_labelled_examples(path, task=path.stem, column=column)
    else:
        resolve_data_dir(settings.data.data_dir)
        examples = test_examples(settings, data)
        if examples is None:
            raise DataError(f"task {data!r} has no labelled test data. Fix: pass a labelled file.")
    predictions = predict(settings, _model_dir(settings, model), [e.input for e in examples])
    return {**score_predictions(predictions, [e.answers for e in examples]), "n": len(examples)}
