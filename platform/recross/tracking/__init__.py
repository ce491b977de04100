"""MLflow tracking: the only part of the library that imports mlflow.

One experiment per study, a parent run per materialization, a nested run per (target task,
retriever, query-set seed), adapted models logged and registered with aliases. Default store:
``sqlite:///<home>/mlflow.db`` with artifacts under ``<home>/mlartifacts``;
``MLFLOW_TRACKING_URI`` (or ``settings.tracking.tracking_uri``) points elsewhere, e.g. the
server of ``deploy/``. Secrets are redacted (:mod:`recross.redaction`) from every param, tag,
message and printed line. One module per job:

- :mod:`~recross.tracking.store`: which store, checked up front; MLflow failures as clear errors
- :mod:`~recross.tracking.runs`: ``Tracker`` and its runs, metrics, params and artifacts
- :mod:`~recross.tracking.models`: adapted models logged, registered, served and fetched back
- :mod:`~recross.tracking.queries`: finished runs as a frame, and `recross compare`
- :mod:`~recross.tracking.datasets`: the retrieved set R and the test sample as run datasets

Usage::

    tracker = Tracker(settings)  # one per process: opening a store costs seconds
    with (tracker.parent_run(name="super_glue-cb/recross", tags={"dagster_run_id": rid}) as parent,
          tracker.seed_run(parent=parent, target_task="super_glue-cb", retriever="recross",
                           seed=0) as run):
        run.log_metrics({"softem": 44.5, "em": 40.1})
        run.log_retrieved_ids(ids)
        uri = tracker.log_adapted_model(run, checkpoint_dir, registered_name="cb-recross",
                                        alias="seed-0")
    checkpoint = resolve_model_uri(uri, settings)
"""

from recross.tracking.models import (
    USER_MODEL_ALIAS,
    AdaptedSeq2Seq,
    registered_model_name,
    registry_name_and_alias,
    resolve_model_uri,
    serving_config,
)
from recross.tracking.queries import RUN_COLUMNS, compare_table, fetch_runs
from recross.tracking.runs import METRICS, SEED_RUN_SETTINGS, TrackedRun, Tracker
from recross.tracking.store import tracking_uri

__all__ = [
    "METRICS", "RUN_COLUMNS", "SEED_RUN_SETTINGS", "USER_MODEL_ALIAS", "AdaptedSeq2Seq",
    "TrackedRun", "Tracker", "compare_table", "fetch_runs", "registered_model_name",
    "registry_name_and_alias", "resolve_model_uri", "serving_config", "tracking_uri",
]
