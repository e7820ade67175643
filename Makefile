# Two commands on a fresh machine: `make run` and `make test`. Everything else is a helper.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALL_STAMP := $(VENV)/.installed

# Paths the dbt profile and the pipeline read; absolute so dbt works from any directory.
export WAREHOUSE_DB ?= $(CURDIR)/data/warehouse.duckdb
export LANDING_DIR ?= $(CURDIR)/data/landing
export DBT_PROFILES_DIR ?= $(CURDIR)/warehouse

# The default demo world (see `python -m simulator generate --help`).
SIM_ARGS ?= --seed 7 --start 2025-01-01 --days 425
DEMO_STAMP := data/.demo-generated

.PHONY: help install run data build evaluate test lint dev docs clean

help:
	@echo "make run    set up, generate the demo data, build the warehouse"
	@echo "make test   set up, lint (ruff, sqlfluff) and run the test suite"
	@echo "make lint   ruff + sqlfluff"
	@echo "make evaluate  the champions against the simulator's oracle (quality bar)"
	@echo "make docs   dbt docs generate"
	@echo "make clean  remove data/ and dbt artifacts (keeps .venv)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the dependency declaration changes.
$(INSTALL_STAMP): pyproject.toml requirements.lock | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[dev]'
	touch $@

install: $(INSTALL_STAMP)

# Regenerate the demo landing zone only when the simulator, its seeds or its arguments change.
$(DEMO_STAMP): $(INSTALL_STAMP) $(wildcard simulator/*.py) $(wildcard seeds/*.csv) Makefile
	$(BIN)/python -m simulator generate $(SIM_ARGS) --out data/landing --oracle-out data/oracle
	touch $@

data: $(DEMO_STAMP)

# dbt, then the models train on its feature tables and score, then dbt rebuilds what reads the scores.
build: install
	cd warehouse && ../$(BIN)/dbt build
	$(BIN)/python -m ml train
	$(BIN)/python -m ml score
	cd warehouse && ../$(BIN)/dbt build --select source:ml+

evaluate: install
	$(BIN)/python -m evaluation

run: data build

test: lint
	$(BIN)/python -m pytest

# sqlfluff's dbt templater compiles the project against WAREHOUSE_DB (created empty if missing).
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	mkdir -p $(dir $(WAREHOUSE_DB))
	cd warehouse && ../$(BIN)/sqlfluff lint models

docs: install
	cd warehouse && ../$(BIN)/dbt docs generate

dev: install
	@echo "The Dagster UI arrives with the orchestration issue; for now: make run"

clean:
	rm -rf data warehouse/target warehouse/logs
