# The official MLflow image plus the drivers its server needs here: psycopg2 for the Postgres
# backend store and boto3 for an S3-compatible artifact destination (neither ships in the image).
ARG MLFLOW_IMAGE=ghcr.io/mlflow/mlflow:v3.17.2
FROM ${MLFLOW_IMAGE}
RUN pip install --no-cache-dir "psycopg2-binary==2.9.*" "boto3>=1.34,<2"
