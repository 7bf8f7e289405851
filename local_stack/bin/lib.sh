# Shared by the local-stack scripts: paths, logging, configuration.
# shellcheck shell=bash
STACK=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REPO=$(dirname "$STACK")
JARS="$STACK/.jars"
PYTHON_VERSION=3.11
PYFLINK_HOME="$REPO/.venvs/flink/lib/python$PYTHON_VERSION/site-packages/pyflink"
export ADEVENTS_HOME=$REPO

log() { printf '\033[1m[local_stack]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[31m[local_stack] error:\033[0m %s\n' "$*" >&2; exit 1; }

# Exports every setting of include/config.py (defaults, overridden by .env then the environment).
load_config() {
  (cd "$REPO" && python3 -m include.config --init-env "$REPO/.env") >&2
  local exports
  exports=$(cd "$REPO" && python3 -m include.config --shell) || exit 1  # it said what is wrong
  eval "$exports"
  RUN_DIR="$DATA_DIR/run"
  LOG_DIR="$DATA_DIR/logs"
  export RUN_DIR LOG_DIR
}

# find_java MIN: path of a `java` of at least major version MIN (REGISTRY_JAVA wins if set).
# Kafka and Flink run on the default Java 17; Apicurio 3 is compiled for Java 21.
find_java() {
  local min=$1 candidate major
  for candidate in ${REGISTRY_JAVA:-} "$(command -v java)" /usr/lib/jvm/*/bin/java; do
    [[ -x $candidate ]] || continue
    major=$("$candidate" -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2}')
    if [[ ${major%%.*} -ge $min ]]; then echo "$candidate"; return 0; fi
  done
  return 1
}

# Values the configs need beyond include/config.py's settings (paths of this checkout's installs).
export_stack_paths() {
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [[ -n $PG_BIN ]] || die "PostgreSQL binaries not found: run make install"
  # PostgreSQL refuses to run as root: as root we run it as Debian's postgres user.
  if [[ $(id -u) -eq 0 ]]; then PG_RUN_USER=postgres; else PG_RUN_USER=$(id -un); fi
  REGISTRY_JAVA=$(find_java 21) || die "Apicurio Registry 3 needs Java 21 or newer: none under /usr/lib/jvm (set REGISTRY_JAVA)"
  export STACK REPO JARS PYFLINK_HOME PG_BIN PG_RUN_USER REGISTRY_JAVA
  export PATH="$PG_BIN:$REPO/.venvs/airflow/bin:$PATH"
}

# Airflow 3 configuration for the local processes (AIRFLOW__SECTION__KEY overrides airflow.cfg).
export_airflow_env() {
  export AIRFLOW_HOME="$DATA_DIR/airflow"
  export AIRFLOW__CORE__DAGS_FOLDER="$REPO/dags"
  export AIRFLOW__CORE__PLUGINS_FOLDER="$REPO/plugins"
  export AIRFLOW__CORE__LOAD_EXAMPLES=False
  export AIRFLOW__CORE__EXECUTOR=$AIRFLOW_EXECUTOR
  export AIRFLOW__CORE__PARALLELISM=$AIRFLOW_PARALLELISM
  # Read by the CeleryExecutor and its workers only (the broker URL and backend carry passwords).
  export AIRFLOW__CELERY__BROKER_URL=$AIRFLOW_CELERY_BROKER_URL
  export AIRFLOW__CELERY__RESULT_BACKEND=$AIRFLOW_CELERY_RESULT_BACKEND
  export AIRFLOW__CELERY__WORKER_CONCURRENCY=$AIRFLOW_PARALLELISM
  export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=False
  export AIRFLOW__CORE__FERNET_KEY=$AIRFLOW_FERNET_KEY
  export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="$AIRFLOW_URL/execution/"
  # The pipeline's own login may only do what a user can (write run notes), never administer.
  export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="$AIRFLOW_ADMIN_USER:admin,$AIRFLOW_PIPELINE_USER:user"
  export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE="$DATA_DIR/airflow/simple_auth_manager_passwords.json"
  export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="postgresql+psycopg2://airflow:$AIRFLOW_DB_PASSWORD@$PG_HOST:$PG_PORT/airflow?$PG_SSL_QUERY"
  export AIRFLOW__API__BASE_URL="$AIRFLOW_URL"
  export AIRFLOW__API_AUTH__JWT_SECRET=$AIRFLOW_JWT_SECRET
  export AIRFLOW__LOGGING__BASE_LOG_FOLDER="$DATA_DIR/airflow/logs"
  export AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL=30
  # Re-parsing the unchanged DAG files every 30 s (the default) kept ~12% of a core busy, taken from
  # the stream on a 2-core machine. A file whose modification time changed is still parsed at the
  # next refresh (file_parsing_sort_mode=modified_time); the interval only paces unchanged files.
  export AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL=300
  export AIRFLOW__COSMOS__ENABLE_TELEMETRY=False
  export AIRFLOW__COSMOS__CACHE_DIR="$DATA_DIR/airflow/cosmos_cache"
  export SCARF_ANALYTICS=false DO_NOT_TRACK=true
  # DAGs import the pipeline's shared code as `include.*`.
  export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
}

supervisorctl_() { "$REPO/.venvs/airflow/bin/supervisorctl" -c "$RUN_DIR/conf/supervisord.conf" "$@"; }

supervisor_running() { [[ -S $RUN_DIR/supervisor.sock ]] && supervisorctl_ pid >/dev/null 2>&1; }
