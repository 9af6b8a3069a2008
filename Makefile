# Two commands matter: `make demo` (install, generate, run the real DAG end to end) and
# `make test` (the whole suite). Everything else is a step of those two.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | sha256sum | cut -c1-12)

# Demo scale and dates (fixed so every demo builds the same warehouse; override on the command line).
DEMO_SUBSCRIBERS ?= 20000
DEMO_START ?= 2026-01-01
DEMO_END ?= 2026-06-30
DEMO_SEED ?= 42
DEMO_FORMAT ?= parquet
# Mean usage records per active subscriber per day: 5 keeps the demo to a coffee break
# (18M usage rows); the benchmark uses 10 or more for realistic density.
DEMO_EVENTS_PER_SUB_DAY ?= 5

# An operator profile to write the demo's CSV files in (e.g. example_operator, with
# DEMO_FORMAT=csv) and to run the DAG under; empty: the contract's own spelling.
DEMO_DIALECT ?=
# The data directory: $TELCO_MART_DATA_DIR when set (it must exist, or the commands refuse it;
# make demo creates it), else data/ here, which is also the package's default (not exported).
DATA_DIR := $(or $(TELCO_MART_DATA_DIR),$(CURDIR)/data)
export AIRFLOW_HOME ?= $(CURDIR)/.airflow
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export AIRFLOW__COSMOS__ENABLE_TELEMETRY := False
export GX_ANALYTICS_ENABLED := false

LANDING := $(DATA_DIR)/landing
# The generator's version is in the stamp: a generator that makes other files for the same
# arguments (telco_mart.generate.GENERATOR_VERSION) regenerates the demo's landing.
GENERATOR_VERSION := $(shell sed -n 's/^GENERATOR_VERSION = //p' plugins/telco_mart/generate/core.py)
DEMO_DATA_STAMP := $(LANDING)/_truth/.demo-v$(GENERATOR_VERSION)-$(DEMO_SUBSCRIBERS)-$(DEMO_START)-$(DEMO_END)-$(DEMO_SEED)-$(DEMO_FORMAT)-$(DEMO_EVENTS_PER_SUB_DAY)$(if $(DEMO_DIALECT),-$(DEMO_DIALECT))
DBT_FILES := $(shell find dbt_project -path dbt_project/target -prune -o -type f \( -name '*.sql' -o -name '*.yml' \) -print 2>/dev/null)
MANIFEST := dbt_project/target/manifest.json

.PHONY: help venv demo test lint docs airflow-init dbt-parse data init ui clean bi bi-venv
.PHONY: bench bench-smoke

help:
	@echo "make demo   - set everything up and run the operator_daily DAG on synthetic data (DuckDB)"
	@echo "make test   - run the whole test suite"
	@echo "make lint   - ruff (Python) and sqlfluff (the dbt models' SQL style)"
	@echo "make ui     - start Airflow locally (airflow standalone) on http://127.0.0.1:8080"
	@echo "make bi     - start Superset with the operator's dashboards on http://127.0.0.1:8088 (after make demo)"
	@echo "make docs   - render docs/raw_contract.md from the contract"
	@echo "make clean  - remove data/, .airflow/, .superset/ and dbt target/ (keeps .venv and .venv-bi)"
	@echo "make bench  - benchmark harness (100,000 subscribers; results in benchmarks/results/)"
	@echo "make bench-smoke - the harness at a tiny scale (about 2 minutes)"

venv: $(STAMP)
# The install shows where it is (every 25th package, then pip's long install step); pip's
# whole output goes to .venv/install.log.
$(STAMP): requirements.lock pyproject.toml
	@echo "== install: $$(grep -c '==' requirements.lock) locked packages into $(VENV)/ (a few minutes on a fresh clone) =="
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@set -o pipefail; $(BIN)/pip install --disable-pip-version-check --progress-bar off -r requirements.lock 2>&1 \
		| tee $(VENV)/install.log | awk -v total=$$(grep -c '==' requirements.lock) \
		'/^(Collecting|Processing) / { n++; if (n % 25 == 0) printf "   collected %d of %d packages\n", n, total; fflush() } \
		 /^Installing collected packages/ { print "   installing the collected packages (the longest step) ..."; fflush() } \
		 /^Successfully installed/ { print "   installed " NF - 2 " packages" }' \
		|| (tail -n 30 $(VENV)/install.log; echo "install failed: full log in $(VENV)/install.log"; exit 1)
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	rm -f $(VENV)/.installed-* && touch $@

airflow-init: $(AIRFLOW_HOME)/.initialised
$(AIRFLOW_HOME)/.initialised: $(STAMP)
	mkdir -p $(AIRFLOW_HOME)
	$(BIN)/telco-mart airflow db migrate > $(AIRFLOW_HOME)/db-migrate.log 2>&1 || (cat $(AIRFLOW_HOME)/db-migrate.log; exit 1)
	$(BIN)/telco-mart airflow pools set duckdb_warehouse 1 "DuckDB allows one writer" > /dev/null
	touch $@

dbt-parse: $(MANIFEST)
$(MANIFEST): $(STAMP) $(DBT_FILES)
	cd dbt_project && TELCO_MART_WAREHOUSE=$${TELCO_MART_WAREHOUSE:-$(DATA_DIR)/warehouse.duckdb} \
		../$(BIN)/dbt parse --profiles-dir . --quiet

