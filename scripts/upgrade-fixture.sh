#!/usr/bin/env bash
# Makes testdata/upgrade/ with the release before feeds (schema
# 0001_initial, commit f273647), for the upgrade tests
# (pkg/collect/upgrade_test.go):
#   release-0001.db               the first ten snapshots of testdata/511-real-2021
#   release-0001-snapshots.csv    its export --table snapshots
#   release-0001-scheduled.db     testdata/511 page1+page2, then snapshot2 (events with schedules)
#
#   scripts/upgrade-fixture.sh OLD_BINARY
set -euo pipefail
cd "$(dirname "$0")/.."
old=${1:?usage: scripts/upgrade-fixture.sh OLD_BINARY (built from commit f273647)}
tmp=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$tmp"' EXIT
cp testdata/511-real-2021/snap_0*.json "$tmp/"
go build -o "$tmp/feedserver" ./internal/feedtest/feedserver
"$tmp/feedserver" -replay "$tmp" -page-size 20 -url-file "$tmp/url" >/dev/null &
server=$!
for _ in $(seq 100); do [ -s "$tmp/url" ] && break; sleep 0.1; done
db=testdata/upgrade/release-0001.db
rm -f "$db"
for _ in $(seq 10); do
	TRAFFICCTL_SOURCE_URL=$(cat "$tmp/url") TRAFFICCTL_DATABASE_URL="sqlite:///$db" "$old" fetch --quiet
	sleep 1 # whole-second run times, as a scheduler's would be
done
TRAFFICCTL_DATABASE_URL="sqlite:///$db" "$old" export --table snapshots -o testdata/upgrade/release-0001-snapshots.csv
kill "$server"

db=testdata/upgrade/release-0001-scheduled.db
rm -f "$db"
for files in "testdata/511/events_page1.json testdata/511/events_page2.json" testdata/511/events_snapshot2.json; do
	rm -f "$tmp/url"
	# shellcheck disable=SC2086 # two files, split on purpose
	"$tmp/feedserver" -url-file "$tmp/url" $files >/dev/null &
	server=$!
	for _ in $(seq 100); do [ -s "$tmp/url" ] && break; sleep 0.1; done
	TRAFFICCTL_API_KEY=k TRAFFICCTL_SOURCE_URL=$(cat "$tmp/url") TRAFFICCTL_DATABASE_URL="sqlite:///$db" "$old" fetch --quiet
	kill "$server"
	sleep 1
done
