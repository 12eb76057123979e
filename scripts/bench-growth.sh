#!/usr/bin/env bash
# Measures how much a database grows per run of one feed, and so per feed per
# month of fetches every 5 minutes (8,640 runs): a feed of EVENTS generated
# events (default 500) of which one in CHANGE_EVERY (default 100, 1 %) changes
# at every fetch, fetched RUNS times (default 300) after a first fetch.
# Prints the bytes per run and per month, for SQLite (the file and its WAL
# after a checkpoint) and, when TRAFFICCTL_TEST_DATABASE_URL is set,
# PostgreSQL (pg_database_size after VACUUM).
#
#   scripts/bench-growth.sh
set -euo pipefail

cd "$(dirname "$0")/.."
BIN=$(realpath "${TRAFFICCTL_BIN:-bin/trafficctl}")
EVENTS=${EVENTS:-500}
CHANGE_EVERY=${CHANGE_EVERY:-100}
RUNS=${RUNS:-300}
. scripts/feedservers.sh
serve changing -generate "$EVENTS" -seed 3 -change-every "$CHANGE_EVERY"

# grow NAME URL SIZE_CMD: fetch once, measure, fetch RUNS times, measure.
grow() {
	local name=$1 url=$2 size=$3 before after
	TRAFFICCTL_SOURCE_URL=$changing "$BIN" fetch --quiet --database-url "$url"
	before=$($size)
	for _ in $(seq "$RUNS"); do TRAFFICCTL_SOURCE_URL=$changing "$BIN" fetch --quiet --database-url "$url"; done
	after=$($size)
	local per=$(((after - before) / RUNS))
	echo "$name: $per bytes a run, $((per * 8640 / 1024 / 1024)) MB a month at every 5 minutes ($EVENTS events, 1 in $CHANGE_EVERY changed a run)"
}

sqlite_size() {
	sqlite3 "$work/growth.db" "PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
	stat -c %s "$work/growth.db"
}
grow SQLite "sqlite:///$work/growth.db" sqlite_size

if [ -n "${TRAFFICCTL_TEST_DATABASE_URL:-}" ]; then
	pg=$(pgdb trafficctl_bench_growth)
	pg_size() {
		psql -qAt "$pg" -c "VACUUM" -c "SELECT pg_database_size(current_database())" | tail -1
	}
	grow PostgreSQL "$pg" pg_size
fi
