#!/bin/sh
# Runs once, when the postgres-data volume is empty: POSTGRES_DB (Dagster's) is made by the image;
# this adds MLflow's database, owned by the same user.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -c "CREATE DATABASE \"$MLFLOW_POSTGRES_DB\" OWNER \"$POSTGRES_USER\""
