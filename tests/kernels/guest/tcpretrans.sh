#!/bin/sh
# tcpretrans smoke test: `tcpretrans -j --attach=MECH` reports the SYN
# retransmission of a connect to an address routed into lo, where the
# kernel drops it (not local, no forwarding): the SYN is resent after 1 s.
# shellcheck source=tests/kernels/guest/lib.sh
. "$(dirname "$0")/lib.sh"

dst=192.0.2.1
port=40124
ip route add 192.0.2.0/24 dev lo 2>/dev/null
tool_start tcpretrans -j --attach="$1"
timeout 20 nc "$dst" "$port" </dev/null >/dev/null 2>&1 &
client=$!
CLEANUP="kill $client 2>/dev/null"
wait_for "$OUT" "\"daddr\":\"$dst\"" 10 || fail "no retransmission to $dst seen in 10 s"
tool_stop
check_clean
line=$(grep -F "\"daddr\":\"$dst\"" "$OUT" | head -n 1)
for want in "\"dport\":$port," '"state":"SYN_SENT"'; do
	case $line in
	*"$want"*) ;;
	*) fail "retransmission to $dst without $want: $line" ;;
	esac
done
pass "$(grep -c . "$OUT") events"
