#!/bin/sh
# /init of the kernel-matrix guest (busybox sh as PID 1). Mounts what the
# tools need, loads the block modules the host packed, runs every tool's
# smoke test once per attach mechanism, prints one line per run:
#   RESULT <kernel> <tool> <mech> PASS|FAIL|SKIP <reason>
# then "BPFKIT-GUEST-DONE" and powers off. The host decides from these lines.

export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# The initramfs has no /dev/console for the kernel to open: open it now.
exec </dev/console >/dev/console 2>&1
mount -t tmpfs tmpfs /tmp
mount -t tracefs tracefs /sys/kernel/tracing
mount -t debugfs debugfs /sys/kernel/debug
mount -t bpf bpf /sys/fs/bpf
mount -t cgroup2 cgroup2 /sys/fs/cgroup
# Keep kernel messages (OOM reports...) from interleaving with ours.
echo 1 >/proc/sys/kernel/printk
ip link set lo up

# shellcheck disable=SC1091
. /etc/bpfkit.conf
KERNEL=$(uname -r)
export KERNEL

if [ -f /lib/kmod/order ]; then
	while read -r mod args; do
		# shellcheck disable=SC2086
		insmod "/lib/kmod/$mod" $args ||
			echo "bpfkit-init: insmod $mod failed"
	done </lib/kmod/order
fi

now() { cut -d' ' -f1 /proc/uptime; }

echo "BPFKIT-GUEST-START $KERNEL booted in $(now) s, $(bpfcount)"
for tool in $TOOLS; do
	case " $FAILED_BUILDS " in
	*" $tool "*) continue ;; # the host reports it
	esac
	if [ ! -x "/bin/$tool" ]; then
		echo "RESULT $KERNEL $tool - SKIP tools/$tool.c does not exist"
		continue
	fi
	if [ ! -f "/tests/$tool.sh" ]; then
		echo "RESULT $KERNEL $tool - FAIL no smoke test guest/$tool.sh"
		continue
	fi
	for mech in $MECHS; do
		t0=$(now)
		timeout -s KILL "$TEST_TIMEOUT" \
			sh "/tests/$tool.sh" "$mech" >/tmp/smoke.log 2>&1
		rc=$?
		t1=$(now)
		why=$(grep -v '^ ' /tmp/smoke.log | tail -n 1)
		took=$(awk "BEGIN { printf \"%.1f\", $t1 - $t0 }")
		case $rc in
		0) echo "RESULT $KERNEL $tool $mech PASS ${took}s ${why}" ;;
		77) echo "RESULT $KERNEL $tool $mech SKIP $why" ;;
		137) echo "RESULT $KERNEL $tool $mech FAIL killed after" \
			"${TEST_TIMEOUT}s" ;;
		*) echo "RESULT $KERNEL $tool $mech FAIL $why" ;;
		esac
		# Failure details, indented so the host never takes them for
		# result lines.
		if [ "$rc" != 0 ] && [ "$rc" != 77 ]; then
			sed 's/^/    | /' /tmp/smoke.log
		fi
		# A test killed by timeout may leave its tool running.
		if [ -s /tmp/tool.pid ]; then
			kill -KILL "$(cat /tmp/tool.pid)" 2>/dev/null
			rm -f /tmp/tool.pid
		fi
	done
done
echo "BPFKIT-GUEST-DONE $KERNEL after $(now) s"
poweroff -f
