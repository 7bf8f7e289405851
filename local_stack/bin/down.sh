#!/usr/bin/env bash
# Stops every component cleanly (PostgreSQL fast shutdown, Kafka controlled shutdown) and then
# supervisord. State under DATA_DIR is kept: the next `make up` resumes where this left off.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
load_config
if ! supervisor_running; then log "stack is not running"; exit 0; fi
# Dependants first, so nothing spends its shutdown retrying a vanished dependency.
supervisorctl_ stop streamlit airflow:* prometheus alertmanager pushgateway postgres-exporter pipeline-exporter redis-exporter slack-sink >/dev/null || true
supervisorctl_ stop flink-taskmanager flink-jobmanager schema-registry >/dev/null || true
supervisorctl_ stop kafka redis >/dev/null || true
supervisorctl_ stop postgres >/dev/null || true
supervisorctl_ shutdown >/dev/null || true
for _ in $(seq 100); do [[ -S $RUN_DIR/supervisor.sock ]] || break; sleep 0.2; done
log "stack stopped; state kept under $DATA_DIR"
