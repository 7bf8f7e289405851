#!/usr/bin/env bash
# The local broker's TLS files for its SASL_SSL listener, under DIR ($DATA_DIR/tls/kafka, kept across
# restarts): a CA of its own and a broker certificate for localhost, 127.0.0.1 and the HOSTs, made
# and renewed exactly as the PostgreSQL ones (postgres_tls.sh), plus
#   broker.pem   the broker's private key, encrypted with KAFKA_LOCAL_TLS_KEY_PASSWORD (Kafka's PEM
#                key store takes a file key only with a password), followed by its certificate.
# Clients trust DIR/ca.crt (KAFKA_SSL_CA_LOCATION). Idempotent; prints "renewed" when broker.pem was
# (re)made, so up.sh restarts a running broker.
# Usage: KAFKA_LOCAL_TLS_KEY_PASSWORD=... kafka_tls.sh DIR HOST...
set -euo pipefail
dir=$1; shift
: "${KAFKA_LOCAL_TLS_KEY_PASSWORD:?is empty: run make up, which generates it into .env}"
export KAFKA_LOCAL_TLS_KEY_PASSWORD
renewed=$(TLS_CA_NAME="adevents local Kafka CA" "$(dirname "$0")/postgres_tls.sh" "$dir" "$(id -un)" "$@")

umask 077
if [[ -z $renewed && -s $dir/broker.pem ]] &&
  openssl pkey -in "$dir/broker.pem" -passin env:KAFKA_LOCAL_TLS_KEY_PASSWORD -noout 2>/dev/null; then
  exit 0
fi
# PBE-SHA1-3DES: an encrypted PKCS#8 key the JDK's key factories read without extra providers.
{
  openssl pkcs8 -topk8 -v1 PBE-SHA1-3DES -in "$dir/server.key" -passout env:KAFKA_LOCAL_TLS_KEY_PASSWORD
  cat "$dir/server.crt"
} >"$dir/broker.pem.tmp"
mv "$dir/broker.pem.tmp" "$dir/broker.pem"
echo renewed
