# The README's two commands: `make run` (set up + main job), `make test` (set up + tests).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.recross-installed

.PHONY: setup run test

# Idempotent: the stamp is newer than pyproject.toml after one install, so a second call
# reinstalls nothing. torch goes first and pinned: a looser spec pulls a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

run: setup
	DAGSTER_HOME=$(CURDIR) HF_HUB_OFFLINE=1 $(BIN)/recross run

test: setup
	$(BIN)/ruff check platform assets benchmarks tests
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q
