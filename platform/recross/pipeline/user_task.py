"""A user's own task from files: retrieve, adapt (tracked in MLflow), predict, evaluate."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from recross.config import Settings
from recross.data import QuerySet, UpstreamPool, resolve_data_dir
from recross.data.targets import validate_query_inputs
from recross.data.user_files import LABELLED_SUFFIXES, read_labelled_examples, truncate_inputs
from recross.errors import DataError
from recross.index.filters import TaskFilter
from recross.io import atomic_write_json, atomic_write_text
from recross.models import adapt, load_tokenizer
from recross.pipeline.evaluation import frame_scores, load_evaluated, predict, scored_frame
from recross.pipeline.example_scoring import answer_choices, run_model_on_test
from recross.pipeline.indexes import OpenIndexes
from recross.pipeline.retrieval import build_retriever
from recross.pipeline.target_data import test_examples
from recross.pipeline.upstream import load_upstream_model, read_pool, upstream_model_dir
from recross.retrieval import RetrievedItem, RetrievedSet
from recross.tracking import USER_MODEL_ALIAS, Tracker, registered_model_name, resolve_model_uri

Echo = Callable[[str], None]
ORIGIN_FILE = "recross_task.json"  # written by `recross adapt` beside the adapted checkpoint


@dataclass(frozen=True)
class ModelOrigin:
    """What a user's model was adapted for (None: not recorded, e.g. a hand-made checkpoint)."""

    target_task: str | None
    retriever: str | None


def _fit_inputs(settings: Settings, inputs: list[str], echo: Echo) -> list[str]:
    """Truncate inputs longer than the model's limit, with a warning (never silently)."""
    tokenizer = load_tokenizer(upstream_model_dir(settings))
    fitted, cut = truncate_inputs(inputs, tokenizer=tokenizer,
                                  max_length=settings.models.max_input_length)
    if cut:
        echo(f"warning: {cut} input(s) exceed {settings.models.max_input_length} tokens and "
             "were truncated (models.max_input_length)")
    return fitted


def retrieve_user_queries(settings: Settings, inputs: Sequence[str], *, task: str,
                          retriever: str, filters: TaskFilter, echo: Echo = print) -> RetrievedSet:
    """Retrieve |R| upstream examples for a user's distinct query inputs (at most |R| of them),
    as :func:`recross.data.user_files.read_query_inputs` returns them."""
    validate_query_inputs(inputs, where=f"the queries of {task!r}",
                          max_size=settings.retrieval.retrieved_size)
    inputs = list(inputs)
    if retriever not in ("random", "bm25", "dsir"):  # the others feed the queries to a model
        inputs = _fit_inputs(settings, inputs, echo)
    query_set = QuerySet(task=task, seed=0, inputs=tuple(inputs))
    pool = read_pool(settings)
    echo(f"retrieving {settings.retrieval.retrieved_size} examples with {retriever} "
         f"for {len(inputs)} queries")
    with OpenIndexes(settings, pool) as indexes:
        engine = build_retriever(settings, pool, retriever, indexes)
        return engine.retrieve(query_set, size=settings.retrieval.retrieved_size,
                               filters=filters)


def write_retrieved_jsonl(path: Path, retrieved: RetrievedSet) -> None:
    """One line per retrieved item, duplicates kept; :func:`read_retrieved_jsonl` reads it back."""
    filters = {name: list(value) for name, value in asdict(retrieved.filters).items()}
    lines = [json.dumps({**item.example.to_record(), "score": item.score,
                         "query_index": item.query_index, "rank": item.rank,
                         "retriever": retrieved.retriever, "query_task": retrieved.query_task,
                         "filters": filters}) for item in retrieved.items]
    atomic_write_text(path, "\n".join(lines) + "\n")


def read_retrieved_jsonl(path: Path, pool: UpstreamPool) -> RetrievedSet:
    """A set written by `recross retrieve --out`, its examples taken from ``pool`` (so adapting
    on it skips retrieval and reranking); every id must be in the pool, one retriever only."""
    records = []
    for number, line in enumerate(_read_lines(path), start=1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{number}: not a JSON object ({exc.msg}). Fix: pass the "
                            "--out file of `recross retrieve`, unchanged.") from None
        if not isinstance(record, dict) or not isinstance(record.get("example_id"), str) \
                or not isinstance(record.get("retriever"), str):
            raise DataError(f"{path}:{number}: no example_id/retriever. Fix: pass the --out file "
                            "of `recross retrieve`, unchanged.")
        records.append(record)
    retrievers = sorted({r["retriever"] for r in records})
    if len(retrievers) != 1:
        raise DataError(f"{path}: mixes retrievers ({', '.join(retrievers)}). Fix: pass one "
                        "`recross retrieve --out` file.")
    missing = sorted({r["example_id"] for r in records}
                     - {example.example_id for example in pool.examples})
    if missing:
        raise DataError(f"{path}: {len(missing)} example ids are not in this profile's upstream "
                        f"pool (e.g. {', '.join(missing[:3])}). Fix: adapt with the --profile / "
                        "--config the set was retrieved with, or retrieve again.")
    first = records[0]
    filters = TaskFilter(**{name: tuple(value) for name, value in
                            first.get("filters", {}).items()})
    items = tuple(RetrievedItem(example=pool.get(r["example_id"]),
                                score=float(r.get("score") or 0.0),
                                query_index=r.get("query_index"), rank=r.get("rank"))
                  for r in records)
    return RetrievedSet(retriever=retrievers[0], query_task=first.get("query_task", path.stem),
                        query_seed=0, target_size=len(items), filters=filters, items=items)


