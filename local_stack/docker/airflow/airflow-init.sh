#!/usr/bin/env bash
# One-shot initialisation run by the compose service airflow-init before the other Airflow
# services start (as the local stack's init_airflow does): the simple auth manager's password file
# from AIRFLOW_ADMIN_USER / AIRFLOW_ADMIN_PASSWORD, then the metadata database migration.
set -euo pipefail

python - <<'PY'
import json
import os
from pathlib import Path

path = Path(os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
path.parent.mkdir(parents=True, exist_ok=True)
path.write_text(json.dumps({os.environ["AIRFLOW_ADMIN_USER"]: os.environ["AIRFLOW_ADMIN_PASSWORD"]}) + "\n")
path.chmod(0o600)
print(f"airflow-init: UI login {os.environ['AIRFLOW_ADMIN_USER']!r} written to {path}")
PY

exec airflow db migrate
