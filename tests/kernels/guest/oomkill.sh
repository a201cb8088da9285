#!/bin/sh
# oomkill smoke test: `oomkill -j --attach=MECH` reports the OOM kill of a
# dd that fills a 64 MB buffer in a cgroup limited to 16 MB.
# shellcheck source=tests/kernels/guest/lib.sh
. "$(dirname "$0")/lib.sh"

cg=/sys/fs/cgroup/oomkill-smoke
echo +memory >/sys/fs/cgroup/cgroup.subtree_control ||
	fail "cannot enable the memory controller"
mkdir -p "$cg"
CLEANUP="rmdir $cg 2>/dev/null; rm -f /tmp/oomkill.pid"
echo 16M >"$cg/memory.max"
tool_start oomkill -j --attach="$1"
sh -c 'echo $$ >/tmp/oomkill.pid; echo $$ >'"$cg"'/cgroup.procs;
	exec dd if=/dev/zero of=/dev/null bs=64M count=1' 2>/dev/null
rc=$?
pid=$(cat /tmp/oomkill.pid)
rmdir "$cg" || fail "cannot remove $cg"
[ "$rc" = 137 ] || fail "dd in $cg was not OOM-killed (exit $rc)"
wait_for "$OUT" ":$pid," 10 || fail "no event for the OOM kill of pid $pid"
tool_stop
check_clean
line=$(grep -F "\"pid\":$pid," "$OUT" | head -n 1)
case $line in
*'"comm":"dd"'*) ;;
*) fail "no OOM event with \"pid\":$pid and \"comm\":\"dd\": $line" ;;
esac
# Where the mechanism sees the OOM's memory cgroup, it must be ours.
case $line in
*'"oom_cgroup":"'*)
	case $line in
	*'"oom_cgroup":"/oomkill-smoke"'*) ;;
	*) fail "OOM event for pid $pid not in /oomkill-smoke: $line" ;;
	esac ;;
esac
pass "$(grep -c . "$OUT") events"
