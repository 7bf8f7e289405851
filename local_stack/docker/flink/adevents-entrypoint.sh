#!/usr/bin/env bash
# Entrypoint of the compose Flink image. The repository's Flink configuration (local_stack/conf/flink/
# config.yaml.tmpl rendered for compose into local_stack/docker/flink/conf/) is bind-mounted
# read-only at /opt/adevents/flink-conf; the official entrypoint (/docker-entrypoint.sh) rewrites
# $FLINK_HOME/conf/config.yaml in place (RPC address, FLINK_PROPERTIES), so the file is copied
# there first, then the official entrypoint takes over (and drops to the flink user).
set -euo pipefail

src=/opt/adevents/flink-conf/config.yaml
if [[ -f $src ]]; then
  cp "$src" "$FLINK_HOME/conf/config.yaml"
  if [[ $(id -u) -eq 0 ]]; then
    chown flink:flink "$FLINK_HOME/conf/config.yaml"
  fi
fi

exec /docker-entrypoint.sh "$@"