data: $(DEMO_DATA_STAMP)
$(DEMO_DATA_STAMP): $(STAMP)
	@echo "== generate: $(DEMO_SUBSCRIBERS) subscribers, $(DEMO_START) .. $(DEMO_END), into $(LANDING) =="
	rm -rf $(LANDING)
	$(BIN)/telco-mart generate --subscribers $(DEMO_SUBSCRIBERS) --start $(DEMO_START) --end $(DEMO_END) \
		--seed $(DEMO_SEED) --format $(DEMO_FORMAT) --events-per-sub-day $(DEMO_EVENTS_PER_SUB_DAY) --out $(LANDING) \
		$(if $(DEMO_DIALECT),--dialect $(DEMO_DIALECT))
	touch $@

# The demo creates its data directory; everything else refuses one that does not exist.
$(DATA_DIR):
	mkdir -p $@

# The warehouse is created only by `telco-mart init` (a mistyped path must not become a new,
# empty warehouse); on an existing one it only confirms it.
init: $(STAMP) | $(DATA_DIR)
	$(BIN)/telco-mart init

# The demo's day runs through Airflow's scheduler (telco-mart run): each task is printed as it
# starts and ends, its log is where the UI shows it, and the run keeps its real duration.
demo: $(STAMP) | $(DATA_DIR) airflow-init dbt-parse data init
	@echo "== run operator_daily for $(DEMO_END) (every line in $(AIRFLOW_HOME)/demo-run.log) =="
	$(if $(DEMO_DIALECT),TELCO_MART_OPERATOR_PROFILE=$(DEMO_DIALECT)) \
		$(BIN)/telco-mart run --date $(DEMO_END) --log $(AIRFLOW_HOME)/demo-run.log
	$(BIN)/telco-mart summary --run-log $(AIRFLOW_HOME)/demo-run.log
	@echo "BI: the served copy of the marts is $(DATA_DIR)/serving/telco_mart.duckdb; make bi opens the dashboards"

# The BI test (tests/bi) starts the real Superset, so the suite needs its environment too.
test: $(STAMP) dbt-parse bi-venv
	$(BIN)/pytest

# Python: ruff. SQL: sqlfluff with its dbt templater over the dbt models, configured in
# .sqlfluff (the house style, and why each rule left out is left out); tests/dbt/test_sql_lint.py
# runs it, so that `make test` (and CI) keeps the style too. The dbt templater compiles the
# project (about 40 s on two cores); the time is printed.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@start=$$(date +%s); $(BIN)/pytest -q --no-header -p no:cacheprovider -m lint -s tests/dbt/test_sql_lint.py; \
		rc=$$?; echo "SQL lint (sqlfluff): $$(( $$(date +%s) - start )) s"; exit $$rc

docs: $(STAMP)
	$(BIN)/telco-mart contract --markdown --out docs/raw_contract.md

# Airflow's UI, scheduler and API server on http://127.0.0.1:8080 (AIRFLOW__API__HOST and
# AIRFLOW__API__PORT move it); user admin, password in $(AIRFLOW_HOME)/simple_auth_manager_passwords.json.generated.
ui: $(STAMP) airflow-init dbt-parse init
	@echo "== Airflow on http://$${AIRFLOW__API__HOST:-127.0.0.1}:$${AIRFLOW__API__PORT:-8080}: user admin, password in $(AIRFLOW_HOME)/simple_auth_manager_passwords.json.generated (Ctrl-C stops it) =="
	$(BIN)/telco-mart ui

# Superset lives in its own environment: it pins SQLAlchemy<2, pandas<2.2 and duckdb<2.
BI_VENV := .venv-bi
BI_STAMP := $(BI_VENV)/.installed-$(shell cat requirements-bi.lock | sha256sum | cut -c1-12)

bi-venv: $(BI_STAMP)
$(BI_STAMP): requirements-bi.lock
	test -x $(BI_VENV)/bin/python || $(PYTHON) -m venv $(BI_VENV)
	$(BI_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-bi.lock
	rm -f $(BI_VENV)/.installed-* && touch $@

# Superset on 127.0.0.1:8088 with the dashboards of bi/assets/, reading the served copy of the
# marts that the DAG's last task writes (run make demo first); the admin password is printed.
bi: $(STAMP) $(BI_STAMP)
	$(BIN)/python -m telco_mart.bi serve

clean:
	rm -rf $(DATA_DIR) $(AIRFLOW_HOME) .superset dbt_project/target dbt_project/logs

# Benchmark harness (issue 7): generate, then the DAG's steps per run, each measured in its own
# process; results in benchmarks/results/<scale>-<timestamp>/. Override on the command line,
# e.g. make bench BENCH_HISTORY_DAYS=30 BENCH_ARGS="--airflow-day --source HEAD".
BENCH_SUBSCRIBERS ?= 100000
BENCH_HISTORY_DAYS ?= 90
BENCH_INCREMENTAL_DAYS ?= 1,30,90
BENCH_EVENTS_PER_SUB_DAY ?= 10
BENCH_ARGS ?=

bench: $(STAMP)
	$(BIN)/python benchmarks/run_benchmark.py --subscribers $(BENCH_SUBSCRIBERS) --history-days $(BENCH_HISTORY_DAYS) \
		--incremental-days $(BENCH_INCREMENTAL_DAYS) --events-per-sub-day $(BENCH_EVENTS_PER_SUB_DAY) $(BENCH_ARGS)

bench-smoke: $(STAMP)
	$(BIN)/python benchmarks/run_benchmark.py --subscribers 200 --history-days 2 --incremental-days 1 \
		--events-per-sub-day 4 --dbt-command run $(BENCH_ARGS)
