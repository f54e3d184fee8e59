#!/usr/bin/env bash
# Runs a command with the servers the tests need, each on a free loopback port with a throwaway data
# directory, and stops them afterwards whatever happens:
#   redis-server                 -> FERRY_TEST_REDIS=127.0.0.1:PORT
#   PostgreSQL 15 (as `postgres`) -> FERRY_TEST_PG="host=127.0.0.1 port=PORT user=postgres dbname=postgres"
# initdb and pg_ctl refuse to run as root, so they run as the postgres user when we are root.
# Usage: scripts/test_services.sh COMMAND [ARGS]...   (exit status: the command's)
set -uo pipefail

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
work=$(mktemp -d /tmp/ferry-services-XXXXXX)
chmod 755 "$work"
redis_pid=""
pg_data=""

as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

cleanup() {
  [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null
  [ -n "$pg_data" ] && as_postgres "$PG_BIN/pg_ctl" -D "$pg_data" -m immediate -w stop >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 30000))
    (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null || { echo "$p"; return 0; }
  done
  echo "test_services: no free port" >&2
  return 1
}

wait_port() { # port seconds
  for _ in $(seq 1 $(($2 * 10))); do
    (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# Redis: no persistence, loopback only. A port found free can be taken before the server binds it,
# so a server that does not come up is tried again on another port (3 attempts).
for attempt in 1 2 3; do
  redis_port=$(free_port) || exit 1
  redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" \
    --logfile "$work/redis.log" --daemonize no &
  redis_pid=$!
  # up, and ours: a server that lost the port to another process has exited by then
  wait_port "$redis_port" 10 && sleep 0.2 && kill -0 "$redis_pid" 2>/dev/null && break
  kill "$redis_pid" 2>/dev/null; wait "$redis_pid" 2>/dev/null; redis_pid=""
  echo "test_services: redis-server did not start on port $redis_port (attempt $attempt of 3)" >&2
  cat "$work/redis.log" >&2
  [ "$attempt" -lt 3 ] || exit 1
done
export FERRY_TEST_REDIS="127.0.0.1:$redis_port"

# PostgreSQL: a fresh cluster, trust auth on loopback, socket in the data dir.
pg_port=$(free_port) || exit 1
pg_data="$work/pg"
mkdir -p "$pg_data"
[ "$(id -u)" -eq 0 ] && chown postgres "$pg_data"
if ! as_postgres "$PG_BIN/initdb" -D "$pg_data" -U postgres --auth=trust -E UTF8 >"$work/initdb.log" 2>&1; then
  echo "test_services: initdb failed" >&2; cat "$work/initdb.log" >&2; pg_data=""; exit 1
fi
for attempt in 1 2 3; do
  as_postgres "$PG_BIN/pg_ctl" -D "$pg_data" -w -l "$pg_data/server.log" \
    -o "-p $pg_port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$pg_data -c fsync=off" start >/dev/null && break
  echo "test_services: PostgreSQL did not start on port $pg_port (attempt $attempt of 3)" >&2
  cat "$pg_data/server.log" >&2
  [ "$attempt" -lt 3 ] || exit 1
  pg_port=$(free_port) || exit 1
done
export FERRY_TEST_PG="host=127.0.0.1 port=$pg_port user=postgres dbname=postgres"

echo "test_services: redis on $FERRY_TEST_REDIS, PostgreSQL on port $pg_port" >&2
"$@"
