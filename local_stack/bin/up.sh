#!/usr/bin/env bash
# Starts the whole local stack under supervisord, in dependency order, waiting for each
# component's real health check. Idempotent: running it on a started stack changes nothing.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
load_config
export_stack_paths
export_airflow_env
HEALTH=("$REPO/.venvs/airflow/bin/python" "$STACK/health.py")

[[ -x $REPO/.venvs/airflow/bin/supervisord && -d $JARS/kafka ]] || die "not installed yet: run make install"

mkdir -p "$RUN_DIR" "$LOG_DIR/flink" "$DATA_DIR"/{redis,kafka,prometheus,alertmanager,pushgateway,slack,airflow,checkpoints,savepoints} \
  "$DATA_DIR"/flink/{tmp,uploads,completed-jobs}
"$REPO/.venvs/airflow/bin/python" "$STACK/bin/render_configs.py"

init_postgres() {
  local pgdata="$DATA_DIR/postgres"
  install -d -m 0700 -o "$PG_RUN_USER" "$RUN_DIR/pg"
  if [[ -f $pgdata/PG_VERSION ]]; then return; fi
  log "postgres: initialising $pgdata"
  install -d -m 0700 -o "$PG_RUN_USER" "$pgdata"
  if ! runuser -u "$PG_RUN_USER" -- test -w "$pgdata" 2>/dev/null && [[ $(id -u) -eq 0 ]]; then
    die "$PG_RUN_USER cannot write $pgdata: every parent directory must be traversable (chmod o+x), or set DATA_DIR in .env"
  fi
  local as=(); [[ $(id -u) -eq 0 ]] && as=(runuser -u "$PG_RUN_USER" --)
  "${as[@]}" "$PG_BIN/initdb" -D "$pgdata" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
    -E UTF8 --locale=C.UTF-8 >"$LOG_DIR/postgres-initdb.log"
}

# The server's TLS certificate (make up keeps it under DATA_DIR; a renewed one is read on reload).
init_postgres_tls() {
  local renewed
  renewed=$("$STACK/bin/postgres_tls.sh" "$DATA_DIR/tls/postgres" "$PG_RUN_USER" "$PG_HOST" "$BIND_HOST") ||
    die "could not generate the PostgreSQL TLS certificate under $DATA_DIR/tls/postgres (needs openssl)"
  if [[ -n $renewed ]]; then
    log "postgres: TLS certificate (re)generated in $DATA_DIR/tls/postgres"
    if supervisor_running; then supervisorctl_ signal HUP postgres >/dev/null 2>&1 || true; fi
  fi
}

# The certificate of the broker's SASL_SSL listener; Kafka reads it at start, so a renewed one restarts it.
init_kafka_tls() {
  local renewed
  renewed=$("$STACK/bin/kafka_tls.sh" "$DATA_DIR/tls/kafka" "$BIND_HOST") ||
    die "could not generate the Kafka TLS certificate under $DATA_DIR/tls/kafka (needs openssl)"
  if [[ -n $renewed ]]; then
    log "kafka: TLS certificate (re)generated in $DATA_DIR/tls/kafka"
    if supervisor_running; then supervisorctl_ restart kafka >/dev/null 2>&1 || true; fi
  fi
}

