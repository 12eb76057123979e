# Sourced by the bench scripts: a scratch folder, scratch PostgreSQL
# databases, a clock, local Open511 feed servers
# (internal/feedtest/feedserver) and their clean-up. Run from the
# repository's root.
#
#   serve NAME ARGS...   start a feedserver with ARGS; its URL goes in $NAME
#   pgurl DBNAME         $TRAFFICCTL_TEST_DATABASE_URL naming another database
#   pgdb DBNAME          (re)create DBNAME_<pid> on that server, dropped at exit; print its URL
#   us CMD...            run CMD and print its wall time in microseconds

export PGOPTIONS="-c client_min_messages=warning" # no NOTICE from DROP ... IF EXISTS
work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	if [ -s "$work/pg_dbs" ]; then
		sort -u "$work/pg_dbs" | while read -r d; do
			psql -q "$TRAFFICCTL_TEST_DATABASE_URL" -c "DROP DATABASE IF EXISTS $d WITH (FORCE)" >/dev/null 2>&1 || true
		done
	fi
	rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/feedserver" ./internal/feedtest/feedserver

serve() {
	local name=$1
	shift
	"$work/feedserver" -url-file "$work/$name.url" "$@" >/dev/null &
	pids+=("$!")
	for _ in $(seq 200); do
		[ -s "$work/$name.url" ] && break
		sleep 0.05
	done
	[ -s "$work/$name.url" ] || { echo "feedserver $* did not start" >&2; exit 1; }
	printf -v "$name" '%s' "$(cat "$work/$name.url")"
}

pgurl() {
	echo "$TRAFFICCTL_TEST_DATABASE_URL" | sed -E "s#^(postgres(ql)?://[^/]*)/[^?]*#\\1/$1#"
}

# Called in $(...) subshells too, so the names go to a file, not a variable.
# The names carry this script's PID ($$ is the same in its subshells): two
# benchmarks run at once must not drop each other's databases.
pgdb() {
	local name="$1_$$"
	psql -q "$TRAFFICCTL_TEST_DATABASE_URL" -c "DROP DATABASE IF EXISTS $name WITH (FORCE)" -c "CREATE DATABASE $name" >/dev/null
	echo "$name" >>"$work/pg_dbs"
	pgurl "$name"
}

# The clock is bash's own ($EPOCHREALTIME): no process is started around
# the command, which on a slow VM costs several ms. CMD's output is
# dropped; if it fails, its stderr is shown and the script ends.
us() {
	local t0=$EPOCHREALTIME
	"$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
	local t1=$EPOCHREALTIME
	echo $((${t1/./} - ${t0/./}))
}
