#!/bin/sh
# Soak: run each event tool for a long time under sustained load and sample
# its resident memory and open file descriptors, to show they stay flat.
# Not part of CI (it takes SOAK_SECONDS per tool). Needs root.
#
#   scripts/soak.sh [TOOL...]        default: every built tool it knows
#   SOAK_SECONDS=600  time per tool      SOAK_SAMPLE=5  seconds per sample
#   BPFKIT_BUILD=build                   SOAK_OUT=build-soak (reports)
#   SOAK_CYCLES=100   teardown cycles per tool afterwards (0: none)
#
# Load: the benchmark suite's generators (bench/*_loop.c, built here), as
# fast as they go: openat+close for opensnoop, loopback connects for
# tcpconnect, 1-byte reads for readlat, 4 KiB O_DIRECT reads of a loop
# device for biolatency. Each tool writes its metrics to a file
# (--metrics-file) every sample, so the events it handled and lost are read
# from bpfkit_events_total and bpfkit_events_lost_total; the generators
# report the operations they made.
#
# Output: one line per sample (elapsed s, RSS KiB, fds, events/s handled,
# lost/s, load ops/s), then a verdict per tool: RSS and fds are "flat" when,
# after the first minute (or first fifth), neither grows by more than
# SOAK_RSS_SLACK_KB (default 1024) and the fd count does not change.
# Tables go to $SOAK_OUT/<tool>.tsv, the summary to $SOAK_OUT/summary.txt.
set -eu
cd "$(dirname "$0")/.."

BUILD=${BPFKIT_BUILD:-build}
SECONDS_EACH=${SOAK_SECONDS:-600}
SAMPLE=${SOAK_SAMPLE:-5}
OUTDIR=${SOAK_OUT:-build-soak}
CYCLES=${SOAK_CYCLES:-100}
SLACK=${SOAK_RSS_SLACK_KB:-1024}
CC=${CC:-cc}

[ "$(id -u)" = 0 ] || { echo "soak.sh: needs root" >&2; exit 1; }
mkdir -p "$OUTDIR/gen"
OUTDIR=$(cd "$OUTDIR" && pwd)
BUILD=$(cd "$BUILD" && pwd)

for g in open_loop connect_loop read_loop dio_loop; do
	if [ ! -x "$OUTDIR/gen/$g" ] || [ "bench/$g.c" -nt "$OUTDIR/gen/$g" ]
	then
		$CC -O2 -std=gnu11 -Ibench "bench/$g.c" -o "$OUTDIR/gen/$g"
	fi
done

tools=$*
if [ -z "$tools" ]; then
	for t in opensnoop tcpconnect readlat biolatency tcpretrans oomkill; do
		[ -x "$BUILD/$t" ] && tools="$tools $t"
	done
fi

WORK=$(mktemp -d /tmp/bpfkit-soak.XXXXXX)
LOOPDEV=
TOOL_PID=
GEN_PIDS=
cleanup() {
	for p in $GEN_PIDS; do kill "$p" 2>/dev/null || true; done
	[ -n "$TOOL_PID" ] && kill "$TOOL_PID" 2>/dev/null || true
	wait 2>/dev/null || true
	[ -n "$LOOPDEV" ] && losetup -d "$LOOPDEV" 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# The value of a sample line of a metrics file (0 when absent).
metric() {
	awk -v name="$1" '$1 ~ "^" name "([{]|$)" { s += $NF } END { print s + 0 }' \
		"$2" 2>/dev/null || echo 0
}

# Run a generator in chunks until killed; each chunk appends its
# "ns/op (N x what)" line to a log, from which the op rate is read.
start_gen() {
	log=$1
	shift
	(
		while :; do
			"$@" >>"$log" 2>/dev/null || sleep 0.1
		done
	) &
	GEN_PIDS="$GEN_PIDS $!"
}

# Operations the generators completed (sum of N in the chunk lines).
gen_ops() {
	sed -n 's/.*(\([0-9]*\) x .*/\1/p' "$1" 2>/dev/null |
		awk '{ s += $1 } END { print s + 0 }'
}

load_for() {
	case $1 in
	opensnoop)
		start_gen "$WORK/gen.log" "$OUTDIR/gen/open_loop" 200000 ;;
	tcpconnect)
		start_gen "$WORK/gen.log" "$OUTDIR/gen/connect_loop" 20000 ;;
	readlat)
		start_gen "$WORK/gen.log" "$OUTDIR/gen/read_loop" 1000000 ;;
	biolatency)
		dd if=/dev/zero of="$WORK/disk" bs=1M count=8 status=none
		LOOPDEV=$(losetup -f --show --direct-io=on "$WORK/disk")
		start_gen "$WORK/gen.log" "$OUTDIR/gen/dio_loop" 10000 \
			"$LOOPDEV" ;;
	*)
		# No way to make these events at a high rate (retransmits, OOM
		# kills): soak the tool idle, next to an open() load.
		start_gen "$WORK/gen.log" "$OUTDIR/gen/open_loop" 200000 ;;
	esac
}

# Tool-specific arguments: interval tools print every sample.
args_for() {
	case $1 in
	readlat|biolatency) echo "$SAMPLE" ;;
	*) echo "" ;;
	esac
}

