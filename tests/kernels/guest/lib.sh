# Helpers for the guest smoke tests (busybox sh), sourced by guest/TOOL.sh.
#
# A smoke test runs one tool with one attach mechanism:
#   tool_start NAME ARGS...   start it, wait for its "Tracing" line
#   ...cause a real event, wait_for it in $OUT...
#   tool_stop                 SIGINT, must exit 0
#   check_clean               no BPF program, link or probe left behind
#   pass [NOTE]
# Exit status: 0 pass, 1 fail, 77 skip (the tool has no program for this
# mechanism). The last line not starting with a space is the reason the
# guest's /init reports; tool output is shown indented.

BIN=${BPFKIT_BIN:-/bin}
TOOL=
TOOL_PID=
OUT=
ERR=
BPF_BEFORE=
DURING=

pass() { echo "${1:-}${DURING:+, $DURING while tracing}"; exit 0; }
skip() { echo "$1"; exit 77; }
fail() {
	if [ -n "$OUT" ]; then
		echo "  --- stdout of $TOOL (last 40 lines):"
		tail -n 40 "$OUT" | sed 's/^/  /'
		echo "  --- stderr of $TOOL:"
		tail -n 20 "$ERR" | sed 's/^/  /'
	fi
	echo "$1"
	exit 1
}

# Is PID still running (not gone, not a zombie)?
alive() {
	[ -r "/proc/$1/stat" ] &&
		! grep -q '^[0-9]* ([^)]*) Z' "/proc/$1/stat" 2>/dev/null
}

# Kill the tool if a test ends early, then run the test's own $CLEANUP.
CLEANUP=
cleanup() {
	if [ -n "$TOOL_PID" ]; then
		kill -KILL "$TOOL_PID" 2>/dev/null
		wait "$TOOL_PID" 2>/dev/null
	fi
	rm -f /tmp/tool.pid
	eval "$CLEANUP"
}
trap cleanup EXIT

# Does this one error line say only that the tool has no program for the
# allowed mechanism ("cannot attach H: m1: not allowed by --attach; ...")?
not_implemented() {
	echo "$1" | awk '{
		if (!sub(/^[^:]*: cannot attach [^:]*: /, ""))
			exit 1
		n = split($0, alt, "; ")
		for (i = 1; i <= n; i++)
			if (alt[i] !~ /^[a-z_]+: not allowed by --attach$/)
				exit 1
	}'
}

# wait_for FILE STRING SECONDS: until FILE contains STRING (fixed string).
wait_for() {
	i=0
	while ! grep -qF -- "$2" "$1" 2>/dev/null; do
		i=$((i + 1))
		[ "$i" -le $(($3 * 10)) ] || return 1
		sleep 0.1
	done
}

# hist_total FILE: the samples in the histograms of FILE (NDJSON): the
# sum over lines of each line's first "count" (the histogram's total; the
# per-bucket counts follow it).
hist_total() {
	awk '{
		if (match($0, /"count":[0-9]+/))
			n += substr($0, RSTART + 8, RLENGTH - 8)
	} END { print n + 0 }' "$1"
}

# tool_start NAME ARGS...: start the tool in the background with its
# stdout in $OUT and stderr in $ERR, and wait for its "Tracing" line.
tool_start() {
	TOOL=$1
	shift
	OUT=/tmp/$TOOL.out
	ERR=/tmp/$TOOL.err
	# Empty them now: the background job truncates them only once it
	# runs, and a stale "Tracing" line must not be taken for this run's.
	: >"$OUT"
	: >"$ERR"
	BPF_BEFORE=$("$BIN/bpfcount") || fail "bpfcount failed"
	# A script's background job starts with SIGINT ignored (no job
	# control without a tty); the tools block SIGINT and read it from a
	# signalfd, and a blocked signal is delivered even when ignored.
	"$BIN/$TOOL" "$@" >"$OUT" 2>"$ERR" </dev/null &
	TOOL_PID=$!
	echo "$TOOL_PID" >/tmp/tool.pid
	i=0
	while ! grep -q '^Tracing' "$ERR"; do
		if ! alive "$TOOL_PID"; then
			wait "$TOOL_PID"
			rc=$?
			TOOL_PID=
			lines=$(wc -l <"$ERR")
			line=$(head -n 1 "$ERR")
			if [ "$rc" = 1 ] && [ "$lines" = 1 ] &&
				not_implemented "$line"; then
				OUT=
				skip "$line"
			fi
			fail "$TOOL $* exited $rc before its Tracing line"
		fi
		i=$((i + 1))
		[ "$i" -le 900 ] || fail "$TOOL $*: no Tracing line in 90 s"
		sleep 0.1
	done
	# check_clean can only fail if the counter sees the tool's programs.
	DURING=$("$BIN/bpfcount") || fail "bpfcount failed"
	[ "$DURING" != "$BPF_BEFORE" ] ||
		fail "$TOOL is tracing but bpfcount still says '$DURING'"
}

# tool_stop: SIGINT; the tool must exit 0 within 10 s.
tool_stop() {
	kill -INT "$TOOL_PID"
	i=0
	while alive "$TOOL_PID"; do
		i=$((i + 1))
		[ "$i" -le 100 ] || fail "$TOOL still running 10 s after SIGINT"
		sleep 0.1
	done
	wait "$TOOL_PID"
	rc=$?
	TOOL_PID=
	rm -f /tmp/tool.pid
	[ "$rc" = 0 ] || fail "$TOOL exited $rc on SIGINT"
}

# check_clean: the kernel holds as many BPF programs and links as before
# the tool started (freeing may lag the exit a little: retry for 5 s), and
# no kprobe or uprobe event is left in tracefs.
check_clean() {
	i=0
	while :; do
		after=$("$BIN/bpfcount") || fail "bpfcount failed"
		[ "$after" != "$BPF_BEFORE" ] || break
		i=$((i + 1))
		[ "$i" -le 50 ] ||
			fail "left behind: before '$BPF_BEFORE', after '$after'"
		sleep 0.1
	done
	for f in kprobe_events uprobe_events; do
		f=/sys/kernel/tracing/$f
		if [ -s "$f" ]; then
			sed 's/^/  /' "$f"
			fail "$f not empty after $TOOL exited"
		fi
	done
}
