#!/usr/bin/env bash
# Makes docs/report.png: the report of make demo's 511.org feed (the 20
# real 2021 snapshots at their times), in Bay Area time, as headless
# chromium draws it with no network (so without basemap tiles).
set -euo pipefail
cd "$(dirname "$0")/.."
make demo >/dev/null
bin/trafficctl --config demo/trafficctl.yaml report --feed bayarea --tz America/Los_Angeles \
	--title "make demo: 511.org traffic events, April 2021" -o demo/report-bayarea.html
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
chromium --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking \
	--disable-component-update --disable-sync --proxy-server=http://127.0.0.1:9 --user-data-dir="$profile" \
	--hide-scrollbars --window-size=1280,3300 --screenshot="$PWD/docs/report.png" \
	"file://$PWD/demo/report-bayarea.html" 2>/dev/null
echo "wrote docs/report.png"
