#!/usr/bin/env bash
# make demo: try trafficctl without a key or a network. A local Open511
# server (internal/feedtest/feedserver) replays real 511.org snapshots from
# testdata/511-real-2021; the real binary fetches a few of them into a fresh
# SQLite file under demo/, then shows status and the start of the snapshots
# export. CI runs it too, so it must stay offline and exit 0.
#
# Environment: TRAFFICCTL_BIN (default bin/trafficctl), SNAPSHOTS (default 5).
set -euo pipefail

cd "$(dirname "$0")/.."
BIN=${TRAFFICCTL_BIN:-bin/trafficctl}
SNAPSHOTS=${SNAPSHOTS:-5}
[ -x "$BIN" ] || { echo "demo: $BIN not found; run make build (make demo does)" >&2; exit 1; }

mkdir -p demo
db=demo/trafficctl.db
urlfile=demo/feed.url
rm -f "$db" "$db-wal" "$db-shm" "$urlfile"

# Built rather than "go run": killing go run would leave its child serving.
go build -o demo/feedserver ./internal/feedtest/feedserver
demo/feedserver -replay testdata/511-real-2021 -page-size 20 -url-file "$urlfile" >/dev/null &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true' EXIT

for _ in $(seq 100); do
	[ -s "$urlfile" ] && break
	kill -0 "$server" 2>/dev/null || { echo "demo: the local feed server exited" >&2; exit 1; }
	sleep 0.1
done
[ -s "$urlfile" ] || { echo "demo: the local feed server did not start" >&2; exit 1; }

# Only the demo's own settings: no key (the local server needs none; one in
# the environment or .env would only be sent to loopback, masked in logs),
# and no database or feed from the environment.
export TRAFFICCTL_SOURCE_URL
TRAFFICCTL_SOURCE_URL=$(cat "$urlfile")
export TRAFFICCTL_DATABASE_URL="sqlite:///$db"
unset TRAFFICCTL_API_KEY FIVEONEONE_TOKEN TRAFFICCTL_SOURCE_API_KEY TRAFFICCTL_SOURCE_PARAMS DATABASE_URL

echo "== a local Open511 server replays testdata/511-real-2021 at $TRAFFICCTL_SOURCE_URL"
echo "== $BIN fetch, $SNAPSHOTS times, into $TRAFFICCTL_DATABASE_URL"
for _ in $(seq "$SNAPSHOTS"); do
	"$BIN" fetch
done

echo
echo "== $BIN status"
"$BIN" status

echo
echo "== $BIN export --table snapshots -o demo/snapshots.csv (the first lines)"
"$BIN" export --table snapshots -o demo/snapshots.csv
# head on a file, not on a pipe: with pipefail, head closing the pipe early
# would fail the export.
head -n 6 demo/snapshots.csv | cut -c 1-160
echo "... one row per (run, event) in demo/snapshots.csv"

"$BIN" export --geojson -o demo/events.geojson
echo
echo "== also written: demo/events.geojson (open it in geojson.io or QGIS); try:"
echo "   TRAFFICCTL_DATABASE_URL=sqlite:///$db $BIN export --jsonl --table versions"
