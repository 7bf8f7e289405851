#!/usr/bin/env bash
# Prepares .env for `docker compose up`: creates it from .env.example when it does not exist, then
# gives every secret docker-compose.yaml requires (the `${NAME:?...}` ones) a generated value when
# it is missing or empty. Values already set are never changed, so it is safe to run again and the
# local stack (`make up`) keeps working with the same .env. On Linux it also sets AIRFLOW_UID to
# your uid, so files the Airflow containers write into dags/, include/ and plugins/ stay yours.
#
#   local_stack/docker/init-env.sh [ENV_FILE]      # default: .env at the repository root
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
env_file=${1:-$repo/.env}

# Secrets of include/config.py, then the ones only the containers need.
secrets=(
  PG_OWNER_PASSWORD PG_STREAM_WRITER_PASSWORD PG_DBT_PASSWORD PG_DASHBOARD_PASSWORD
  AIRFLOW_DB_PASSWORD REGISTRY_DB_PASSWORD AIRFLOW_ADMIN_PASSWORD AIRFLOW_PIPELINE_PASSWORD AIRFLOW_JWT_SECRET
  AIRFLOW_FERNET_KEY
  REDIS_PASSWORD
  METABASE_ADMIN_PASSWORD
  PG_SUPERUSER_PASSWORD PG_METRICS_EXPORTER_PASSWORD METABASE_DB_PASSWORD GRAFANA_ADMIN_PASSWORD
)

if [[ ! -f $env_file ]]; then
  # umask 077: created 0600, so its secrets are never readable by others, not even for a moment.
  (
    umask 077
    if [[ -f $repo/.env.example ]]; then
      cp "$repo/.env.example" "$env_file"
    else
      : >"$env_file"
    fi
  )
fi

current() { grep -E "^$1=" "$env_file" | tail -n 1 | cut -d= -f2- || true; }

set_value() {
  local name=$1 value=$2
  if grep -qE "^$name=" "$env_file"; then
    # Generated values are URL- and sed-safe ([A-Za-z0-9_=-]).
    sed -i.bak -E "s|^$name=.*|$name=$value|" "$env_file" && rm -f "$env_file.bak"
  else
    [[ -z $(tail -c 1 "$env_file") ]] || echo >>"$env_file"
    echo "$name=$value" >>"$env_file"
  fi
}

generate() {
  # URL-safe, so the passwords can go into connection URIs as they are. The Fernet key must be
  # 32 url-safe base64-encoded bytes.
  if [[ $1 == AIRFLOW_FERNET_KEY ]]; then
    python3 -c 'import base64, secrets; print(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())'
  else
    python3 -c 'import secrets; print(secrets.token_urlsafe(24))'
  fi
}

filled=()
for name in "${secrets[@]}"; do
  if [[ -z $(current "$name") ]]; then
    set_value "$name" "$(generate "$name")"
    filled+=("$name")
  fi
done

# (root keeps the image's airflow uid, 50000: Airflow is not meant to run as root.)
if [[ $(uname -s) == Linux && $(id -u) -ne 0 && -z $(current AIRFLOW_UID) ]]; then
  set_value AIRFLOW_UID "$(id -u)"
fi

if ((${#filled[@]})); then
  echo "init-env: generated in $env_file: ${filled[*]}"
else
  echo "init-env: $env_file already has every secret docker-compose.yaml needs"
fi
if [[ " ${filled[*]} " == *" AIRFLOW_ADMIN_PASSWORD "* ]]; then
  echo "init-env: Airflow UI login: $(current AIRFLOW_ADMIN_USER | sed 's/^$/admin/') / $(current AIRFLOW_ADMIN_PASSWORD)"
fi
if [[ " ${filled[*]} " == *" GRAFANA_ADMIN_PASSWORD "* ]]; then
  echo "init-env: Grafana login: admin / $(current GRAFANA_ADMIN_PASSWORD)"
fi
