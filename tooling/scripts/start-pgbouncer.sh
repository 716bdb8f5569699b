#!/usr/bin/env bash
# Starts PgBouncer in transaction pool mode on loopback in front of the local PostgreSQL.
# Idempotent: an already running instance on the port is left alone. Prints the pooled URL base.
set -euo pipefail

port="${PGBOUNCER_PORT:-6432}"
upstream_host="${PGHOST_UPSTREAM:-127.0.0.1}"
upstream_port="${PGPORT_UPSTREAM:-5432}"
dir="${PGBOUNCER_DIR:-/tmp/quarry-pgbouncer}"
log() { printf '[pgbouncer] %s\n' "$*" >&2; }

if ! command -v pgbouncer >/dev/null; then
  log "installing pgbouncer"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer >/dev/null
  fi
fi

if pg_isready -q -h 127.0.0.1 -p "$port"; then
  log "already listening on 127.0.0.1:${port}"
  echo "postgres://postgres@127.0.0.1:${port}"
  exit 0
fi

mkdir -p "$dir"
cat > "$dir/pgbouncer.ini" <<INI
[databases]
* = host=${upstream_host} port=${upstream_port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${port}
unix_socket_dir =
auth_type = trust
auth_file = ${dir}/userlist.txt
pool_mode = transaction
max_client_conn = 500
default_pool_size = 20
ignore_startup_parameters = extra_float_digits,options,application_name
server_reset_query =
logfile = ${dir}/pgbouncer.log
pidfile = ${dir}/pgbouncer.pid
INI
printf '"postgres" ""\n"root" ""\n' > "$dir/userlist.txt"
chown -R postgres:postgres "$dir"
# PgBouncer refuses to run as root.
runuser -u postgres -- pgbouncer -d "$dir/pgbouncer.ini"
for _ in $(seq 1 50); do
  pg_isready -q -h 127.0.0.1 -p "$port" && break
  sleep 0.1
done
pg_isready -q -h 127.0.0.1 -p "$port" || { log "did not start; see $dir/pgbouncer.log"; exit 1; }
log "transaction pooling on 127.0.0.1:${port} -> ${upstream_host}:${upstream_port}"
echo "postgres://postgres@127.0.0.1:${port}"
