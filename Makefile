# ledgerflow — every set-up step lives here, so a fresh machine needs only `make run` or `make test`.
PYTHON ?= python3
VENV   ?= .venv
UV_VERSION := 0.13.9
BIN    := $(VENV)/bin
UV     := $(BIN)/uv
KAFKA_JARS ?= .cache/kafka

.PHONY: run test lint fmt bench install install-dev kafka-jars browser schemas clean help

help:
	@echo "make run    - install and start 'ledgerflow server' (embedded default, http://127.0.0.1:5000)"
	@echo "make test   - install test dependencies, provision Kafka/PostgreSQL/S3 and run the suite"
	@echo "make lint   - ruff (lint + format check) and mypy"
	@echo "make bench  - side-by-side benchmark against mlflow server (~40 min; docs/benchmarks/)"
	@echo "make schemas - re-export the event JSON Schemas into schemas/json/"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(UV): $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# Stamps make re-installs happen only when a lock file changes.
$(VENV)/.installed-runtime: requirements.lock pyproject.toml | $(UV)
	$(UV) pip install --quiet --python $(BIN)/python -r requirements.lock
	$(UV) pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $@

$(VENV)/.installed-dev: requirements-dev.lock pyproject.toml | $(UV)
	$(UV) pip install --quiet --python $(BIN)/python -r requirements-dev.lock
	$(UV) pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $@ $(VENV)/.installed-runtime

install: $(VENV)/.installed-runtime
install-dev: $(VENV)/.installed-dev

run: install
	$(BIN)/ledgerflow server

kafka-jars:
	deploy/kafka/fetch-kafka.sh $(KAFKA_JARS)

# Debian's chromium for the UI tests (Playwright drives it; `playwright install` is never run).
browser:
	deploy/ui/install-browser.sh

test: install-dev kafka-jars browser
	LEDGERFLOW_KAFKA_JARS=$(abspath $(KAFKA_JARS)) $(BIN)/pytest $(PYTEST_ARGS)

# The full benchmark (several minutes); BENCH_ARGS=--quick for the smoke sizes.
bench: install-dev kafka-jars
	LEDGERFLOW_KAFKA_JARS=$(abspath $(KAFKA_JARS)) $(BIN)/python -m bench $(BENCH_ARGS)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

fmt: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

schemas: install-dev
	$(BIN)/python -m schemas.export

clean:
	rm -rf $(VENV) .cache .pytest_cache .mypy_cache .ruff_cache
