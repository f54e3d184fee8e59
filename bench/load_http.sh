#!/usr/bin/env bash
# Load test of `ferry serve`: starts the server on a free loopback port, runs wrk for DURATION
# seconds against GET /health and POST /get-online-features, prints requests/s and p50/p99
# latency for each, and stops the server with SIGTERM. Builds nothing.
#
#   bench/load_http.sh FERRY_BIN REPO_DIR [DURATION_SECONDS]
#
# REPO_DIR must be applied and materialized (e.g. the repo `make demo` leaves behind). The
# get-online-features body defaults to Feast's driver_stats example; override it with BODY='{...}'.
# Env: THREADS (wrk threads, default 2), CONNECTIONS (default 32).
set -euo pipefail

if [ $# -lt 2 ]; then
    echo "usage: $0 FERRY_BIN REPO_DIR [DURATION_SECONDS]" >&2
    exit 2
fi
FERRY_BIN=$(realpath "$1")
REPO=$(realpath "$2")
DURATION=${3:-10}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-32}
BODY=${BODY:-'{"features":["driver_hourly_stats:conv_rate","driver_hourly_stats:acc_rate","driver_hourly_stats:avg_daily_trips"],"entities":{"driver_id":[1001,1002,1003]}}'}

if ! command -v wrk >/dev/null 2>&1; then
    echo "wrk not found; installing it from the distribution" >&2
    if [ "$(id -u)" -eq 0 ]; then apt-get install -y wrk >/dev/null; else sudo apt-get install -y wrk >/dev/null; fi
fi

WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# Loopback only, a port the kernel picks; the server's request log goes to a file (it is one line
# per request, and a terminal would slow the server down).
"$FERRY_BIN" -c "$REPO" serve --host 127.0.0.1 --port 0 2>"$WORK/server.log" &
SERVER_PID=$!
PORT=
for _ in $(seq 1 300); do
    PORT=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$WORK/server.log" | head -1)
    [ -n "$PORT" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log" >&2; exit 1; }
    sleep 0.1
done
[ -n "$PORT" ] || { echo "server did not start" >&2; exit 1; }
URL="http://127.0.0.1:$PORT"

# Check the body works before measuring it, so the figures are for real answers, not errors.
STATUS=$(curl -s -o "$WORK/check.json" -w '%{http_code}' -H 'Content-Type: application/json' -d "$BODY" "$URL/get-online-features")
if [ "$STATUS" != 200 ]; then
    echo "POST /get-online-features answered $STATUS: $(cat "$WORK/check.json")" >&2
    exit 1
fi

# The body goes into a Lua script for wrk, as a long-bracket string so quotes need no escaping.
cat >"$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [==[$BODY]==]
LUA

run() {   # name, then wrk arguments
    local name=$1
    shift
    local out
    # timeout bounds the run even if wrk misbehaves.
    out=$(timeout $((DURATION + 30)) wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency "$@")
    local rps p50 p99 errors
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    errors=$(awk '/Non-2xx or 3xx responses:/ {print $5}' <<<"$out")
    printf '%-28s %12s req/s   p50 %-10s p99 %-10s non-2xx %s\n' "$name" "$rps" "$p50" "$p99" "${errors:-0}"
}

echo "ferry serve load test: $DURATION s per endpoint, $THREADS threads, $CONNECTIONS connections, $URL"
run "GET /health" "$URL/health"
run "POST /get-online-features" -s "$WORK/post.lua" "$URL/get-online-features"

# A clean stop is part of the test: SIGTERM must end the server with status 0.
kill -TERM "$SERVER_PID"
STATUS=0
wait "$SERVER_PID" || STATUS=$?
SERVER_PID=
echo "server stopped on SIGTERM with exit status $STATUS ($(grep -c '"msg":"request"' "$WORK/server.log") requests logged)"
[ "$STATUS" -eq 0 ]
