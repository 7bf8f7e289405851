# One entry point for the project. The README's two commands are `make demo` and `make test`.
SHELL := /bin/bash
STACK := local_stack/bin
PY := .venvs/airflow/bin/python

.PHONY: help install up down reload status logs demo test bench fullrun capacity audit-topics lint format lock memory clean-data dbt-manifest

help: ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

install: ## install apt packages, the three venvs and the JVM artifacts (idempotent, cached)
	@$(STACK)/install.sh

up: install ## start the whole local stack and wait until every component is healthy
	@$(STACK)/up.sh

down: ## stop the stack; all state under data/ is kept
	@$(STACK)/down.sh

reload: ## restart what must see changed DAG, plugin or include code (airflow:*, streamlit)
	@$(STACK)/reload.sh

status: ## every component's health check and URL
	@$(STACK)/status.sh

logs: ## follow every component's log (make logs C="kafka flink-taskmanager" for some)
	@$(STACK)/logs.sh $(C)

demo: up ## set up, start and run the pipeline end to end on the shipped sample
	@$(STACK)/run.sh $(PY) -m include.demo

test: up ## every test, against the real local stack
	@$(STACK)/run.sh $(PY) -m pytest $(PYTEST_ARGS)

lint: ## ruff lint + format check
	@$(PY) -m ruff check . && $(PY) -m ruff format --check .

format: ## apply ruff fixes and formatting
	@$(PY) -m ruff check --fix . && $(PY) -m ruff format .

lock: ## re-resolve requirements.txt into local_stack/requirements/airflow.lock
	@PATH="$$HOME/.local/bin:$$PATH" uv pip compile -q -p 3.11 requirements.txt -o local_stack/requirements/airflow.lock

memory: ## memory (PSS) used by each running component and in total
	@$(STACK)/memory.sh

dbt-manifest: ## re-parse the dbt project into include/dbt/ad_events/manifest/manifest.json (commit it)
	@$(STACK)/run.sh $(PY) -m include.batch.dbt_manifest

clean-data: down ## DELETE all local state (databases, topics, checkpoints)
	@read -p "Delete everything under data/? [y/N] " a && [[ $$a == y ]] && rm -rf data

bench: ## benchmarks against the running stack (make bench BENCH_ARGS="ingest --rows 2000000")
	@$(STACK)/run.sh $(PY) -m bench.run $(BENCH_ARGS)

fullrun: ## the whole path at Avazu scale, timed and checked (make fullrun ARGS="--rows 200000 --days 2")
	@$(STACK)/run.sh $(PY) -m bench.fullrun $(ARGS)

audit-topics: ## validate every record of the raw and dead-letter topics against its registered schema (ARGS="--topic T")
	@$(STACK)/run.sh $(PY) -m include.kafka.topic_audit $(ARGS)

capacity: ## what a rate and retention need, from bench/results.json (make capacity ARGS="--rate 100000 --retention-days 90")
	@$(PY) -m bench.capacity $(ARGS)
