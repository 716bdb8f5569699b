#!/usr/bin/env bash
# Installs pgvector into this machine's Debian PostgreSQL, built from Debian's own pgvector source
# package (Debian 12 ships none, the next release does). Idempotent: does nothing when the server
# already offers vector >= 0.8. The archive address is read from the machine's apt sources.
set -euo pipefail

min_version="${PGVECTOR_MIN_VERSION:-0.8.0}"
suites="${PGVECTOR_SUITES:-trixie stable}"
major="${PG_MAJOR:-$(ls /etc/postgresql | sort -n | tail -n 1)}"
pg_config="/usr/lib/postgresql/${major}/bin/pg_config"
log() { printf '[pgvector] %s\n' "$*"; }

installed_version() {
  local control="/usr/share/postgresql/${major}/extension/vector.control"
  [ -f "$control" ] && sed -n "s/^default_version = '\(.*\)'/\1/p" "$control"
}

current="$(installed_version || true)"
if [ -n "$current" ] && [ "$(printf '%s\n%s\n' "$min_version" "$current" | sort -V | head -n 1)" = "$min_version" ]; then
  log "vector ${current} already installed for PostgreSQL ${major}"
  exit 0
fi

need=()
# postgresql-<major> ships pg_config too; the server headers come only with the -dev package.
{ [ -x "$pg_config" ] && [ -f "$("$pg_config" --includedir-server)/postgres.h" ]; } || need+=("postgresql-server-dev-${major}")
command -v make >/dev/null || need+=(make)
command -v gcc >/dev/null || need+=(gcc)
command -v xz >/dev/null || need+=(xz-utils)
command -v curl >/dev/null || need+=(curl)
if [ "${#need[@]}" -gt 0 ]; then
  log "installing build dependencies: ${need[*]}"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  fi
fi

# The Debian archive this machine already uses (deb822 sources first, then the one-line format).
mirror="$(
  { grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}'
    grep -hE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk '{print $2}'
  } | grep -E '/debian/?$' | head -n 1 || true
)"
mirror="${mirror%/}"
[ -n "$mirror" ] || { echo "no Debian archive found in the apt sources" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
stanza=""
for suite in $suites; do
  log "looking for pgvector in ${suite} source index"
  if curl -fsSL "${mirror}/dists/${suite}/main/source/Sources.xz" -o "$work/Sources.xz"; then
    xz -dc "$work/Sources.xz" > "$work/Sources"
    stanza="$(awk 'BEGIN{RS=""} /(^|\n)Package: pgvector\n/ {print; exit}' "$work/Sources")"
    [ -n "$stanza" ] && break
  fi
done
[ -n "$stanza" ] || { echo "pgvector source package not found in: ${suites}" >&2; exit 1; }

directory="$(printf '%s\n' "$stanza" | sed -n 's/^Directory: //p')"
version="$(printf '%s\n' "$stanza" | sed -n 's/^Version: //p')"
# Checksums-Sha256 lines: " <sha256> <size> <file>"; take the upstream tarball.
read -r sha256 _ orig < <(printf '%s\n' "$stanza" | awk '/^Checksums-Sha256:/{f=1;next} /^[^ ]/{f=0} f && $3 ~ /\.orig\.tar\./ {print $1, $2, $3; exit}')
log "building pgvector ${version} against PostgreSQL ${major}"
curl -fsSL "${mirror}/${directory}/${orig}" -o "$work/${orig}"
echo "${sha256}  $work/${orig}" | sha256sum -c --quiet
mkdir "$work/src"
tar -xf "$work/${orig}" -C "$work/src" --strip-components=1
make -s -C "$work/src" PG_CONFIG="$pg_config" OPTFLAGS="" >/dev/null
make -s -C "$work/src" PG_CONFIG="$pg_config" install >/dev/null
log "installed vector $(installed_version)"
