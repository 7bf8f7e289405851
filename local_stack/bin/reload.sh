#!/usr/bin/env bash
# Restarts what must see changed DAG, plugin or include code, then waits until it is healthy.
# Airflow's long-lived processes (api-server, scheduler, dag-processor, triggerer) keep the modules
# they imported at start, and the scheduler forks tasks from them; Streamlit imports include/ and
# dashboard/. Everything else (Kafka, Flink, PostgreSQL...) runs none of that code and keeps running.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
load_config
HEALTH=("$REPO/.venvs/airflow/bin/python" "$STACK/health.py")

supervisor_running || die "stack is not running: make up"
programs=('airflow:*' streamlit)
if [[ $AIRFLOW_EXECUTOR == CeleryExecutor ]]; then programs+=(airflow-celery-worker); fi
log "restarting ${programs[*]}"
supervisorctl_ restart "${programs[@]}" >/dev/null || true
"${HEALTH[@]}" --wait airflow streamlit --timeout 180
log "airflow and streamlit reloaded: make status for health and URLs"
