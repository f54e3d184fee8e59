#!/usr/bin/env bash
# Installs everything ferry needs on a fresh Debian 12 machine: Debian's -dev packages, and DuckDB's
# official C library (libduckdb.so + duckdb.h), which is distributed through the npm registry.
# Idempotent: a second run only checks. Nothing it downloads is tracked by git (third_party/ is ignored).
set -euo pipefail
cd "$(dirname "$0")/.."

DEB_PACKAGES=(build-essential pkg-config protobuf-compiler protobuf-c-compiler libprotobuf-c-dev
              libyaml-dev libsqlite3-dev sqlite3 libjansson-dev uuid-dev libmicrohttpd-dev
              libhiredis-dev libcurl4-openssl-dev tzdata wrk ca-certificates openssl
              redis-server postgresql-15 libpq-dev unixodbc-dev odbc-postgresql)

# DuckDB is pinned: the bindings package carries libduckdb.so, the duckdb package carries the
# matching header. These two versions are known to be ABI-compatible.
DUCKDB_LIB_PKG="@duckdb/node-bindings-linux-x64@1.4.4-r.1"
DUCKDB_LIB_SHA512="fjYNc+t4/T7mhzZ57oJoIQaWvbYVvxhidcNNansQFiWnd6/JMLCULd4qnt8XI3Tt2BrZsraH690KSBIS3QPt0w=="
DUCKDB_HDR_PKG="duckdb@1.4.4"
DUCKDB_HDR_SHA512="hEJJ5hyVF0VLj3dmOLpsWrQR0b3d4Ykqtygm6iUXjHJDDnSqg/USKxcb5qvNrOhFYPgktayU6dXCtgPqcmmpog=="
DUCKDB_DIR=third_party/duckdb

missing=()
for p in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm is only a download client here; a machine that already has it (e.g. from NodeSource) keeps it.
command -v npm >/dev/null 2>&1 || missing+=(npm)
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Checks an npm tarball against the registry's sha512 integrity string before anything is extracted.
check_integrity() { # file expected-base64
  local got
  got=$(openssl dgst -sha512 -binary "$1" 2>/dev/null | base64 -w0) || got=$(sha512sum "$1" | cut -d' ' -f1 | xxd -r -p | base64 -w0)
  [ "$got" = "$2" ] || { echo "setup: integrity mismatch for $1" >&2; exit 1; }
}

if [ ! -f "$DUCKDB_DIR/libduckdb.so" ] || [ ! -f "$DUCKDB_DIR/duckdb.h" ]; then
  echo "setup: fetching DuckDB ($DUCKDB_LIB_PKG, $DUCKDB_HDR_PKG) from the npm registry"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  # The registry is on the network: a failed fetch is tried again (3 attempts) before giving up.
  for attempt in 1 2 3; do
    (cd "$tmp" && npm pack --silent "$DUCKDB_LIB_PKG" "$DUCKDB_HDR_PKG" >/dev/null) && break
    [ "$attempt" -lt 3 ] || { echo "setup: cannot fetch DuckDB from the npm registry" >&2; exit 1; }
    echo "setup: npm pack failed (attempt $attempt of 3); retrying in $((attempt * 5)) s" >&2
    rm -f "$tmp"/*.tgz
    sleep $((attempt * 5))
  done
  lib_tgz=$(ls "$tmp"/duckdb-node-bindings-linux-x64-*.tgz)
  hdr_tgz=$(ls "$tmp"/duckdb-[0-9]*.tgz)
  check_integrity "$lib_tgz" "$DUCKDB_LIB_SHA512"
  check_integrity "$hdr_tgz" "$DUCKDB_HDR_SHA512"
  mkdir -p "$DUCKDB_DIR"
  tar -xzf "$lib_tgz" -C "$tmp" package/libduckdb.so
  tar -xzf "$hdr_tgz" -C "$tmp" package/src/duckdb/src/include/duckdb.h
  mv "$tmp/package/libduckdb.so" "$DUCKDB_DIR/libduckdb.so"
  mv "$tmp/package/src/duckdb/src/include/duckdb.h" "$DUCKDB_DIR/duckdb.h"
fi
echo "setup: ok"
