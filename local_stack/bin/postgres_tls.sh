#!/usr/bin/env bash
# The local PostgreSQL's TLS files, under $DATA_DIR/tls/postgres (kept across restarts):
#   ca.crt / ca.key          a local CA, made once (PG_SSLROOTCERT points at ca.crt by default)
#   server.crt / server.key  the server's certificate, signed by that CA, for localhost, 127.0.0.1,
#                            ::1, BIND_HOST and PG_HOST, remade when that list changes, when it
#                            expires within 30 days or when the CA is not the one that signed it.
# Private keys are 0600: the CA's owned by whoever runs make up, the server's by the user PostgreSQL
# runs as (PostgreSQL refuses a key others may read). Idempotent; prints "renewed" when the server
# certificate was (re)made, so up.sh reloads a running server.
# Usage: postgres_tls.sh DIR PG_RUN_USER HOST...   (kafka_tls.sh reuses it with its own DIR and
# TLS_CA_NAME, the CA's common name)
set -euo pipefail
dir=$1 run_user=$2; shift 2
days_ca=3650 days_server=825

install -d -m 0755 "$dir"
umask 077
if [[ ! -s $dir/ca.key || ! -s $dir/ca.crt ]]; then
  openssl req -x509 -new -newkey rsa:3072 -nodes -sha256 -days "$days_ca" -subj "/CN=${TLS_CA_NAME:-adevents local PostgreSQL CA}" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$dir/ca.key" -out "$dir/ca.crt" 2>/dev/null
  chmod 0644 "$dir/ca.crt"
  rm -f "$dir/server.crt"  # signed by the previous CA, if any
fi

# The names the certificate must carry, deduplicated, as a subjectAltName list.
declare -A seen=()
san=()
for host in localhost 127.0.0.1 ::1 "$@"; do
  [[ -z $host || -n ${seen[$host]:-} ]] && continue
  seen[$host]=1
  if [[ $host =~ ^[0-9.]+$ || $host == *:* ]]; then san+=("IP:$host"); else san+=("DNS:$host"); fi
done
wanted=$(IFS=,; echo "${san[*]}")

current_ok() {
  [[ -s $dir/server.crt && -s $dir/server.key && $(cat "$dir/server.san" 2>/dev/null) == "$wanted" ]] &&
    openssl x509 -in "$dir/server.crt" -noout -checkend $((30 * 86400)) >/dev/null &&
    openssl verify -CAfile "$dir/ca.crt" "$dir/server.crt" >/dev/null 2>&1
}
current_ok && exit 0

ext=$(mktemp)
trap 'rm -f "$ext" "$dir/server.csr"' EXIT
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=%s\n' \
  "$wanted" >"$ext"
openssl req -new -newkey rsa:2048 -nodes -subj "/CN=${1:-localhost}" \
  -keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null
openssl x509 -req -sha256 -days "$days_server" -in "$dir/server.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
  -CAcreateserial -extfile "$ext" -out "$dir/server.crt" 2>/dev/null
chmod 0644 "$dir/server.crt"
chmod 0600 "$dir/server.key"
[[ $(id -u) -eq 0 ]] && chown "$run_user" "$dir/server.key"
echo "$wanted" >"$dir/server.san"
echo renewed
