#!/bin/sh
# opensnoop smoke test: `opensnoop -j --attach=MECH` reports the open of a
# fresh file by a process whose pid we know.
# shellcheck source=tests/kernels/guest/lib.sh
. "$(dirname "$0")/lib.sh"

file=/tmp/opensnoop-smoke.$$
: >"$file"
CLEANUP="rm -f $file /tmp/opensnoop.pid"
tool_start opensnoop -j --attach="$1"
sh -c 'echo $$ >/tmp/opensnoop.pid; exec cat "$1"' sh "$file" >/dev/null
pid=$(cat /tmp/opensnoop.pid)
wait_for "$OUT" "\"$file\"" 10 || fail "no event for the open of $file"
tool_stop
check_clean
line=$(grep -F "\"$file\"" "$OUT" | head -n 1)
for want in "\"pid\":$pid," '"comm":"cat"' '"err":0,'; do
	case $line in
	*"$want"*) ;;
	*) fail "event for $file without $want: $line" ;;
	esac
done
pass "$(grep -c . "$OUT") events"
