#!/usr/bin/env bash
# Memory actually used by the running stack: proportional set size (PSS) of every process under
# supervisord, per component and in total. PSS splits shared pages fairly, so the sum is honest.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
load_config
supervisor_running || die "stack is not running"
pss_tree() {  # PSS in kB of a process and all its descendants
  local total=0 pid=$1 child v
  v=$(awk '/^Pss:/ {print $2}' "/proc/$pid/smaps_rollup" 2>/dev/null || echo 0)
  total=$((total + ${v:-0}))
  for child in $(ps -o pid= --ppid "$pid"); do total=$((total + $(pss_tree "$child"))); done
  echo "$total"
}
grand=0
while read -r name state pidword pid _; do
  [[ $state == RUNNING ]] || continue
  kb=$(pss_tree "${pid%,}")
  grand=$((grand + kb))
  printf '%-32s %6d MB\n' "$name" $((kb / 1024))
done < <(supervisorctl_ status)
printf '%-32s %6d MB\n' "total (PSS)" $((grand / 1024))
