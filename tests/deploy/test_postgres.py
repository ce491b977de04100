"""The Postgres half of deploy/: MLflow and Dagster keep their state in a real PostgreSQL server.

The databases are made the way the compose ``postgres`` service makes them (POSTGRES_DB for
Dagster, ``postgres/init-databases.sh`` for MLflow); Dagster's instance is the unmodified
``deploy/dagster.yaml`` with its connection read from the environment, as in the containers.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import dagster as dg
import psycopg2
import pytest
from dagster._core.run_coordinator import QueuedRunCoordinator
from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage
from mlflow import MlflowClient
from recross.config import Settings
from recross.tracking import Tracker

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
TARGET = "super_glue-cb"


def _query(server, database: str, sql: str, *args: object) -> list[tuple]:
    connection = psycopg2.connect(host=server.host, port=server.port, user=server.user,
                                  password=server.password, dbname=database)
    try:
        with connection, connection.cursor() as cursor:
            cursor.execute(sql, args)
            return cursor.fetchall()
    finally:
        connection.close()


@pytest.fixture(scope="module")
def databases(postgres) -> dict[str, str]:
    """Dagster's database (the image's POSTGRES_DB) and MLflow's (made by the init script)."""
    postgres.create_database("dagster")
    env = {**os.environ, "PATH": f"{postgres.bin_dir}:{os.environ['PATH']}",
           "PGHOST": postgres.host, "PGPORT": str(postgres.port), "PGPASSWORD": postgres.password,
           "POSTGRES_USER": postgres.user, "POSTGRES_DB": "dagster", "MLFLOW_POSTGRES_DB": "mlflow"}
    done = subprocess.run(["sh", str(DEPLOY / "postgres" / "init-databases.sh")], check=False,
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return {"dagster": "dagster", "mlflow": "mlflow"}


def test_init_script_creates_the_mlflow_database_owned_by_the_user(postgres, databases):
    owners = _query(postgres, "postgres", "SELECT pg_get_userbyid(datdba) FROM pg_database "
                                          "WHERE datname = %s", databases["mlflow"])
    assert owners == [(postgres.user,)]


def test_mlflow_runs_tracked_in_postgres_read_back_from_a_fresh_client(
        postgres, databases, tiny_settings: Settings):
    # The driver is explicit: SQLAlchemy >= 2.1 maps a bare postgresql:// to psycopg 3.
    uri = postgres.url(databases["mlflow"]).replace("postgresql://", "postgresql+psycopg2://", 1)
    settings = tiny_settings.model_copy(update={
        "tracking": tiny_settings.tracking.model_copy(update={"tracking_uri": uri})})
    tracker = Tracker(settings, experiment="deploy-postgres")
    with (tracker.parent_run(name=f"{TARGET}/recross", tags={"dagster_run_id": "r-1"}) as parent,
          tracker.seed_run(parent=parent, target_task=TARGET, retriever="recross", seed=0) as run):
        run.log_metrics({"softem": 44.5, "em": 40.0})
        run.log_retrieved_ids(["ag_news|train|t|#1", "sciq|train|t|#2"])

    client = MlflowClient(tracking_uri=uri)
    stored = client.get_run(run.run_id)
    assert stored.info.status == "FINISHED"
    assert stored.data.metrics == {"softem": 44.5, "em": 40.0}
    assert stored.data.tags["mlflow.parentRunId"] == parent.run_id
    assert stored.data.tags["dagster_run_id"] == "r-1"
    assert client.list_artifacts(run.run_id), "the retrieved ids were not logged as an artifact"
    found = client.search_runs([tracker.experiment_id], "metrics.softem > 40")
    assert [r.info.run_id for r in found] == [run.run_id]
    # The rows are in Postgres itself, and the password is in none of them.
    rows = _query(postgres, databases["mlflow"],
                  "SELECT key, value FROM metrics WHERE run_uuid = %s ORDER BY key", run.run_id)
    assert rows == [("em", 40.0), ("softem", 44.5)]
    logged = _query(postgres, databases["mlflow"], "SELECT value FROM params UNION ALL "
                                                   "SELECT value FROM tags")
    assert logged and not [v for (v,) in logged if v and postgres.password in v]


def test_dagster_on_postgres_materializes_a_partition_and_reads_the_runs_back(
        postgres, databases, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # Imported here so a broken code location fails this test, not the MLflow ones.
    from recross_assets.defs.targets import query_sets
    from recross_assets.defs.upstream import upstream_pool
    from recross_assets.partitions import (
        TARGETS,
        partition_key,
        register_targets,
        register_upstream_tasks,
    )
    from recross_assets.resources import default_resources

    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(DEPLOY / "dagster.yaml", home / "dagster.yaml")
    for name, value in {"DAGSTER_POSTGRES_USER": postgres.user,
                        "DAGSTER_POSTGRES_PASSWORD": postgres.password,
                        "DAGSTER_POSTGRES_HOST": postgres.host,
                        "DAGSTER_POSTGRES_PORT": str(postgres.port),
                        "DAGSTER_POSTGRES_DB": databases["dagster"]}.items():
        monkeypatch.setenv(name, value)
    resources = default_resources(profile="tiny", home=str(tmp_path / "recross"))
    key = partition_key(TARGET, "random")

    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
        assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
        register_targets(instance, [TARGET])
        register_upstream_tasks(instance, ["ag_news"])
        pool_run = dg.materialize([upstream_pool], instance=instance, resources=resources,
                                  partition_key="ag_news")
        partition_run = dg.materialize([query_sets], partition_key=key, instance=instance,
                                       resources=resources)
    assert pool_run.success and partition_run.success

    # A second instance on the same database sees everything the first one wrote.
    with dg.DagsterInstance.from_config(str(home)) as instance:
        for result in (pool_run, partition_run):
            assert instance.get_run_by_id(result.run_id).status == dg.DagsterRunStatus.SUCCESS
        assert instance.get_dynamic_partitions(TARGETS.name) == [TARGET]
        assert instance.get_materialized_partitions(query_sets.key) == {str(key)}
        pool_event = instance.get_latest_materialization_event(upstream_pool.key)
        examples = pool_event.asset_materialization.metadata["examples"].value
        assert examples > 0
    stored = _query(postgres, databases["dagster"], "SELECT run_id, status FROM runs")
    assert sorted(stored) == sorted([(pool_run.run_id, "SUCCESS"),
                                     (partition_run.run_id, "SUCCESS")])
