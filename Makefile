# Two commands on a fresh machine: `make run` and `make test`. Everything else is a helper.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALL_STAMP := $(VENV)/.installed

# The paths the pipeline reads and writes (WAREHOUSE_DB, ANALYTICS_DB, LANDING_DIR, REJECTED_DIR,
# MODELS_DIR, MODEL_SPECS_DIR) default under data/ in one place, ml/settings.py, and in the dbt
# project for dbt run from warehouse/ (profiles.yml, the source YAML); set one to move it.
export DBT_PROFILES_DIR ?= $(CURDIR)/warehouse
# Dagster's run history lives in the project, so it survives restarts of `make dev`.
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
# A run over a range of days logs one "planned" event per asset instead of one per asset and day:
# Dagster 1.13 otherwise logs every asset of the run once per day of the range (65 assets x 425
# days took 4.5 minutes in SQLite before the run started). See README.md, "Daily partitions".
export DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS ?= true
# ...and stores a step's per-day materializations (425 per partitioned asset in a full run) in one
# transaction per database instead of one each: orchestration/lib/event_log.py.
export DAGSTER_EVENT_BATCH_SIZE ?= 1000

# The default demo world (see `python -m simulator generate --help`).
SIM_ARGS ?= --seed 7 --start 2025-01-01 --days 425
DEMO_STAMP := data/.demo-generated

.PHONY: help install run data build evaluate test test-all lint dev docs clean bench bench-l bench-dask bench-spark bench-analysts bench-streaming serve stream-demo FORCE

help:
	@echo "make run    set up, generate the demo data, build the warehouse"
	@echo "make test   set up, lint (ruff, sqlfluff) and run the test suite (make test-all: with soak, quality, engines and bench tests)"
	@echo "make dev    the Dagster UI (asset graph, runs, checks) on http://127.0.0.1:3000"
	@echo "make lint   ruff + sqlfluff"
	@echo "make evaluate  the champions against the simulator's oracle (quality bar)"
	@echo "make bench  benchmarks at the demo scale and at ~1M payments (make bench-l: ~10M, long)"
	@echo "make bench-dask  each model trained in one process and on a local Dask cluster (after make run)"
	@echo "make bench-spark the warehouse built on DuckDB and on local Spark, at the demo scale and ~1M payments"
	@echo "make docs   dbt docs generate"
	@echo "make bench-analysts  20 analysts querying the published file, alone and during a daily run (after make run)"
	@echo "make bench-streaming the stream path on Redis: latency, saturation, a burst's lag, CPU per payment (after make run)"
	@echo "make serve  the online fraud scoring API on http://127.0.0.1:8000 (after make run)"
	@echo "make stream-demo  payments on a Redis stream, scored and landed in micro-batches (after make run)"
	@echo "make clean  remove data/ and dbt artifacts (keeps .venv)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the dependency declaration changes. uv installs the locked set (the same
# versions pip would: requirements.lock constrains both) with parallel downloads: 71 s where pip took
# 197 s on a fresh 2-core machine, and CI pays that on every run.
$(INSTALL_STAMP): pyproject.toml requirements.lock | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-cache-dir -c requirements.lock uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -c requirements.lock -e '.[dev,bench,deploy,spark]'
	touch $@

# The domains dbt builds (ml/domains.py): retail, and those WAREHOUSE_DOMAINS switches on that have
# landing files (one log line for each one skipped). The file changes only when that set does.
DOMAINS := warehouse/target/domains
$(DOMAINS): $(INSTALL_STAMP) FORCE
	@mkdir -p $(dir $@)
	@$(BIN)/python -m ml.domains > $@.new && { cmp -s $@.new $@ && rm $@.new || mv $@.new $@; }

FORCE:

