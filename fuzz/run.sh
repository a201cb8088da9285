#!/bin/sh
# Build the libFuzzer targets (fuzz/fuzz_*.c) with clang and ASan+UBSan
# into build-fuzz/, then run each for a bounded time from its seed corpus
# in fuzz/corpus/<target>/. Exit status 1 if any target found a fault; the
# reproducer is kept in build-fuzz/artifacts/<target>/.
#
#   fuzz/run.sh [-t SECONDS] [-b] [TARGET...]
#     -t SECONDS  time per target (default 20, or $FUZZ_SECONDS)
#     -b          build only
#   OUT=build-fuzz  CLANG=clang
#
# New inputs that add coverage go to build-fuzz/corpus/<target>/ (never to
# the seed corpus in the repository); `fuzz/run.sh -m` merges them back
# into fuzz/corpus/ when you mean to keep them.
set -eu
cd "$(dirname "$0")/.."

OUT=${OUT:-build-fuzz}
CLANG=${CLANG:-clang}
SECONDS_EACH=${FUZZ_SECONDS:-20}
BUILD_ONLY=0
MERGE=0
while getopts t:bm opt; do
	case $opt in
	t) SECONDS_EACH=$OPTARG ;;
	b) BUILD_ONLY=1 ;;
	m) MERGE=1 ;;
	*) echo "usage: fuzz/run.sh [-t SECONDS] [-b] [-m] [TARGET...]" >&2
	   exit 2 ;;
	esac
done
shift $((OPTIND - 1))

SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
CFLAGS="-g -O1 -fno-omit-frame-pointer -std=gnu11 -D_GNU_SOURCE -Ilib -Ibpf \
-Ifuzz $(pkg-config --cflags libbpf 2>/dev/null) -Wall -Wextra \
-Wno-unused-parameter -Wno-missing-field-initializers"
LIBS="$(pkg-config --libs libbpf 2>/dev/null || echo -lbpf) -lelf -lz \
$(pkg-config --libs libmicrohttpd 2>/dev/null) -lm"

mkdir -p "$OUT/lib"
# The library, instrumented for coverage; rebuilt when a source is newer.
objs=
for src in lib/*.c; do
	obj="$OUT/lib/$(basename "$src" .c).o"
	if [ ! -f "$obj" ] || [ -n "$(find lib -newer "$obj" -name '*.[ch]')" ]
	then
		echo "  CC       $obj"
		# shellcheck disable=SC2086
		$CLANG $CFLAGS $SAN -fsanitize=fuzzer-no-link -c "$src" -o "$obj"
	fi
	objs="$objs $obj"
done

targets=$*
[ -n "$targets" ] ||
	targets=$(for f in fuzz/fuzz_*.c; do basename "$f" .c; done)
for t in $targets; do
	echo "  LD       $OUT/$t"
	# shellcheck disable=SC2086
	$CLANG $CFLAGS -Werror $SAN -fsanitize=fuzzer "fuzz/$t.c" $objs $LIBS \
		-o "$OUT/$t"
done
[ "$BUILD_ONLY" = 0 ] || exit 0

failed=
for t in $targets; do
	mkdir -p "$OUT/corpus/$t" "$OUT/artifacts/$t" "fuzz/corpus/$t"
	if [ "$MERGE" = 1 ]; then
		"$OUT/$t" -merge=1 "fuzz/corpus/$t" "$OUT/corpus/$t" \
			>"$OUT/$t.merge.log" 2>&1
		echo "$t: merged into fuzz/corpus/$t" \
			"($(ls "fuzz/corpus/$t" | wc -l) inputs)"
		continue
	fi
	opts=
	[ -f "fuzz/$t.options" ] && opts=$(cat "fuzz/$t.options")
	log="$OUT/$t.log"
	# shellcheck disable=SC2086
	if "$OUT/$t" -max_total_time="$SECONDS_EACH" -timeout=10 \
		-rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$OUT/artifacts/$t/" $opts \
		"$OUT/corpus/$t" "fuzz/corpus/$t" >"$log" 2>&1; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
		cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
		echo "$t: ok, $runs runs in ${SECONDS_EACH}s, $cov"
	else
		echo "$t: FAILED (log $log, reproducer in $OUT/artifacts/$t/)"
		grep -E 'check failed|ERROR|SUMMARY|runtime error' "$log" |
			head -5
		failed="$failed $t"
	fi
done
[ -z "$failed" ] || { echo "fuzz/run.sh: failed:$failed" >&2; exit 1; }
