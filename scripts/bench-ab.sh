#!/usr/bin/env bash
# Compares two trafficctl builds fetch by fetch, alternating them, so that
# a shared machine whose speed drifts (ours moves by a third within an
# hour) slows both alike. Prints, per figure and build, the sorted wall
# times in ms of ROUNDS fetches of EVENTS generated events.
#
#   scripts/bench-ab.sh OLD_BINARY [NEW_BINARY (default bin/trafficctl)]
#
# SQLite always; PostgreSQL too when TRAFFICCTL_TEST_DATABASE_URL is set
# (databases ab_*_<pid> are created with psql and dropped at the end).
set -euo pipefail

cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: scripts/bench-ab.sh OLD_BINARY [NEW_BINARY]" >&2; exit 2; }
OLD=$(realpath "$1")
NEW=$(realpath "${2:-bin/trafficctl}")
ROUNDS=${ROUNDS:-5}
EVENTS=${EVENTS:-10000}

. scripts/feedservers.sh
serve same -generate "$EVENTS" -seed 2
serve changing -generate "$EVENTS" -seed 2 -change-every 100

# ms CMD...: wall time of CMD in ms.
ms() {
	local t
	t=$(us "$@") || exit 1
	echo $((t / 1000))
}

declare -A took
# run DB_KIND: ROUNDS rounds; in each, each build does: all new (a fresh
# database), unchanged, 1 % changed, then an untimed fetch back to the
# unchanged content.
run() {
	local kind=$1 fresh kept
	for round in $(seq "$ROUNDS"); do
		for which in old new; do
			local bin=$OLD
			[ $which = new ] && bin=$NEW
			fresh=$($kind fresh "$which")
			kept=$($kind kept "$which")
			took[$kind $which all-new]+="$(TRAFFICCTL_SOURCE_URL=$same TRAFFICCTL_DATABASE_URL=$fresh ms "$bin" fetch --quiet) "
			[ "$round" = 1 ] && TRAFFICCTL_SOURCE_URL=$same TRAFFICCTL_DATABASE_URL=$kept "$bin" fetch --quiet
			took[$kind $which unchanged]+="$(TRAFFICCTL_SOURCE_URL=$same TRAFFICCTL_DATABASE_URL=$kept ms "$bin" fetch --quiet) "
			took[$kind $which 1%-changed]+="$(TRAFFICCTL_SOURCE_URL=$changing TRAFFICCTL_DATABASE_URL=$kept ms "$bin" fetch --quiet) "
			TRAFFICCTL_SOURCE_URL=$same TRAFFICCTL_DATABASE_URL=$kept "$bin" fetch --quiet
		done
	done
}

# sqlite fresh|kept WHICH: a database URL.
sqlite() {
	if [ "$1" = fresh ]; then
		rm -f "$work/fresh-$2.db"*
		echo "sqlite:///$work/fresh-$2.db"
	else
		echo "sqlite:///$work/kept-$2.db"
	fi
}
run sqlite

# postgres fresh|kept WHICH: a database URL (the test URL, another name);
# a kept one is made once.
postgres() {
	local name=ab_$1_$2
	if [ "$1" = fresh ] || ! grep -qx "${name}_$$" "$work/pg_dbs" 2>/dev/null; then
		pgdb "$name"
	else
		pgurl "${name}_$$"
	fi
}
if [ -n "${TRAFFICCTL_TEST_DATABASE_URL:-}" ] && command -v psql >/dev/null; then
	run postgres
fi

echo "old: $OLD ($("$OLD" --version)); new: $NEW ($("$NEW" --version)); $ROUNDS rounds, $EVENTS events; ms, sorted"
for k in $(printf '%s\n' "${!took[@]}" | sed 's/ /|/g' | sort); do
	printf '%-30s %s\n' "${k//|/ }" "$(echo ${took[${k//|/ }]} | tr ' ' '\n' | sort -n | tr '\n' ' ')"
done