def _read_lines(path: Path) -> list[str]:
    try:
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except FileNotFoundError:
        raise DataError(f"{path}: no such file. Fix: check the path.") from None
    if not lines:
        raise DataError(f"{path}: the file is empty. Fix: pass the --out file of "
                        "`recross retrieve`.")
    return lines


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
    base = load_upstream_model(settings)
    params = {**retrieved.filters.as_params(), "retriever": retrieved.retriever,
              "retrieved_size": len(retrieved), "queries": retrieved.query_task}
    with tracker.parent_run(name=f"{task_name}/{retrieved.retriever}",
                            tags={"target_task": task_name, "retriever": retrieved.retriever},
                            params=params) as run:
        started = time.perf_counter()
        result = adapt(base, retrieved.examples, settings.adaptation,
                       max_input_length=settings.models.max_input_length,
                       max_output_length=settings.models.max_output_length, out_dir=out_dir,
                       device=settings.models.device)
        seconds = time.perf_counter() - started
        run.log_params(result.params)
        run.log_metrics({"adapt_seconds": seconds,
                         **({"final_loss": result.final_loss}
                            if result.final_loss is not None else {})})
        run.log_retrieved_ids(retrieved.example_ids)
        # Beside the checkpoint (and so inside the logged model): what `recross evaluate` files
        # its run under.
        atomic_write_json(out_dir / ORIGIN_FILE, {"target_task": task_name,
                                                  "retriever": retrieved.retriever})
        uri = tracker.log_adapted_model(
            run, out_dir, alias=USER_MODEL_ALIAS,
            registered_name=registered_model_name(target_task=task_name,
                                                  retriever=retrieved.retriever))
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


def model_origin(settings: Settings, model: str) -> ModelOrigin:
    """The task and retriever ``model`` was adapted for, when `recross adapt` recorded them."""
    model_dir = _model_dir(settings, model)
    if model_dir is None:
        return ModelOrigin(target_task=None, retriever="none")  # M itself
    origin = model_dir / ORIGIN_FILE
    if not origin.is_file():
        return ModelOrigin(target_task=None, retriever=None)
    recorded = json.loads(origin.read_text(encoding="utf-8"))
    return ModelOrigin(target_task=recorded.get("target_task"),
                       retriever=recorded.get("retriever"))


def predict_file(settings: Settings, model: str, inputs: Sequence[str], out: Path, *,
                 echo: Echo = print) -> int:
    """Answer every input and write one ``{input, prediction}`` line per input, repeats included
    (so the output joins line by line with the input file); each distinct input is generated once."""
    distinct = list(dict.fromkeys(inputs))
    predictions = predict(settings, _model_dir(settings, model),
                          _fit_inputs(settings, distinct, echo))
    answer = dict(zip(distinct, predictions))
    atomic_write_text(out, "".join(json.dumps({"input": text, "prediction": answer[text]}) + "\n"
                                   for text in inputs))
    return len(inputs)


def evaluate_model(settings: Settings, model: str, data: str, *,
                   column: str = "input") -> dict[str, float]:
    """SoftEM/EM, gold NLL, rank accuracy and coverage, top-answer share (the seed-run metrics)
    on a labelled file, or on a target task's test set when ``data`` names one."""
    path = Path(data)
    if path.suffix in LABELLED_SUFFIXES:
        examples = read_labelled_examples(path, task=path.stem, column=column)
    else:
        resolve_data_dir(settings.data.data_dir)
        target_examples = test_examples(settings, data)
        if target_examples is None:
            raise DataError(f"task {data!r} has no labelled test data. Fix: pass a labelled file.")
        examples = target_examples
    bundle = load_evaluated(settings, _model_dir(settings, model))
    found = run_model_on_test(settings, bundle, examples, answer_choices(settings, examples))
    frame = scored_frame(examples, found, None, settings.evaluation)
    return {**frame_scores(frame, examples, baseline=None, scoring=settings.evaluation),
            "n": len(examples)}


def log_user_evaluation(settings: Settings, scores: Mapping[str, float], *, target_task: str,
                        retriever: str | None, model: str, data: str) -> str:
    """Log an evaluation of a user's model as a seed-0 run (tags ``target_task``, ``retriever``
    when known, metrics as :func:`evaluate_model` returns them) so `recross compare` lists it."""
    metrics = {key: float(value) for key, value in scores.items()
               if key != "n" and isinstance(value, int | float) and not isinstance(value, bool)}
    tracker = Tracker(settings)
    with tracker.seed_run(parent=None, target_task=target_task, retriever=retriever, seed=0,
                          params={"model": model, "data": data, "n_test": scores["n"]}) as run:
        run.log_metrics(metrics)
    return run.run_id