summary="$OUTDIR/summary.txt"
: >"$summary"
status=0
for tool in $tools; do
	tsv="$OUTDIR/$tool.tsv"
	: >"$WORK/gen.log"
	GEN_PIDS=
	# shellcheck disable=SC2046
	"$BUILD/$tool" -v --metrics-file "$WORK/$tool.prom" $(args_for "$tool") \
		>/dev/null 2>"$WORK/$tool.err" &
	TOOL_PID=$!
	i=0
	until grep -q Tracing "$WORK/$tool.err" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 300 ] || ! kill -0 "$TOOL_PID" 2>/dev/null; then
			echo "soak.sh: $tool did not start:" >&2
			cat "$WORK/$tool.err" >&2
			exit 1
		fi
		sleep 0.1
	done
	load_for "$tool"
	printf 'elapsed_s\trss_kb\tfds\tevents_per_s\tlost_per_s\tload_ops_per_s\n' \
		>"$tsv"
	start=$(date +%s)
	prev_ev=0 prev_lost=0 prev_ops=0 prev_t=$start
	while :; do
		sleep "$SAMPLE"
		now=$(date +%s)
		kill -0 "$TOOL_PID" 2>/dev/null || {
			echo "soak.sh: $tool exited during the soak" >&2
			cat "$WORK/$tool.err" >&2
			status=1
			break
		}
		rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$TOOL_PID/status")
		fds=$(ls "/proc/$TOOL_PID/fd" | wc -l)
		ev=$(metric bpfkit_events_total "$WORK/$tool.prom")
		lost=$(metric bpfkit_events_lost_total "$WORK/$tool.prom")
		ops=$(gen_ops "$WORK/gen.log")
		dt=$((now - prev_t))
		[ "$dt" -gt 0 ] || dt=1
		printf '%d\t%s\t%s\t%d\t%d\t%d\n' $((now - start)) "$rss" "$fds" \
			$(((ev - prev_ev) / dt)) $(((lost - prev_lost) / dt)) \
			$(((ops - prev_ops) / dt)) | tee -a "$tsv"
		prev_ev=$ev prev_lost=$lost prev_ops=$ops prev_t=$now
		[ $((now - start)) -lt "$SECONDS_EACH" ] || break
	done
	for p in $GEN_PIDS; do kill "$p" 2>/dev/null || true; done
	wait $GEN_PIDS 2>/dev/null || true
	GEN_PIDS=
	t0=$(date +%s%N)
	kill -INT "$TOOL_PID" 2>/dev/null || true
	rc=0
	wait "$TOOL_PID" || rc=$?
	TOOL_PID=
	stop_ms=$((($(date +%s%N) - t0) / 1000000))
	[ -n "$LOOPDEV" ] && { losetup -d "$LOOPDEV"; LOOPDEV=; }

	# Flat: after the warm-up (first minute or first fifth), RSS within
	# SLACK KiB of its first value there, fds constant.
	verdict=$(awk -v slack="$SLACK" -v total="$SECONDS_EACH" '
		NR == 1 { next }
		{ n++; t[n] = $1; rss[n] = $2; fds[n] = $3; ev += $4; lost += $5;
		  ops += $6 }
		END {
			warm = total / 5 < 60 ? total / 5 : 60
			for (i = 1; i <= n && t[i] < warm; i++)
				;
			if (i > n) i = n
			base = rss[i]; lo = hi = base; flo = fhi = fds[i]
			for (; i <= n; i++) {
				if (rss[i] < lo) lo = rss[i]
				if (rss[i] > hi) hi = rss[i]
				if (fds[i] < flo) flo = fds[i]
				if (fds[i] > fhi) fhi = fds[i]
			}
			flat = (hi - base <= slack && fhi == flo) ? "flat" : "NOT FLAT"
			printf "%s: RSS %d..%d KiB after warm-up (first %d, last %d), " \
			       "fds %d..%d, mean %d events/s handled, %d lost/s, " \
			       "load %d ops/s", flat, lo, hi, rss[1], rss[n], flo,
			       fhi, ev / n, lost / n, ops / n
		}' "$tsv")
	final=$(grep -E '[0-9]+ events, [0-9]+ lost' "$WORK/$tool.err" | tail -1)
	line="$tool ($SECONDS_EACH s): $verdict; stopped by SIGINT in ${stop_ms} ms, exit $rc; $final"
	echo "$line" | tee -a "$summary"
	case $verdict in flat*) ;; *) status=1 ;; esac
	[ "$rc" = 0 ] || status=1
done

if [ "$CYCLES" -gt 0 ]; then
	echo "teardown cycles: $CYCLES per tool" | tee -a "$summary"
	# shellcheck disable=SC2046
	BPFKIT_BUILD=$BUILD BPFKIT_TEARDOWN_CYCLES=$CYCLES python3 tests/run.py \
		$(for t in $tools; do
			printf 'tests/test_hardening.py::test_teardown_cycles_%s ' "$t"
		done) >"$OUTDIR/cycles.log" 2>&1 || status=1
	grep -E '^(PASS|FAIL|SKIP)|cycles in|passed' "$OUTDIR/cycles.log" |
		tee -a "$summary"
fi
exit $status
