#!/usr/bin/env bash
# Builds and installs Citus (the distributed PostgreSQL extension) into this machine's PostgreSQL
# from a source archive, for the Citus test target. A user on Debian or Ubuntu installs Citus's own
# packages instead (postgresql-<major>-citus-<version> from Citus's package repository); this script
# exists because Debian ships no Citus package and CI reaches no other package source.
#
#   bash tooling/scripts/install-citus.sh [ARCHIVE [PATCH...]]
#   CITUS_ARCHIVE=... CITUS_PATCHES="a.patch b.patch" bash tooling/scripts/install-citus.sh
#
# Relative paths are resolved against the current directory first, then the repository root (CI
# passes ../shared/citus/citus-13.2.2.tar.gz and its patch, relative to the root). Idempotent: when
# citus.so and a citus.control of the archive's version are installed, nothing is built. The build
# dependencies are installed with apt-get when missing.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
major="${PG_MAJOR:-$(ls /etc/postgresql | sort -n | tail -n 1)}"
pg_config="/usr/lib/postgresql/${major}/bin/pg_config"
log() { printf '[citus] %s\n' "$*" >&2; }

# A clone made from a local checkout (CI clones the working copy elsewhere) also looks beside that
# checkout: its remote is a directory, and ../shared is relative to it.
origin="$(git -C "$repo" config --get remote.origin.url 2>/dev/null || true)"
[ -d "$origin" ] || origin=""

resolve() {
  local path="$1" base
  for base in "$(pwd)" "$repo" ${origin:+"$origin"}; do
    case "$path" in /*) [ "$base" = "$(pwd)" ] || continue; candidate="$path" ;; *) candidate="$base/$path" ;; esac
    if [ -e "$candidate" ]; then
      (cd "$(dirname "$candidate")" && printf '%s/%s\n' "$(pwd)" "$(basename "$candidate")")
      return 0
    fi
  done
  echo "not found: $path (looked in $(pwd), $repo${origin:+ and $origin})" >&2
  return 1
}

archive_arg="${1:-${CITUS_ARCHIVE:-../shared/citus/citus-13.2.2.tar.gz}}"
[ "$#" -gt 0 ] && shift

# The version is in the archive's name (citus-13.2.2.tar.gz); the control file carries it as
# default_version = '13.2-1' style, so compare major.minor and check the library is there too.
# Checked before the archive is looked for: an installed Citus needs no source.
version="$(basename "$archive_arg" | sed -n 's/^citus-\([0-9][0-9.]*[0-9]\)\.tar\..*/\1/p')"
[ -n "$version" ] || { echo "cannot read a version from $(basename "$archive_arg") (expected citus-X.Y.Z.tar.gz)" >&2; exit 1; }
short="${version%.*}"

installed() {
  [ -x "$pg_config" ] || return 1
  local control so
  control="$("$pg_config" --sharedir)/extension/citus.control"
  so="$("$pg_config" --pkglibdir)/citus.so"
  [ -f "$so" ] && [ -f "$control" ] && grep -q "^default_version = '${short}-" "$control"
}

if installed; then
  log "citus ${version} already installed for PostgreSQL ${major}"
  exit 0
fi

if [ "$#" -gt 0 ]; then patch_args=("$@")
elif [ -n "${CITUS_PATCHES:-}" ]; then read -r -a patch_args <<<"$CITUS_PATCHES"
else
  # The default archive's neighbouring patches (the PostgreSQL 15.20 fix), when they are there.
  patch_args=()
  default_dir="$(dirname "$(resolve "$archive_arg")")"
  for candidate in "$default_dir"/*.patch; do [ -e "$candidate" ] && patch_args+=("$candidate"); done
fi
archive="$(resolve "$archive_arg")"
patches=()
for patch_file in "${patch_args[@]+"${patch_args[@]}"}"; do patches+=("$(resolve "$patch_file")"); done

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
need=()
for package in "postgresql-server-dev-${major}" liblz4-dev libzstd-dev libkrb5-dev libcurl4-openssl-dev make gcc patch; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || need+=("$package")
done
if [ "${#need[@]}" -gt 0 ]; then
  log "installing build dependencies: ${need[*]}"
  if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null; then
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  fi
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
tar -xzf "$archive" -C "$work"
src="$(find "$work" -mindepth 1 -maxdepth 1 -type d | head -n 1)"
for patch_file in "${patches[@]+"${patches[@]}"}"; do
  log "applying $(basename "$patch_file")"
  patch -s -p1 -d "$src" <"$patch_file"
done
jobs="$(nproc 2>/dev/null || echo 2)"
log "building citus ${version} against PostgreSQL ${major} (make -j${jobs}; a few minutes)"
(cd "$src" && ./configure --quiet PG_CONFIG="$pg_config" >/dev/null)
make -s -C "$src" -j"$jobs" >"$work/build.log" 2>&1 || { tail -n 40 "$work/build.log" >&2; exit 1; }
as_root make -s -C "$src" install >>"$work/build.log" 2>&1 || { tail -n 40 "$work/build.log" >&2; exit 1; }
installed || { echo "citus ${version} was built but its control file or library is not where expected" >&2; exit 1; }
log "installed citus ${version} for PostgreSQL ${major}"