init_kafka() {
  [[ -f $DATA_DIR/kafka/meta.properties ]] && return
  log "kafka: formatting KRaft storage in $DATA_DIR/kafka"
  local cluster_id
  cluster_id=$(java -cp "$JARS/kafka/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)
  java -Dlog4j2.configurationFile="$RUN_DIR/conf/kafka/log4j2.properties" -cp "$JARS/kafka/*" \
    kafka.tools.StorageTool format -t "$cluster_id" -c "$RUN_DIR/conf/kafka/server.properties" --standalone \
    >"$LOG_DIR/kafka-format.log" 2>&1 || die "kafka storage format failed: see $LOG_DIR/kafka-format.log"
}

provision_postgres() {
  psql -X -q -h "$RUN_DIR/pg" -p "$PG_PORT" -U postgres -d postgres \
    -v owner_user="$PG_OWNER_USER" -v owner_password="$PG_OWNER_PASSWORD" \
    -v airflow_password="$AIRFLOW_DB_PASSWORD" -v registry_password="$REGISTRY_DB_PASSWORD" \
    -v pipeline_db="$PG_DATABASE" -f "$RUN_DIR/conf/postgres/provision.sql" >/dev/null
}

init_airflow() {
  # umask 077: the file is created 0600, never readable by others even for a moment.
  (umask 077 && rm -f "$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE" &&
    printf '{"%s": "%s", "%s": "%s"}\n' "$AIRFLOW_ADMIN_USER" "$AIRFLOW_ADMIN_PASSWORD" \
      "$AIRFLOW_PIPELINE_USER" "$AIRFLOW_PIPELINE_PASSWORD" \
      >"$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE")
  log "airflow: migrating the metadata database"
  airflow db migrate >"$LOG_DIR/airflow-db-migrate.log" 2>&1 || die "airflow db migrate failed: see $LOG_DIR/airflow-db-migrate.log"
  airflow pools set "$AIRFLOW_FLINK_SUBMIT_POOL" 1 "one Flink job submission at a time" \
    >"$LOG_DIR/airflow-pools.log" 2>&1 || die "creating the Airflow pool failed: see $LOG_DIR/airflow-pools.log"
}

start() {
  log "starting $*"
  supervisorctl_ start "$@" >/dev/null || true
}

# A component whose rendered config changed since it started is restarted, so an edit to .env
# or local_stack/conf/ takes effect with a plain `make up`.
restart_if_config_changed() {
  local component=$1; shift
  local stamp="$RUN_DIR/$component.confsum" sum
  sum=$(cat "$RUN_DIR/conf/$component"/* | sha256sum | cut -d' ' -f1)
  if [[ -f $stamp && $(cat "$stamp") != "$sum" ]] && supervisor_running; then
    log "$component: configuration changed, restarting $*"
    supervisorctl_ restart "$@" >/dev/null || true
  fi
  echo "$sum" >"$stamp"
}

init_postgres
init_postgres_tls
init_kafka_tls
init_kafka
if ! supervisor_running; then
  log "supervisord: starting (config $RUN_DIR/conf/supervisord.conf)"
  "$REPO/.venvs/airflow/bin/supervisord" -c "$RUN_DIR/conf/supervisord.conf"
  for _ in $(seq 50); do supervisor_running && break; sleep 0.2; done
else
  supervisorctl_ reread >/dev/null && supervisorctl_ update >/dev/null
fi

restart_if_config_changed postgres postgres
restart_if_config_changed redis redis
restart_if_config_changed kafka kafka
restart_if_config_changed flink flink-jobmanager flink-taskmanager
restart_if_config_changed prometheus prometheus
restart_if_config_changed alertmanager alertmanager
restart_if_config_changed pipeline-exporter pipeline-exporter

start postgres redis slack-sink
"${HEALTH[@]}" --wait postgres redis --timeout 60
provision_postgres
start kafka schema-registry flink-jobmanager flink-taskmanager postgres-exporter redis-exporter
init_airflow
start airflow:*
if [[ $AIRFLOW_EXECUTOR == CeleryExecutor ]]; then start airflow-celery-worker; fi
"${HEALTH[@]}" --wait kafka schema-registry flink --timeout 180
"$REPO/.venvs/airflow/bin/python" "$STACK/bin/kafka_scram_user.py" ||
  die "kafka: the SASL_SSL listener's SCRAM user could not be created (see above)"
start pushgateway pipeline-exporter prometheus alertmanager
"${HEALTH[@]}" --wait kafka-jmx-exporter postgres-exporter redis-exporter pipeline-exporter pushgateway prometheus alertmanager slack-sink airflow --timeout 180
# The dashboards read PostgreSQL, Redis and Prometheus: started once those are healthy.
start streamlit
"${HEALTH[@]}" --wait streamlit --timeout 90
log "stack is up: make status for health and URLs, make logs to follow the logs"
