#!/usr/bin/env bash
# make demo: try trafficctl without a key or a network. The real binary
# imports real feed bodies into a fresh SQLite file under demo/, as the runs
# they were: 20 snapshots of 511.org's Traffic Events API that a tutorial
# app fetched between 2021-04-15 17:10 and 2021-04-26 05:40 UTC
# (testdata/511-real-2021, their times in its manifest.csv), and 511.org's
# WZDx feed as published on 2025-10-10 (testdata/wzdx). Then it shows
# status, lifetimes, local-time counts and the changes of one event, and
# writes the report, demo/report.html. CI runs it too, so it must stay offline and exit 0.
#
# Environment: TRAFFICCTL_BIN (default bin/trafficctl).
set -euo pipefail

cd "$(dirname "$0")/.."
BIN=${TRAFFICCTL_BIN:-bin/trafficctl}
[ -x "$BIN" ] || { echo "demo: $BIN not found; run make build (make demo does)" >&2; exit 1; }

mkdir -p demo
db=demo/trafficctl.db
rm -f "$db" "$db-wal" "$db-shm" demo/report.html

# Only the demo's own settings: two feeds (import reads their format and
# time zone; nothing is fetched, so no key), and nothing from the
# environment or a .env.
cat >demo/trafficctl.yaml <<EOF
database:
  url: sqlite:///$db
feeds:
  bayarea:
    url: https://api.511.org/traffic/events
  bayarea-workzones:
    format: wzdx
    url: https://api.511.org/traffic/wzdx
EOF
unset TRAFFICCTL_API_KEY FIVEONEONE_TOKEN TRAFFICCTL_SOURCE_API_KEY TRAFFICCTL_SOURCE_PARAMS TRAFFICCTL_DATABASE_URL DATABASE_URL
run() { "$BIN" --config demo/trafficctl.yaml "$@"; }

echo "== $BIN import: 20 real 511.org snapshots at their times, from testdata/511-real-2021/manifest.csv"
run --quiet import --feed bayarea testdata/511-real-2021
echo "== $BIN import: 511.org's real WZDx feed (1,186 work zones and detours; its day, noon UTC)"
run --quiet import --feed bayarea-workzones --observed-at 2025-10-10T12:00:00Z testdata/wzdx/511-mtc-v4.1.json

echo
echo "== $BIN status"
run status

echo
echo "== $BIN export --table lifetimes --feed bayarea -o demo/lifetimes.csv (the first lines)"
run export --table lifetimes --feed bayarea -o demo/lifetimes.csv
# head on a file, not on a pipe: with pipefail, head closing the pipe early
# would fail the export.
head -n 5 demo/lifetimes.csv | cut -c 1-160

echo
echo "== $BIN export --table counts --every 24h --tz America/Los_Angeles --feed bayarea (days with runs)"
run export --table counts --every 24h --tz America/Los_Angeles --feed bayarea -o demo/counts.csv
grep -v ',0,,,' demo/counts.csv

echo
echo "== $BIN export --table changes --id 511.org/762714 (Moderate, Major, Moderate again)"
run export --table changes --id 511.org/762714 -o demo/changes.csv
cut -c 1-160 demo/changes.csv

echo
echo "== one vocabulary across both feeds: open events per category (export --category …)"
for category in construction detour incident; do
	run export --jsonl --no-raw --table events --category "$category" -o demo/category.jsonl
	echo "   $category: $(grep -c '"closed_at":null' demo/category.jsonl || true) open"
done
rm -f demo/category.jsonl

run export --geojson -o demo/events.geojson
run export --table snapshots -o demo/snapshots.csv
echo
echo "== also written: demo/events.geojson (open it in geojson.io or QGIS), demo/snapshots.csv"

echo
echo "== $BIN report --tz America/Los_Angeles -o demo/report.html (open it in a browser: charts and a map)"
run report --tz America/Los_Angeles -o demo/report.html
echo "   try: $BIN --config demo/trafficctl.yaml export --jsonl --table versions --feed bayarea"
