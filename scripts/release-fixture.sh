#!/usr/bin/env bash
# Makes testdata/upgrade/daf2146.db and testdata/upgrade/daf2146/ with the
# release at commit daf2146 (migrations up to 0003_views), for the upgrade
# tests (pkg/collect/release_test.go, pkg/store/schema_test.go):
#   daf2146.db           three feeds, nine runs: bayarea (Open511, snapshots
#                        0-8 of testdata/511-real-2021), workzones (WZDx, 15
#                        features of testdata/wzdx cut into three snapshots:
#                        changed, closed, returning; one run fails with the
#                        server down) and drivebc (Open511, every third run)
#   daf2146/TABLE.FORMAT that release's own export of every table in every
#                        format it writes, where two exports give the same bytes
#   ../schema/daf2146.sqlite.txt, ../schema/daf2146.postgres.txt
#                        the catalog (internal/dbtest.Catalog) of a database
#                        the release made: daf2146.db, and a PostgreSQL
#                        database it migrated
#
#   TRAFFICCTL_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test scripts/release-fixture.sh
# Needs git, go, jq and psql. The release is built from a temporary worktree.
set -euo pipefail
cd "$(dirname "$0")/.."
pg=${TRAFFICCTL_TEST_DATABASE_URL:?set TRAFFICCTL_TEST_DATABASE_URL to a PostgreSQL server: the release migrates a database there for its catalog}
release=daf2146
out=testdata/upgrade
tmp=$(mktemp -d)
servers=()
cleanup() {
	for pid in "${servers[@]}"; do kill "$pid" 2>/dev/null || true; done
	git worktree remove --force "$tmp/src" 2>/dev/null || true
	PGOPTIONS=--client-min-messages=warning psql -q "$pg" -c "DROP DATABASE IF EXISTS trafficctl_release_fixture" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
git worktree add --detach "$tmp/src" "$release" >/dev/null
(cd "$tmp/src" && go build -o "$tmp/trafficctl" . && go build -o "$tmp/feedserver" ./internal/feedtest/feedserver)
old=$tmp/trafficctl

# serve FILE_OR_FLAGS... starts a feed server; its URL is then in $url.
serve() {
	rm -f "$tmp/url"
	"$tmp/feedserver" -url-file "$tmp/url" "$@" >/dev/null &
	servers+=($!)
	for _ in $(seq 100); do [ -s "$tmp/url" ] && break; sleep 0.1; done
	url=$(cat "$tmp/url")
}

# WZDx: the first 15 features; then feature 3 changed, 5 gone and 15 new;
# then 5 back.
wz=testdata/wzdx/511-mtc-v4.1.json
jq -c '.features |= .[0:15]' "$wz" >"$tmp/wz1.json"
jq -c '.features |= (.[0:16] | del(.[5]) | .[3].properties.core_details.description += " (updated)")' "$wz" >"$tmp/wz2.json"
jq -c '.features |= (.[0:16] | .[3].properties.core_details.description += " (updated)")' "$wz" >"$tmp/wz3.json"

mkdir "$tmp/replay"
cp testdata/511-real-2021/snap_0*.json "$tmp/replay/"
rm "$tmp/replay/snap_09.json"
serve -replay "$tmp/replay" -page-size 20
bayarea=$url
serve testdata/drivebc/events.json
drivebc=$url

db=$out/$release.db
rm -f "$db"
for run in 1 2 3 4 5 6 7 8 9; do
	case $run in
	1 | 2) wzfile=$tmp/wz1.json ;;
	3 | 4) wzfile=$tmp/wz2.json ;;
	*) wzfile=$tmp/wz3.json ;;
	esac
	serve "$wzfile"
	workzones=$url
	if [ "$run" = 6 ]; then # the server is down: a failed run in the ledger
		kill "${servers[-1]}"
		wait "${servers[-1]}" 2>/dev/null || true
	fi
	cat >"$tmp/trafficctl.yaml" <<YAML
database:
  url: sqlite:///$PWD/$db
feeds:
  bayarea:
    url: $bayarea
    api_key: k
    page_size: 20
  workzones:
    format: wzdx
    url: $workzones
    timezone: America/Los_Angeles
  drivebc:
    url: $drivebc
    timezone: America/Vancouver
YAML
	chmod 600 "$tmp/trafficctl.yaml"
	feeds="bayarea workzones"
	if [ $((run % 3)) = 1 ]; then feeds="$feeds drivebc"; fi
	# shellcheck disable=SC2086 # the feed names, split on purpose
	"$old" --config "$tmp/trafficctl.yaml" fetch --quiet $feeds || [ "$run" = 6 ]
	kill "${servers[-1]}" 2>/dev/null || true
	sleep 1 # whole-second run times, as a scheduler's would be
done

rm -f "$db"-*.lock # the per-feed locks, empty
rm -rf "${out:?}/$release"
mkdir -p "$out/$release"
for table in events versions runs snapshots lifetimes counts; do
	for format in csv jsonl geojson parquet; do
		a=$out/$release/$table.$format
		args=(--config "$tmp/trafficctl.yaml" export --table "$table" --format "$format")
		if ! "$old" "${args[@]}" -o "$a" 2>"$tmp/err"; then
			echo "$table.$format: not written: $(cat "$tmp/err")"
			continue
		fi
		"$old" "${args[@]}" -o "$tmp/again"
		if ! cmp -s "$a" "$tmp/again"; then
			echo "$table.$format: two exports differ; left out"
			rm "$a"
		fi
	done
done
go run ./internal/dbtest/catalog "sqlite:///$db" >testdata/schema/$release.sqlite.txt
PGOPTIONS=--client-min-messages=warning psql -q "$pg" -c "DROP DATABASE IF EXISTS trafficctl_release_fixture" -c "CREATE DATABASE trafficctl_release_fixture"
pgrelease=$(echo "$pg" | sed -E 's#/[^/?]*([?]|$)#/trafficctl_release_fixture\1#')
TRAFFICCTL_DATABASE_URL=$pgrelease "$old" migrate >/dev/null
go run ./internal/dbtest/catalog "$pgrelease" >testdata/schema/$release.postgres.txt
ls -l "$db" "$out/$release" testdata/schema/$release.*
