#!/usr/bin/env bash
# make recipes: run the README's pandas and DuckDB recipes as written, on
# the 20 real 2021 snapshots imported into a fresh database, and check
# what each gives (scripts/recipes.py, scripts/recipes-duckdb.mjs).
#
# pandas: Debian's python3-pandas (1.5) runs the CSV, JSON Lines and SQL
# recipes; it is installed with apt-get when missing and this runs as root.
# DuckDB: @duckdb/node-api from npm, installed once into
# ${XDG_CACHE_HOME:-~/.cache}/trafficctl-recipes. With RECIPES_DATABASE_URL
# (an empty PostgreSQL database), the SQLAlchemy recipe runs on it too
# (python3-sqlalchemy and python3-psycopg2).
#
# Environment: TRAFFICCTL_BIN (default bin/trafficctl), DUCKDB_NODE_API
# (default 1.5.6-r.1).
set -euo pipefail

cd "$(dirname "$0")/.."
repo=$PWD
BIN=${TRAFFICCTL_BIN:-bin/trafficctl}
[ -x "$BIN" ] || { echo "recipes: $BIN not found; run make build (make recipes does)" >&2; exit 1; }
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

unset TRAFFICCTL_API_KEY FIVEONEONE_TOKEN TRAFFICCTL_SOURCE_API_KEY TRAFFICCTL_SOURCE_PARAMS DATABASE_URL TRAFFICCTL_CONFIG
export TRAFFICCTL_DATABASE_URL="sqlite:///$work/trafficctl.db"
cd "$work"
"$BIN" --quiet import --feed default "$repo/testdata/511-real-2021" >/dev/null
"$BIN" export --csv -o events.csv
"$BIN" export --jsonl -o events.jsonl
"$BIN" export --table lifetimes -o lifetimes.csv
"$BIN" export --parquet -o events.parquet
"$BIN" export --parquet --table snapshots -o snapshots.parquet
"$BIN" export --parquet --table snapshots --partition day -o snapshots/
cd "$repo"

status=0

# pandas: the first Python that has it, else Debian's.
py=""
for p in /usr/bin/python3 python3; do
	if command -v "$p" >/dev/null && "$p" -c 'import pandas' 2>/dev/null; then py=$p; break; fi
done
if [ -z "$py" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
	echo "recipes: installing Debian's python3-pandas"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pandas python3-matplotlib >/dev/null
	py=/usr/bin/python3
fi
if [ -n "${RECIPES_DATABASE_URL:-}" ]; then
	if ! "$py" -c 'import sqlalchemy, psycopg2' 2>/dev/null && [ "$(id -u)" = 0 ]; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-sqlalchemy python3-psycopg2 >/dev/null
	fi
	TRAFFICCTL_DATABASE_URL=$RECIPES_DATABASE_URL "$BIN" --quiet import --feed default testdata/511-real-2021 >/dev/null
	export DATABASE_URL=$RECIPES_DATABASE_URL
fi
if [ -z "$py" ]; then
	echo "recipes: no Python with pandas (apt-get install python3-pandas): the pandas recipes did not run" >&2
	status=1
else
	MPLBACKEND=Agg "$py" scripts/recipes.py README.md "$work" "$BIN" || status=1
fi
unset DATABASE_URL

# DuckDB from npm.
modules=${XDG_CACHE_HOME:-$HOME/.cache}/trafficctl-recipes
if [ ! -d "$modules/node_modules/@duckdb/node-api" ]; then
	echo "recipes: installing @duckdb/node-api into $modules"
	npm install --silent --no-audit --no-fund --prefix "$modules" "@duckdb/node-api@${DUCKDB_NODE_API:-1.5.6-r.1}" >/dev/null
fi
node scripts/recipes-duckdb.mjs README.md "$work" "$modules" || status=1
exit $status
