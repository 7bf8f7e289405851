#!/usr/bin/env bash
# Runs a command with the stack's configuration exported (settings, AIRFLOW_CONN_*, paths).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
load_config
export_stack_paths
export_airflow_env
cd "$REPO"
exec "$@"
