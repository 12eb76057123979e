#!/usr/bin/env bash
# Times the upgrade 0006_vocabulary (which reads every spell's raw and
# rewrites the spell) on a large SQLite database: SPELLS spells (default
# 1,000,000), one per event, over 50 feeds.
#
#   scripts/bench-vocabulary.sh [SPELLS]
#
# How it seeds: `trafficctl migrate` makes the schema, which is then taken
# back to what 0005 left (0006's views dropped, its four columns dropped,
# 0004's views made again from 0004's own SQL, its row in schema_migrations
# deleted). The spells' raws are the repository's fixture events (Open511
# from testdata/511*, testdata/drivebc; WZDx features from testdata/wzdx),
# spell i taking fixture i modulo their number: one INSERT ... SELECT over a
# generated series. Then `migrate` (0006 alone) with GNU time: wall seconds,
# peak RSS, and the database's size before and after.
set -euo pipefail

cd "$(dirname "$0")/.."
SPELLS=${1:-1000000}
BIN=$(realpath "${TRAFFICCTL_BIN:-bin/trafficctl}")
[ -x "$BIN" ] || { echo "bench-vocabulary: $BIN not found; run make build" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
db="$work/vocabulary.db"
url="sqlite:///$db"

jq -c -s '[.[] | if type == "array" then .[] elif has("events") then .events[] elif has("features") then .features[] else empty end]' \
	testdata/511/events_page1.json testdata/511-real-2021/snap_*.json testdata/drivebc/events.json \
	testdata/wzdx/*.json testdata/wzdx/*.geojson > "$work/samples.json"

"$BIN" migrate --quiet --database-url "$url"
echo "seeding $SPELLS spells..." >&2
s0=$(date +%s)
{
	cat <<SQL
DROP VIEW events_view; DROP VIEW versions_view; DROP VIEW snapshots_view;
ALTER TABLE event_versions DROP COLUMN category;
ALTER TABLE event_versions DROP COLUMN impact;
ALTER TABLE event_versions DROP COLUMN road;
ALTER TABLE event_versions DROP COLUMN direction;
SQL
	sed -n '/^CREATE VIEW events_view/,$p' pkg/store/migrations/0004_content_in_spells.sqlite.sql
	cat <<SQL
DELETE FROM schema_migrations WHERE id = '0006_vocabulary';
CREATE TEMP TABLE samples AS SELECT key AS k, value AS raw FROM json_each(readfile('$work/samples.json'));
INSERT INTO fetch_runs (feed, started_at, finished_at, status, source_url, pages, events_received, events_unchanged, error, version)
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 49)
SELECT 'feed-' || printf('%02d', i), '2026-01-01 00:00:00+00:00', '2026-01-01 00:00:05+00:00', 'succeeded',
	'http://127.0.0.1/', 1, $SPELLS / 50, 0, '', 'bench' FROM n;
INSERT INTO events (feed, id, first_seen_at, current_version)
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < $SPELLS - 1)
SELECT 'feed-' || printf('%02d', i % 50), 'event-' || i, '2026-01-01 00:00:00+00:00', 1 FROM n;
INSERT INTO event_versions (feed, event_id, version, first_run_id, valid_from, content_hash, headline, raw)
SELECT e.feed, e.id, 1, r.id, e.first_seen_at, 'hash-' || e.rowid, 'a generated event',
	(SELECT raw FROM samples WHERE k = e.rowid % (SELECT COUNT(*) FROM samples))
FROM events e JOIN fetch_runs r ON r.feed = e.feed;
SQL
} | sqlite3 "$db"
echo "seeded in $(($(date +%s) - s0)) s; database $(du -m "$db" | cut -f1) MB" >&2

/usr/bin/time -f "%e %M" -o "$work/time" "$BIN" migrate --database-url "$url" > "$work/out" 2> "$work/err" || { cat "$work/err" >&2; exit 1; }
read -r secs kb < "$work/time"
cat "$work/out"
echo "upgrade (migrate: 0006_vocabulary) of $SPELLS spells: ${secs} s, $((kb / 1024)) MB peak RSS; database $(du -m "$db" | cut -f1) MB after"
sqlite3 "$db" "SELECT category, COUNT(*) FROM event_versions GROUP BY category ORDER BY 2 DESC LIMIT 3"
