# The README's two commands: `make run` (set up + main job), `make test` (set up + tests).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.recross-installed

.PHONY: setup run test test-fast typecheck

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
	$(BIN)/mypy
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q

# The fast lane while working: everything but the end-to-end tests marked slow (a few minutes).
test-fast: setup
	$(BIN)/ruff check platform assets benchmarks tests
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q -m "not slow"

# mypy over platform/ and assets/ (lenient settings in pyproject.toml).
typecheck: setup
	$(BIN)/mypy
