#!/usr/bin/env bash
# The demo: generate the example's data, apply the definitions, materialize a day, catch up
# incrementally, read features back the way Feast's feature server answers, and list the views.
# Usage: run_demo.sh BUILD_DIR   (the folder holding the ferry and datagen binaries)
set -euo pipefail
bin=${1:?usage: run_demo.sh BUILD_DIR}
repo=$(cd "$(dirname "$0")" && pwd)
ferry="$bin/ferry"

rm -rf "$repo/data" && mkdir -p "$repo/data"
"$bin/datagen" driver-stats "$repo/data/driver_stats.parquet" --drivers 5 --days 15 --end 2021-04-12

run() { echo; echo "\$ ferry $*"; "$ferry" "$@"; }
run -c "$repo" apply
run -c "$repo" materialize 2021-04-01T00:00:00 2021-04-02T00:00:00
run -c "$repo" materialize-incremental 2021-04-12T00:00:00
run -c "$repo" get-online-features -F driver_hourly_stats:conv_rate -F driver_hourly_stats:avg_daily_trips \
    -e driver_id=1001 -e driver_id=1002 -e driver_id=9999
run -c "$repo" feature-views