# The dbt manifest is prepared at build time, so the Dagster definitions load without parsing dbt.
MANIFEST := warehouse/target/manifest.json
DBT_SOURCES := $(shell find warehouse/models warehouse/macros warehouse/snapshots warehouse/tests seeds -type f 2>/dev/null)
$(MANIFEST): $(INSTALL_STAMP) $(DOMAINS) warehouse/dbt_project.yml warehouse/selectors.yml $(DBT_SOURCES)
	$(BIN)/python -m ml.settings --make-dirs > /dev/null
	cd warehouse && WAREHOUSE_DOMAINS=$$(cat ../$(DOMAINS)) ../$(BIN)/dbt parse --quiet --no-partial-parse
	touch $@

install: $(INSTALL_STAMP) $(MANIFEST)

# Regenerate the demo landing zone only when the simulator, its seeds or its arguments change.
$(DEMO_STAMP): $(INSTALL_STAMP) $(wildcard simulator/*.py) $(wildcard seeds/*.csv) Makefile
	$(BIN)/python -m simulator generate $(SIM_ARGS) --out data/landing --oracle-out data/oracle
	touch $@

data: $(DEMO_STAMP)

# The whole asset graph, headless, through Dagster: dbt, training (gated), scoring, the dbt marts
# on the scores, and the atomic publish of data/analytics.duckdb.
$(DAGSTER_HOME)/dagster.yaml: orchestration/dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp $< $@

# One run over every landing day present (daily partitions as one range, one dbt invocation per
# phase), printed as one line per step and a summary; Dagster's full event stream goes to data/logs/.
# Nothing runs when nothing changed since the last successful run. RUN_ARGS: --full-refresh, --force,
# --day YYYY-MM-DD (python -m orchestration.run --help).
RUN_ARGS ?=
build: install $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/python -m orchestration.run full_pipeline $(RUN_ARGS)

evaluate: install
	$(BIN)/python -m evaluation

# Stage-by-stage wall time, rows/s and peak memory (whole process tree), the Dagster full and
# one-day runs, compiled scoring and the pandas baseline: bench/results/<scale>.json and the
# generated tables of docs/benchmarks.md. Each scale works in data/bench/<scale>/ with its own paths.
bench: install
	$(BIN)/python -m bench --scale default --scale M

bench-l: install
	$(BIN)/python -m bench --scale L

# Each retail model trained in one process and on a local Dask cluster, on the warehouse `make run`
# built: wall time, peak memory, test metric (bench/results/distributed.json, docs/scale-out.md).
bench-dask: install
	$(BIN)/python -m bench.distributed

# the dbt project built on DuckDB and on local Spark from the same worlds (docs/scale-out.md)
bench-spark: install
	$(BIN)/python -m bench.spark --scale default --scale M

bench-analysts: install
	$(BIN)/python -m bench.analysts

# The scorer and lander on a Redis stream: produce-to-decision latency at 500/s and 2,000/s, drain
# rates at saturation, the lag through a 60 s burst, CPU per payment (bench/results/streaming.json).
bench-streaming: install
	$(BIN)/python -m bench.streaming

run: data build

test: lint $(MANIFEST)
	$(BIN)/python -m pytest

# Everything: the soak repetitions of proven faults, the quality comparisons, the whole pipeline on
# both engines and the benchmark harness end to end included (about 10 more minutes).
test-all: lint $(MANIFEST)
	$(BIN)/python -m pytest -m ""

# sqlfluff with the dbt templater, on throwaway databases (never data/): every model as on a first
# run, then the incremental branch of each incremental model (warehouse/scripts/lint.py).
lint: install $(MANIFEST)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	cd warehouse && ../$(BIN)/python scripts/lint.py

docs: install
	cd warehouse && ../$(BIN)/dbt docs generate

dev: install $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dagster dev -w workspace.yaml

# The online fraud scoring API (serving/): the champion and the online features of the published
# ANALYTICS_DB, reloaded when it is republished; audit log in SERVE_LOG_DIR (data/serving_log/).
SERVE_HOST ?= 127.0.0.1
SERVE_PORT ?= 8000
serve: install
	$(BIN)/python -m serving --host $(SERVE_HOST) --port $(SERVE_PORT)

stream-demo: install
	$(BIN)/python -m streaming.demo

clean:
	rm -rf data warehouse/target warehouse/logs
