#!/usr/bin/env bash
# Times status and the runs export on a large ledger (issue 20): RUNS runs
# (default 5,000,000) over 50 feeds, every 5 minutes per feed up to now,
# about 1 % failed, each feed with 500 open events; seeded in SQL.
#
#   scripts/bench-ledger.sh sqlite|postgres [RUNS]
#
# How it seeds: `trafficctl migrate` makes the schema, which is then taken
# back to what the previous release left (0005_ledger_index undone: its
# trigger, tables and index dropped, its row in schema_migrations deleted).
# One INSERT ... SELECT over a generated series writes the runs (feed i % 50,
# started at NOW - (RUNS/50 - i/50) * 300 s + i % 50 s), two more the events
# and their spells. Then the timed steps, with the binary (TRAFFICCTL_BIN,
# default bin/trafficctl): status before the upgrade (it reads the whole
# ledger, as the previous release did), the upgrade (`migrate`, which fills in the
# ledger's summary), then `status --json` and `export --table runs --since
# <a day before now>` on the warm database, each REPEAT times (default 5): wall seconds and
# peak RSS of each (GNU time). PostgreSQL: TRAFFICCTL_TEST_DATABASE_URL names
# the server; the database trafficctl_bench_ledger is made anew.
set -euo pipefail

cd "$(dirname "$0")/.."
DIALECT=${1:?usage: scripts/bench-ledger.sh sqlite|postgres [RUNS]}
RUNS=${2:-5000000}
REPEAT=${REPEAT:-5}
BIN=$(realpath "${TRAFFICCTL_BIN:-bin/trafficctl}")
[ -x "$BIN" ] || { echo "bench-ledger: $BIN not found; run make build" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
NOW=$(date +%s)
T0=$((NOW - (RUNS / 50) * 300))

case $DIALECT in
sqlite)
	url="sqlite:///$work/ledger.db"
	sql() { sqlite3 "$work/ledger.db"; }
	series="WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < $RUNS - 1)"
	from_series="FROM n"
	at="strftime('%Y-%m-%d %H:%M:%S+00:00', $T0 + (i / 50) * 300 + i % 50, 'unixepoch')"
	at_end="strftime('%Y-%m-%d %H:%M:%S+00:00', $T0 + (i / 50) * 300 + i % 50 + 5, 'unixepoch')"
	feed="'feed-' || printf('%02d', i % 50)"
	ev_series="WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 499)"
	undo="DROP TRIGGER fetch_runs_ledger;"
	;;
postgres)
	base=${TRAFFICCTL_TEST_DATABASE_URL:?set TRAFFICCTL_TEST_DATABASE_URL}
	psql -q "$base" -c "DROP DATABASE IF EXISTS trafficctl_bench_ledger" -c "CREATE DATABASE trafficctl_bench_ledger"
	url=$(echo "$base" | sed -E 's#/[^/?]*(\?|$)#/trafficctl_bench_ledger\1#')
	sql() { psql -q -v ON_ERROR_STOP=1 "$url"; }
	series=""
	from_series="FROM generate_series(0::bigint, $RUNS - 1) AS n(i)"
	at="to_timestamp($T0 + (i / 50) * 300 + i % 50)"
	at_end="to_timestamp($T0 + (i / 50) * 300 + i % 50 + 5)"
	feed="'feed-' || lpad((i % 50)::text, 2, '0')"
	ev_series=""
	undo="DROP TRIGGER fetch_runs_ledger ON fetch_runs; DROP FUNCTION ledger_record_run();"
	;;
*) echo "bench-ledger: sqlite or postgres, not $DIALECT" >&2; exit 2 ;;
esac
ev_from="FROM generate_series(0, 499) AS n(i)"
[ "$DIALECT" = sqlite ] && ev_from="FROM n"

"$BIN" migrate --quiet --database-url "$url"
echo "seeding $RUNS runs ($DIALECT)..." >&2
s0=$(date +%s)
sql <<SQL
$undo
DROP TABLE ledger_intervals; DROP TABLE ledger_successes; DROP TABLE ledger_feeds;
DROP INDEX fetch_runs_started_at;
DELETE FROM schema_migrations WHERE id = '0005_ledger_index';
$series
INSERT INTO fetch_runs (feed, started_at, finished_at, status, source_url, pages, events_received, events_unchanged, error, version)
SELECT $feed, $at, $at_end,
	CASE WHEN (i * 7919) % 97 = 0 THEN 'failed' ELSE 'succeeded' END,
	'http://127.0.0.1/feeds/' || ($feed), 1, 500, 500,
	CASE WHEN (i * 7919) % 97 = 0 THEN 'fetch page 1 of http://127.0.0.1/: 503 Service Unavailable' ELSE '' END, 'bench'
$from_series;
$ev_series
INSERT INTO events (feed, id, headline, first_seen_at, current_version, content_hash, raw)
SELECT r.feed, 'event-' || n.i, 'a generated event', r.started_at, 1, 'hash', '{}'
$ev_from, (SELECT feed, MIN(id) AS id, MIN(started_at) AS started_at FROM fetch_runs WHERE status = 'succeeded' GROUP BY feed) r;
INSERT INTO event_versions (feed, event_id, version, first_run_id, valid_from, content_hash, headline, raw)
SELECT e.feed, e.id, 1, r.id, e.first_seen_at, 'hash', e.headline, '{}'
FROM events e JOIN (SELECT feed, MIN(id) AS id FROM fetch_runs WHERE status = 'succeeded' GROUP BY feed) r ON r.feed = e.feed;
SQL
echo "seeded in $(($(date +%s) - s0)) s" >&2

# timed NAME CMD...: wall seconds and peak RSS (MB) of CMD, output to a file.
timed() {
	local name=$1
	shift
	/usr/bin/time -f "%e %M" -o "$work/time" "$@" > "$work/out" 2> "$work/err" || { cat "$work/err" >&2; exit 1; }
	read -r secs kb < "$work/time"
	echo "$name: ${secs} s, $((kb / 1024)) MB"
}
timed "status --json before the upgrade (the whole ledger, as the previous release)" "$BIN" status --json --database-url "$url"
timed "upgrade (migrate: 0005_ledger_index)" "$BIN" migrate --database-url "$url"
"$BIN" status --json --database-url "$url" > "$work/status.json" # warm
grep -q '"runs": '"$RUNS" "$work/status.json" || { echo "bench-ledger: status does not count $RUNS runs" >&2; exit 1; }
for _ in $(seq "$REPEAT"); do timed "status --json" "$BIN" status --json --database-url "$url"; done
# The day before now (--since takes a time or a date, not a duration).
day=$(date -u -d "@$((NOW - 86400))" +%Y-%m-%dT%H:%M:%SZ)
for _ in $(seq "$REPEAT"); do timed "export --table runs --since $day (1 day)" "$BIN" export --table runs --since "$day" --format csv --database-url "$url"; done
echo "(the export wrote $(($(wc -l < "$work/out") - 1)) runs)"
du -sh "$work/ledger.db" 2>/dev/null || true
