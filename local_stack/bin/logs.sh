#!/usr/bin/env bash
# Follows the logs of every component (or of the ones named: logs.sh kafka flink-taskmanager).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
load_config
if (($#)); then files=(); for n in "$@"; do files+=("$LOG_DIR/$n"*); done
else files=("$LOG_DIR"/*.log "$LOG_DIR"/*.out); fi
exec tail -n 20 -F "${files[@]}"
