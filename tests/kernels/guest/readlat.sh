#!/bin/sh
# readlat smoke test: `readlat -j --attach=MECH` counts at least the 500
# one-byte reads dd makes, in the histogram it prints on SIGINT.
# shellcheck source=tests/kernels/guest/lib.sh
. "$(dirname "$0")/lib.sh"

file=/tmp/readlat-smoke.$$
CLEANUP="rm -f $file"
dd if=/dev/zero of="$file" bs=512 count=1 2>/dev/null
tool_start readlat -j --attach="$1"
dd if="$file" of=/dev/null bs=1 count=500 2>/dev/null || fail "dd failed"
tool_stop
check_clean
n=$(hist_total "$OUT")
[ "$n" -ge 500 ] || fail "histogram counts $n reads, expected >= 500"
pass "$n reads"
