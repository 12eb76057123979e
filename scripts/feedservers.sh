# Sourced by the bench scripts: a scratch folder, local Open511 feed servers
# (internal/feedtest/feedserver) and their clean-up. Run from the
# repository's root.
#
#   serve NAME ARGS...   start a feedserver with ARGS; its URL goes in $NAME
#   pgurl DBNAME         $TRAFFICCTL_TEST_DATABASE_URL naming another database

work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
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
