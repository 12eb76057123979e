#!/usr/bin/env bash
# Makes docs/report.png: the report of the browser test's two-feed history
# (the 20 real 2021 Open511 snapshots and 511.org's WZDx document), as
# headless chromium draws it with no network (so without basemap tiles).
set -euo pipefail
cd "$(dirname "$0")/.."
TRAFFICCTL_REPORT_SCREENSHOT="$PWD/docs/report.png" go test -count=1 -run '^TestReportInBrowser$' ./pkg/report
echo "wrote docs/report.png"
