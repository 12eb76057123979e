#!/usr/bin/env bash
# Times "trafficctl report" on a 30-day history of 2,000 events over 624
# runs (1,000,000 snapshot rows) in SQLite, seeded by BenchmarkReport's
# seeder, and reports the page's size and the peak RSS: the limits of
# docs/benchmarks.md (<= 3 s, <= 256 MB, <= 5 MB).
#
# Environment: TRAFFICCTL_BIN (default bin/trafficctl), RUNS (default 5).
set -euo pipefail

cd "$(dirname "$0")/.."
BIN=${TRAFFICCTL_BIN:-bin/trafficctl}
RUNS=${RUNS:-5}
[ -x "$BIN" ] || { echo "bench-report: $BIN not found; run make build" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
db="sqlite:///$work/month.db"
TRAFFICCTL_BENCH_SEED_URL=$db go test -run '^$' -bench '^BenchmarkReport$' -benchtime 1x ./pkg/report >/dev/null
export TRAFFICCTL_DATABASE_URL=$db

echo "trafficctl $("$BIN" --version | awk '{print $2}'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $RUNS runs"
times=()
for _ in $(seq "$RUNS"); do
	start=$(date +%s%N)
	"$BIN" report -o "$work/report.html"
	times+=($((($(date +%s%N) - start) / 1000000)))
done
sorted=($(printf '%s\n' "${times[@]}" | sort -n))
rss="n/a"
if [ -x /usr/bin/time ]; then
	/usr/bin/time -f '%M' -o "$work/rss" "$BIN" report -o "$work/report.html"
	rss=$(awk '{printf "%.1f", $1/1024}' "$work/rss")
fi
printf 'report of 1,000,000 snapshot rows: median %d ms (min %d, max %d), peak RSS %s MB, page %s bytes\n' \
	"${sorted[$((${#sorted[@]} / 2))]}" "${sorted[0]}" "${sorted[-1]}" "$rss" "$(stat -c %s "$work/report.html")"
