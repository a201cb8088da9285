#!/bin/sh
# Build the userspace code (library, tools, unit tests) with AddressSanitizer
# and UndefinedBehaviorSanitizer into its own directory, then run the host
# test suite on that build. Any sanitizer report fails the run, even when
# the test that triggered it passed: reports go to files, not to the
# tool's stderr (the tests check stderr), and are printed at the end.
#
#   scripts/sanitize.sh [tests/test_x.py ...]
#   OUT=build-asan (default)  CC=clang (default)
#
# clang by default: its ASan and UBSan share one runtime, which honours
# log_path for both. With gcc (CC=gcc), UBSan reports ignore log_path and
# go to the tool's stderr, where only the failing test sees them.
#
# The BPF objects are the same as in a normal build; only the loader side
# is instrumented. Needs root, like the test suite.
set -eu
cd "$(dirname "$0")/.."

OUT=${OUT:-build-asan}
CC=${CC:-clang}
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
FLAGS="-O1 -g -fno-omit-frame-pointer $SAN"
LOGS=$(mktemp -d /tmp/bpfkit-sanitize.XXXXXX)
trap 'rm -rf "$LOGS"' EXIT

# CFLAGS from the environment: the Makefile appends its own flags to it
# (a CFLAGS= on make's command line would replace them).
# make does not rebuild for another compiler or other flags: start over.
if [ "$(cat "$OUT/.sanitize" 2>/dev/null)" != "$CC $FLAGS" ]; then
	rm -rf "$OUT"
	mkdir -p "$OUT"
	echo "$CC $FLAGS" >"$OUT/.sanitize"
fi
# The unit-test rule links "$^", which holds the headers its .d file
# lists: gcc ignores them, clang refuses ("cannot specify -o when
# generating multiple output files"). Without the .d files the rule sees
# only the source and the library (the units are then rebuilt only when
# those change).
rm -f "$OUT"/tests/*.d
CFLAGS="$FLAGS" make --no-print-directory CC="$CC" OUT="$OUT" \
	LDFLAGS="$SAN" tools unit

export ASAN_OPTIONS="log_path=$LOGS/asan:detect_leaks=1:abort_on_error=0:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="log_path=$LOGS/ubsan:print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-}"
status=0
BPFKIT_BUILD="$PWD/$OUT" python3 tests/run.py "$@" || status=$?

reports=$(find "$LOGS" -type f | sort)
if [ -n "$reports" ]; then
	echo "sanitize.sh: sanitizer reports:" >&2
	for f in $reports; do
		echo "---- $f" >&2
		cat "$f" >&2
	done
	[ "$status" -ne 0 ] || status=1
else
	echo "sanitize.sh: no sanitizer reports"
fi
exit "$status"
