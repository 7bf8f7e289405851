#!/usr/bin/env bash
# Each component's real health check and URL; exits non-zero when any is down.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
load_config
if supervisor_running; then supervisorctl_ status || true; echo; fi
exec "$REPO/.venvs/airflow/bin/python" "$STACK/health.py"
