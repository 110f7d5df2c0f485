#!/usr/bin/env bash
# Local throwaway PostgreSQL instances for trying the PostgreSQL index location and sharding.
#   scripts/pg-local.sh start [N] [BASE_PORT]   N instances (default 1) on 127.0.0.1, ports BASE_PORT..
#                                               (default 54320..), each with its own data folder under
#                                               $COLTS_PG_LOCAL (default ./.pg-local); prints their URLs
#   scripts/pg-local.sh stop                    stops them and removes the data folders
# Each instance: database "colts", superuser "colts", password auth over TCP, the vector extension
# created. Every instance under one $COLTS_PG_LOCAL has the same password (made once, printed in the
# URLs, kept in $COLTS_PG_LOCAL/password): a sharded index's coordinator and shards share one role and
# password, as PL/Proxy's user mapping holds one. Needs scripts/install-postgres.sh first. As root,
# the servers run as the postgres system user (initdb refuses root).
set -euo pipefail

ROOT="${COLTS_PG_LOCAL:-$PWD/.pg-local}"
BIN="${COLTS_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)}"
[ -x "$BIN/initdb" ] || { echo "pg-local.sh: no PostgreSQL binaries (set COLTS_PG_BIN or run scripts/install-postgres.sh)" >&2; exit 1; }

as_owner() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

start() {
  local n="${1:-1}" base="${2:-54320}" i port dir pw
  mkdir -p "$ROOT"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$ROOT"
  if [ ! -f "$ROOT/password" ]; then
    as_owner bash -c "umask 077; head -c 18 /dev/urandom | base64 | tr '+/' '-_' > '$ROOT/password'"
  fi
  for ((i = 0; i < n; i++)); do
    port=$((base + i))
    dir="$ROOT/$port"
    if [ ! -f "$dir/PG_VERSION" ]; then
      as_owner mkdir -p "$dir"
      chmod 700 "$dir"
      as_owner "$BIN/initdb" -D "$dir" -U colts --pwfile="$ROOT/password" -A scram-sha-256 -E UTF8 --locale=C >/dev/null
    fi
    pw="$(cat "$ROOT/password")"
    if ! as_owner "$BIN/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
      as_owner "$BIN/pg_ctl" -D "$dir" -l "$ROOT/$port.log" -w -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$dir" start >/dev/null
      PGPASSWORD="$pw" "$BIN/psql" -q -h 127.0.0.1 -p "$port" -U colts -d postgres -c "CREATE DATABASE colts" 2>/dev/null || true
      PGPASSWORD="$pw" "$BIN/psql" -q -h 127.0.0.1 -p "$port" -U colts -d colts -c "CREATE EXTENSION IF NOT EXISTS vector"
    fi
    echo "postgres://colts:${pw}@127.0.0.1:${port}/colts?prefix=colts_"
  done
}

stop() {
  local dir
  [ -d "$ROOT" ] || return 0
  for dir in "$ROOT"/*/; do
    [ -f "$dir/PG_VERSION" ] && as_owner "$BIN/pg_ctl" -D "$dir" -m fast -w stop >/dev/null 2>&1 || true
  done
  rm -rf "$ROOT"
}

case "${1:-}" in
  start) shift; start "$@" ;;
  stop) stop ;;
  *) echo "usage: $0 start [N] [BASE_PORT] | stop" >&2; exit 2 ;;
esac
