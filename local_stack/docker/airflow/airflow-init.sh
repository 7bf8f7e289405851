#!/usr/bin/env bash
# One-shot initialisation run by the compose service airflow-init before the other Airflow
# services start (as the local stack's init_airflow does): the simple auth manager's password file
# from AIRFLOW_ADMIN_* and AIRFLOW_PIPELINE_* (the pipeline's own login), then the metadata database migration and the pool of Flink job submissions.
set -euo pipefail

python - <<'PY'
import json
import os
from pathlib import Path

path = Path(os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
path.parent.mkdir(parents=True, exist_ok=True)
logins = {os.environ[f"AIRFLOW_{who}_USER"]: os.environ[f"AIRFLOW_{who}_PASSWORD"] for who in ("ADMIN", "PIPELINE")}
path.write_text(json.dumps(logins) + "\n")
path.chmod(0o600)
print(f"airflow-init: UI login {os.environ['AIRFLOW_ADMIN_USER']!r} written to {path}")
PY

airflow db migrate
exec airflow pools set "${AIRFLOW_FLINK_SUBMIT_POOL:-flink_submit}" 1 "one Flink job submission at a time"
