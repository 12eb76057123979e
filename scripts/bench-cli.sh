#!/usr/bin/env bash
# Times the whole trafficctl binary against a local Open511 server
# (internal/feedtest/feedserver serving generated 511-shaped events), for
# the start-up and fetch targets of docs/benchmarks.md, and reports peak RSS.
#
#   make bench-cli                          # SQLite; PostgreSQL too when
#   TRAFFICCTL_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test make bench-cli
#
# Environment: TRAFFICCTL_BIN (default bin/trafficctl), RUNS (timed runs per
# figure, default 10), EVENTS (the large snapshot, default 10000).
# Each figure is the median and the min-max of RUNS runs, in milliseconds of
# wall time, and the largest peak RSS among them (from /usr/bin/time when it
# exists). The server runs on the same machine and its share of the CPU is in
# the figures, as a real feed's network time would be.
set -euo pipefail

cd "$(dirname "$0")/.."
BIN=${TRAFFICCTL_BIN:-bin/trafficctl}
RUNS=${RUNS:-10}
EVENTS=${EVENTS:-10000}
[ -x "$BIN" ] || { echo "bench-cli: $BIN not found; run make build" >&2; exit 1; }
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")

. scripts/feedservers.sh

TIME=""
if [ -x /usr/bin/time ] && /usr/bin/time -f '%M' -o /dev/null true 2>/dev/null; then
	TIME=/usr/bin/time
else
	echo "bench-cli: /usr/bin/time (GNU) not found: peak RSS is not reported" >&2
fi

# once URL DB: one fetch, untimed (seeding).
once() {
	TRAFFICCTL_SOURCE_URL=$1 TRAFFICCTL_DATABASE_URL=$2 "$BIN" fetch --quiet >/dev/null 2>"$work/err" ||
		{ cat "$work/err" >&2; exit 1; }
}

# timed LABEL PREPARE CMD...: runs PREPARE (untimed) then CMD, RUNS times,
# and prints one line: label, median, min, max (ms), peak RSS (MB). Times
# are by us (scripts/feedservers.sh); peak RSS comes from one more run
# under /usr/bin/time.
timed() {
	local label=$1 prepare=$2
	shift 2
	local times=()
	for _ in $(seq "$RUNS"); do
		eval "$prepare"
		local t
		t=$(us "$@") || exit 1
		times+=("$t")
	done
	local rss_text="n/a"
	if [ -n "$TIME" ]; then
		eval "$prepare"
		$TIME -f '%M' -o "$work/rss" "$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
		rss_text=$(awk -v k="$(tail -n 1 "$work/rss")" 'BEGIN{printf "%.1f", k/1024}')
	fi
	local sorted
	sorted=($(printf '%s\n' "${times[@]}" | sort -n))
	local n=${#sorted[@]}
	local med=${sorted[$((n / 2))]}
	awk -v l="$label" -v m="$med" -v a="${sorted[0]}" -v b="${sorted[$((n - 1))]}" -v r="$rss_text" \
		'BEGIN{printf "%-46s %9.1f %9.1f %9.1f %10s\n", l, m/1000, a/1000, b/1000, r}'
}

serve small -generate 500 -seed 1
serve big -generate "$EVENTS" -seed 2
serve changing -generate "$EVENTS" -seed 2 -change-every 100

echo "trafficctl $("$BIN" --version | awk '{print $2}'), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $RUNS runs each"
printf '%-46s %9s %9s %9s %10s\n' figure "median ms" "min ms" "max ms" "peak RSS MB"
timed "(the machine: /bin/true, for scale)" ":" /bin/true
timed "--version" ":" "$BIN" --version

# fetch_figures NAME FRESH_DB: FRESH_DB is a shell command printing the URL
# of a new empty database.
fetch_figures() {
	local name=$1 fresh=$2 db
	db=$($fresh)
	once "$small" "$db"
	export TRAFFICCTL_DATABASE_URL=$db TRAFFICCTL_SOURCE_URL=$small
	timed "$name: fetch 500 unchanged" ":" "$BIN" fetch --quiet
	# The database grows with changes, not runs: still 500 spells.
	local runs=$((RUNS + 1))
	[ -n "$TIME" ] && runs=$((runs + 1)) # the RSS run
	echo "$name: after $runs runs of the same 500 events: $(($("$BIN" export --table runs | wc -l) - 1)) ledger rows, $(($("$BIN" export --table versions | wc -l) - 1)) version rows"

	export TRAFFICCTL_SOURCE_URL=$big
	timed "$name: fetch $EVENTS all new" 'export TRAFFICCTL_DATABASE_URL=$('"$fresh"')' "$BIN" fetch --quiet
	once "$big" "$TRAFFICCTL_DATABASE_URL"
	timed "$name: fetch $EVENTS unchanged" ":" "$BIN" fetch --quiet
	export TRAFFICCTL_SOURCE_URL=$changing
	timed "$name: fetch $EVENTS, 1% changed" ":" "$BIN" fetch --quiet
	unset TRAFFICCTL_DATABASE_URL TRAFFICCTL_SOURCE_URL
}

fresh_sqlite() { echo "sqlite:///$(mktemp -u "$work/bench-XXXXXX.db")"; }
fetch_figures sqlite fresh_sqlite

# PostgreSQL: a new database per "all new" run, made with psql and dropped
# at the end.
fresh_postgres() { pgdb "trafficctl_bench_$(date +%s%N)"; }
if [ -z "${TRAFFICCTL_TEST_DATABASE_URL:-}" ]; then
	echo "postgres: skipped (set TRAFFICCTL_TEST_DATABASE_URL)"
elif ! command -v psql >/dev/null; then
	echo "postgres: skipped (psql is needed to create the databases)"
else
	fetch_figures postgres fresh_postgres
fi

# export --table snapshots of 1,000,000 rows (1,000 runs x 1,000 events),
# seeded by the Go benchmark's seeder into a database of our own.
export_figures() {
	local name=$1 db=$2
	TRAFFICCTL_BENCH_SEED_URL=$db go test -run '^$' -bench "ExportSnapshots/db=$name\$" -benchtime 1x ./pkg/export >/dev/null
	export TRAFFICCTL_DATABASE_URL=$db
	timed "$name: export snapshots, 1,000,000 rows, CSV" ":" "$BIN" export --table snapshots -o "$work/snapshots.csv"
	unset TRAFFICCTL_DATABASE_URL
}
export_figures sqlite "$(fresh_sqlite)"
if [ -n "${TRAFFICCTL_TEST_DATABASE_URL:-}" ] && command -v psql >/dev/null; then
	export_figures postgres "$(fresh_postgres)"
fi
