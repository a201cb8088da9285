#!/bin/sh
# biolatency smoke test: `biolatency -j --attach=MECH` counts at least the
# 200 O_DIRECT reads dd makes on the null_blk device /dev/nullb0 (blk-mq,
# so the block_rq_* tracepoints fire) in the histogram it prints on SIGINT.
# shellcheck source=tests/kernels/guest/lib.sh
. "$(dirname "$0")/lib.sh"

dev=/dev/nullb0
[ -b "$dev" ] || skip "no $dev (null_blk module not loaded)"
tool_start biolatency -j --attach="$1"
dd if="$dev" of=/dev/null bs=4096 count=200 iflag=direct 2>/dev/null ||
	fail "dd on $dev failed"
tool_stop
check_clean
n=$(hist_total "$OUT")
[ "$n" -ge 200 ] || fail "histogram counts $n I/Os, expected >= 200"
pass "$n I/Os"
