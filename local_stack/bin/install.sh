#!/usr/bin/env bash
# Installs everything the local stack needs, idempotently and from caches where possible:
#   Debian packages (PostgreSQL, Redis, Prometheus, Alertmanager, exporters, kcat, and Chromium for
#   the dashboard's browser tests),
#   three Python virtualenvs under .venvs/ (airflow, dbt, flink) with uv,
#   JVM artifacts through Maven (Kafka, Apicurio registry, Flink connectors, JMX agent).
# A second run only checks stamps and returns in seconds.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

APT_PACKAGES=(postgresql redis-server prometheus prometheus-alertmanager prometheus-postgres-exporter
  prometheus-redis-exporter prometheus-pushgateway kcat curl ca-certificates chromium)

install_apt() {
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if ((${#missing[@]} == 0)); then log "apt: all ${#APT_PACKAGES[@]} packages present"; return; fi
  log "apt: installing ${missing[*]}"
  local sudo=""; [[ $(id -u) -eq 0 ]] || sudo="sudo"
  $sudo apt-get update -qq
  # policy-rc.d keeps Debian from starting system-wide copies of the services we run ourselves.
  printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null && $sudo chmod +x /usr/sbin/policy-rc.d
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ensure_uv() {
  if command -v uv >/dev/null 2>&1; then return; fi
  log "uv: installing from PyPI"
  python3 -m pip install -q --user uv || python3 -m pip install -q uv
  export PATH="$HOME/.local/bin:$PATH"
}

# venv NAME REQUIREMENTS: rebuilt only when the requirements file changes (stamp = its sha256).
install_venv() {
  local name=$1 req=$2 dir="$REPO/.venvs/$1"
  local want; want=$(sha256sum "$req" | cut -d' ' -f1)
  if [[ -f $dir/.stamp && $(cat "$dir/.stamp") == "$want" ]]; then log "venv $name: up to date"; return; fi
  log "venv $name: installing from ${req#"$REPO"/}"
  [[ -x $dir/bin/python ]] || uv venv -q -p "$PYTHON_VERSION" "$dir"
  if [[ $req == *.lock ]]; then VIRTUAL_ENV=$dir uv pip sync -q "$req"
  else VIRTUAL_ENV=$dir uv pip install -q -r "$req"; fi
  echo "$want" >"$dir/.stamp"
}

install_jvm() {
  local stamp="$JARS/.stamp" want
  want=$(cat "$STACK/jvm/pom.xml" "$STACK/jvm/kafka/pom.xml" | sha256sum | cut -d' ' -f1)
  if [[ -f $stamp && $(cat "$stamp") == "$want" ]]; then log "jvm: artifacts up to date"; return; fi
  log "jvm: resolving Kafka, Apicurio, Flink connectors, JMX agent through Maven"
  rm -rf "$JARS"
  mvn -q -B -Dstyle.color=never -f "$STACK/jvm/kafka/pom.xml" dependency:copy-dependencies
  mvn -q -B -Dstyle.color=never -f "$STACK/jvm/pom.xml" dependency:copy
  mkdir -p "$JARS/registry/app"
  tar xzf "$JARS/registry/apicurio-registry-app-all.tar.gz" -C "$JARS/registry/app"
  echo "$want" >"$stamp"
}

# The session cluster's lib/ = the wheel's runtime jars + our connectors, without editing the venv.
link_flink_lib() {
  local wheel_lib="$PYFLINK_HOME/lib"
  for jar in "$wheel_lib"/*.jar; do ln -sfn "$jar" "$JARS/flink-lib/$(basename "$jar")"; done
}

install_apt
ensure_uv
install_venv airflow "$STACK/requirements/airflow.lock"
install_venv dbt "$STACK/requirements/dbt.txt"
install_venv flink "$STACK/requirements/flink.txt"
install_jvm
link_flink_lib
log "install complete"
