#!/bin/sh
# tcpconnect smoke test: `tcpconnect -j --attach=MECH` reports a loopback
# connect by a process whose pid we know, with the port it connected to.
# shellcheck source=tests/kernels/guest/lib.sh
. "$(dirname "$0")/lib.sh"

port=40123
timeout 30 nc -l -p "$port" </dev/null >/dev/null &
listener=$!
CLEANUP="kill $listener 2>/dev/null; rm -f /tmp/tcpconnect.pid"
tool_start tcpconnect -j --attach="$1"
sh -c 'echo $$ >/tmp/tcpconnect.pid; exec timeout 10 nc 127.0.0.1 '$port \
	</dev/null >/dev/null
pid=$(cat /tmp/tcpconnect.pid)
wait_for "$OUT" "\"pid\":$pid," 10 || fail "no event from pid $pid (nc)"
tool_stop
check_clean
line=$(grep -F "\"pid\":$pid," "$OUT" | head -n 1)
for want in '"daddr":"127.0.0.1"' "\"dport\":$port," '"comm":"nc"'; do
	case $line in
	*"$want"*) ;;
	*) fail "event from pid $pid without $want: $line" ;;
	esac
done
pass "$(grep -c . "$OUT") events"
