#!/usr/bin/env bash
# Prepares this Debian machine for the real-server test targets: PostgreSQL with pgvector,
# PgBouncer in transaction mode on 127.0.0.1:6432, a Citus cluster (a coordinator on
# 127.0.0.1:9700 and two workers, built from the source archive in CITUS_ARCHIVE, by default
# ../shared/citus/citus-13.2.2.tar.gz, and its patches), and Chromium for the dashboard's browser
# tests. Idempotent: anything already installed or running is left alone. Used by .ci/run, and by
# a developer who wants `npm test` against every target:
#   sudo bash tooling/scripts/prepare-services.sh && eval "$(bash tooling/scripts/prepare-services.sh --print-env)"
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
log() { printf '[services] %s\n' "$*" >&2; }

if [ "${1:-}" = "--print-env" ]; then
  # The variables that turn on the real-server targets of `npm test` (see the README's Tests).
  echo "export QUARRY_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres"
  echo "export QUARRY_TEST_PGBOUNCER_URL=postgres://postgres@127.0.0.1:6432/postgres"
  # Only when the cluster answers: with QUARRY_TEST_REQUIRE_ALL=1 a missing Citus then fails the run.
  citus_port="${QUARRY_CITUS_PORT:-9700}"
  pg_isready -q -h 127.0.0.1 -p "$citus_port" && bash tooling/scripts/start-citus.sh --print-env
  exit 0
fi

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# apt-get update runs at most once, and only when an install fails (stale or empty package lists).
apt_updated=0
apt_install() {
  local missing=()
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  log "installing ${missing[*]}"
  if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; then
    if [ "$apt_updated" -eq 0 ]; then
      apt_updated=1
      as_root apt-get update -qq
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

# PostgreSQL itself, pgvector's build dependencies (installed by the pgvector script, only when it
# has to build), PgBouncer, and Chromium for the dashboard's browser tests.
command -v pg_lsclusters >/dev/null || apt_install postgresql
apt_install pgbouncer chromium

major="${PG_MAJOR:-$(ls /etc/postgresql | sort -n | tail -n 1)}"
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  log "starting PostgreSQL ${major}"
  as_root pg_ctlcluster --skip-systemctl-redirect "$major" main start
  for _ in $(seq 1 50); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.2; done
fi
pg_isready -q -h 127.0.0.1 -p 5432 || { log "PostgreSQL is not accepting connections on 127.0.0.1:5432"; exit 1; }

# The tests connect as postgres over loopback without a password; a stock Debian cluster wants one.
if ! psql -X -q -h 127.0.0.1 -U postgres -d postgres -w -c 'select 1' >/dev/null 2>&1; then
  hba="$(as_root runuser -u postgres -- psql -X -At -d postgres -c 'show hba_file')"
  log "allowing passwordless loopback connections in ${hba}"
  as_root sed -i '1i host all postgres 127.0.0.1/32 trust' "$hba"
  as_root runuser -u postgres -- psql -X -q -d postgres -c 'select pg_reload_conf()' >/dev/null
fi

as_root env PG_MAJOR="$major" bash tooling/scripts/install-pgvector.sh >&2
as_root bash tooling/scripts/start-pgbouncer.sh >/dev/null
pg_isready -q -h 127.0.0.1 -p 6432 || { log "PgBouncer is not accepting connections on 127.0.0.1:6432"; exit 1; }
# Citus: built once (install-citus.sh skips the build when that version is installed), then the
# coordinator and two workers. Without the source archive (and no Citus installed) the cluster is
# left out, and --print-env does not name it.
# install-citus.sh looks for the archive beside this checkout and beside the checkout it was cloned
# from (a CI clone of the working copy), and needs none when Citus is installed.
citus_archive="${CITUS_ARCHIVE:-../shared/citus/citus-13.2.2.tar.gz}"
if as_root env PG_MAJOR="$major" bash tooling/scripts/install-citus.sh "$citus_archive" ${CITUS_PATCHES:-} >&2; then
  bash tooling/scripts/start-citus.sh
else
  log "no Citus: not installed, and ${citus_archive} could not be built (set CITUS_ARCHIVE, or install Citus's packages)"
fi
log "PostgreSQL ${major} with pgvector on 127.0.0.1:5432, PgBouncer (transaction mode) on 127.0.0.1:6432, Citus on 127.0.0.1:${QUARRY_CITUS_PORT:-9700} (when built), Chromium at $(command -v chromium)"
