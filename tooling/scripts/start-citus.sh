#!/usr/bin/env bash
# Starts a local Citus cluster for the Citus test target: a coordinator and two workers, each a
# private PostgreSQL cluster (initdb) on loopback with shared_preload_libraries = 'citus', the
# citus and vector extensions in the `postgres` database, and the workers registered with the
# coordinator. Needs Citus installed (tooling/scripts/install-citus.sh, or Citus's own packages on
# Debian/Ubuntu) and pgvector (install-pgvector.sh). Idempotent: a running cluster is reused.
#
#   bash tooling/scripts/start-citus.sh              # start (or reuse) it
#   bash tooling/scripts/start-citus.sh --print-env  # export QUARRY_TEST_CITUS_URL=...
#   bash tooling/scripts/start-citus.sh --stop       # stop the three servers (data kept)
#
# QUARRY_CITUS_DIR (default /var/tmp/quarry-citus) holds the data; QUARRY_CITUS_PORT (default 9700)
# is the coordinator's port, the workers take the next two.
set -euo pipefail

major="${PG_MAJOR:-15}"
bin="/usr/lib/postgresql/${major}/bin"
base="${QUARRY_CITUS_DIR:-/var/tmp/quarry-citus}"
port="${QUARRY_CITUS_PORT:-9700}"
nodes=(coordinator worker1 worker2)
log() { printf '[citus] %s\n' "$*" >&2; }

if [ "${1:-}" = "--print-env" ]; then
  echo "export QUARRY_TEST_CITUS_URL=postgres://postgres@127.0.0.1:${port}/postgres"
  exit 0
fi

# PostgreSQL refuses to run as root: as root, the servers run as the postgres user.
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
node_port() { echo $((port + $1)); }
psql_at() { psql -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$1" -U postgres -d postgres -c "$2"; }

if [ "${1:-}" = "--stop" ]; then
  for i in 0 1 2; do
    [ -d "$base/${nodes[$i]}" ] && as_pg "$bin/pg_ctl" -D "$base/${nodes[$i]}" -m fast -w stop >/dev/null 2>&1 || true
  done
  log "stopped"
  exit 0
fi

[ -f "/usr/lib/postgresql/${major}/lib/citus.so" ] || {
  echo "Citus is not installed for PostgreSQL ${major}: run tooling/scripts/install-citus.sh (or install Citus's packages)" >&2
  exit 1
}

mkdir -p "$base"
[ "$(id -u)" -eq 0 ] && chown postgres: "$base"
for i in 0 1 2; do
  name="${nodes[$i]}"
  data="$base/$name"
  p="$(node_port "$i")"
  if [ ! -f "$data/PG_VERSION" ]; then
    log "initdb ${name} (${data})"
    as_pg "$bin/initdb" -D "$data" -U postgres --auth=trust --no-sync >/dev/null
    # Throwaway test servers: no fsync. Citus needs enough connections for its shard-parallel
    # queries (the tests open a few pools at once).
    cat >>"$data/postgresql.conf" <<EOF

# quarry start-citus.sh
listen_addresses = '127.0.0.1'
port = ${p}
unix_socket_directories = '${base}'
shared_preload_libraries = 'citus'
fsync = off
full_page_writes = off
synchronous_commit = off
max_connections = 300
max_prepared_transactions = 300
citus.max_client_connections = 250
EOF
  fi
  if ! pg_isready -q -h 127.0.0.1 -p "$p"; then
    log "starting ${name} on 127.0.0.1:${p}"
    as_pg "$bin/pg_ctl" -D "$data" -l "$base/${name}.log" -w start >/dev/null
  fi
done

# Only where missing: once the workers are registered, Citus refuses DDL on them.
for i in 0 1 2; do
  for extension in citus vector; do
    present="$(psql_at "$(node_port "$i")" "select count(*) from pg_extension where extname = '${extension}'")"
    [ "$present" = "1" ] || psql_at "$(node_port "$i")" "create extension ${extension}" >/dev/null
  done
done

coordinator="$(node_port 0)"
psql_at "$coordinator" "select citus_set_coordinator_host('127.0.0.1', ${coordinator})" >/dev/null
for i in 1 2; do
  p="$(node_port "$i")"
  registered="$(psql_at "$coordinator" "select count(*) from pg_dist_node where nodename = '127.0.0.1' and nodeport = ${p}")"
  if [ "$registered" = "0" ]; then
    log "registering worker 127.0.0.1:${p}"
    psql_at "$coordinator" "select citus_add_node('127.0.0.1', ${p})" >/dev/null
  fi
done
log "Citus coordinator on 127.0.0.1:${coordinator}, workers on 127.0.0.1:$(node_port 1) and 127.0.0.1:$(node_port 2) (data in ${base})"
