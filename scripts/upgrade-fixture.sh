#!/usr/bin/env bash
# Makes testdata/upgrade/release-0001.db: a SQLite database written by the
# release before feeds (schema 0001_initial, commit f273647), which fetched
# the first ten snapshots of testdata/511-real-2021. The upgrade test
# (pkg/store/upgrade_test.go) migrates it and carries on with the other ten.
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
