#!/bin/sh
# Kernel matrix: boot other kernels under QEMU (TCG) and run every tool's
# smoke test once per attach mechanism, so that the kprobe and fentry paths
# our own kernel cannot run are exercised somewhere.
#
# Usage: tests/kernels/run.sh [KERNEL...]          (default: 6.1 6.12)
#   KERNEL is one of
#   - a Debian kernel series (6.1, 6.12): the newest linux-image-*-amd64-
#     unsigned package of that series is fetched with apt-get download (never
#     installed), unpacked, and cached;
#   - a directory holding an unpacked kernel package (boot/vmlinuz-* and
#     lib/modules/VERSION/, e.g. from dpkg-deb -x or rpm2cpio);
#   - a bzImage/vmlinuz file (then no modules: tests needing one SKIP).
# Environment:
#   BPFKIT_KERNEL_CACHE  unpacked kernels, the tools' build and the last
#                        guest logs (default build/kernels; reused)
#   BPFKIT_TOOLS         tools to test (default: all of them)
#   BPFKIT_MECHS         attach mechanisms to try, in order (default:
#                        tp_btf raw_tp tracepoint fentry kprobe)
#   BPFKIT_QEMU_TIMEOUT  seconds one guest may run (default 400)
#
# Prints the guests' "RESULT <kernel> <tool> <mech> PASS|FAIL|SKIP <reason>"
# lines, then "N passed, N failed, N skipped"; exits 1 if anything failed.
set -eu

cd "$(dirname "$0")/../.."
HERE=tests/kernels
CACHE=${BPFKIT_KERNEL_CACHE:-build/kernels}
BINDIR=$CACHE/bin
TOOLS=${BPFKIT_TOOLS:-opensnoop tcpconnect tcpretrans biolatency readlat oomkill}
MECHS=${BPFKIT_MECHS:-tp_btf raw_tp tracepoint fentry kprobe}
QEMU_TIMEOUT=${BPFKIT_QEMU_TIMEOUT:-400}
TEST_TIMEOUT=90
# Modules packed into the guest (with their dependencies), if the kernel
# builds them as modules: a blk-mq device for the block-I/O tools.
KMODS="null_blk loop"

log() { echo "run.sh: $*" >&2; }
die() { log "$*"; exit 1; }

TMP=$(mktemp -d /tmp/bpfkit-kernels.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM

scripts/setup.sh kernels
mkdir -p "$CACHE/logs"

# unpack_modules ROOT DEST: copy the guest's modules (decompressed, since
# busybox insmod cannot decompress) and the order to load them in.
unpack_modules() {
	mdir=$(find "$1/lib/modules" -mindepth 1 -maxdepth 1 -type d \
		2>/dev/null | head -n 1)
	mkdir -p "$2/kmod"
	: >"$2/kmod/order"
	[ -n "$mdir" ] || return 0
	ver=$(basename "$mdir")
	[ -f "$mdir/modules.dep" ] || depmod -b "$1" "$ver"
	# shellcheck disable=SC2086
	modprobe -d "$1" -S "$ver" --show-depends -a $KMODS 2>/dev/null |
	while read -r cmd path _; do
		[ "$cmd" = insmod ] || continue
		name=$(basename "$path")
		case $name in
		*.xz) name=${name%.xz}; xz -dc "$path" >"$2/kmod/$name" ;;
		*.zst) name=${name%.zst}; zstd -qdc "$path" >"$2/kmod/$name" ;;
		*.gz) name=${name%.gz}; gzip -dc "$path" >"$2/kmod/$name" ;;
		*) cp "$path" "$2/kmod/$name" ;;
		esac
		grep -qx "$name" "$2/kmod/order" || echo "$name" >>"$2/kmod/order"
	done
}

# prepare ROOT DEST: DEST/vmlinuz and DEST/kmod from an unpacked package.
prepare() {
	rm -rf "$2.tmp"
	mkdir -p "$2.tmp"
	vmlinuz=$(find "$1/boot" -maxdepth 1 -name 'vmlinuz-*' | head -n 1)
	[ -n "$vmlinuz" ] || die "no boot/vmlinuz-* in $1"
	cp "$vmlinuz" "$2.tmp/vmlinuz"
	unpack_modules "$1" "$2.tmp"
	rm -rf "$2"
	mv "$2.tmp" "$2"
}

# debian_kernel SERIES: print the cache directory of the newest Debian
# kernel of that series, downloading it only if none is cached.
debian_kernel() {
	re="^linux-image-$(echo "$1" | sed 's/\./\\./g')"
	re="${re}[.-][0-9.]*-?[0-9]*(\+deb[0-9]+)?-amd64-unsigned\$"
	cached=$(find "$CACHE" -mindepth 1 -maxdepth 1 -type d \
		-name 'linux-image-*' -exec test -f '{}/vmlinuz' ';' -print |
		while read -r d; do
			basename "$d" | grep -Eq "$re" && echo "$d"
		done | sort -V | tail -n 1)
	if [ -n "$cached" ]; then
		echo "$cached"
		return
	fi
	pkgs() {
		apt-cache search --names-only '^linux-image-' | cut -d' ' -f1 |
			grep -E "$re" | sort -V | tail -n 1
	}
	pkg=$(pkgs)
	if [ -z "$pkg" ] && [ "$(id -u)" = 0 ]; then
		apt-get update -qq >&2
		pkg=$(pkgs)
	fi
	[ -n "$pkg" ] || die "no Debian package for kernel $1 (apt-cache search linux-image)"
	log "fetching $pkg"
	mkdir -p "$TMP/deb"
	(cd "$TMP/deb" && apt-get download -q "$pkg" >&2 2>/dev/null) ||
		(cd "$TMP/deb" && apt-get download "$pkg" >&2) ||
		die "apt-get download $pkg failed"
	dpkg-deb -x "$TMP"/deb/*.deb "$TMP/deb/root"
	prepare "$TMP/deb/root" "$CACHE/$pkg"
	rm -rf "$TMP/deb"
	echo "$CACHE/$pkg"
}

# kernel_dir KERNEL: a directory with vmlinuz and kmod/ for this argument.
kernel_dir() {
	if [ -f "$1" ]; then
		d=$TMP/k.$(basename "$1")
		mkdir -p "$d/kmod"
		cp "$1" "$d/vmlinuz"
		: >"$d/kmod/order"
		echo "$d"
	elif [ -d "$1" ]; then
		d=$TMP/k.$(basename "$1")
		prepare "$1" "$d"
		echo "$d"
	else
		debian_kernel "$1"
	fi
}

# Every tool that exists, built as users get it (the tools link
# libmicrohttpd, whose gnutls needs p11-kit, which Debian ships only as a
# shared library: no static build), and the static BPF object counter.
FAILED_BUILDS=
build_tools() {
	mkdir -p "$BINDIR"
	${CC:-cc} -std=gnu11 -O2 -Wall -Wextra -Werror -static \
		"$HERE/bpfcount.c" -o "$BINDIR/bpfcount"
	for t in $TOOLS; do
		[ -f "tools/$t.c" ] || continue
		if ! make -s OUT="$BINDIR" "$BINDIR/$t" >"$TMP/make.$t" 2>&1
		then
			log "build of $t failed:"
			tail -n 20 "$TMP/make.$t" >&2
			FAILED_BUILDS="$FAILED_BUILDS $t"
		fi
	done
}

# initramfs KDIR OUT: busybox, /init, the smoke tests, the binaries and
# this kernel's modules, as an uncompressed newc cpio (nothing to inflate
# under TCG).
initramfs() {
	r=$TMP/root
	rm -rf "$r"
	mkdir -p "$r/bin" "$r/dev" "$r/proc" "$r/sys" "$r/tmp" "$r/etc" \
		"$r/tests" "$r/lib/kmod" "$r/root"
	cp /bin/busybox "$r/bin/busybox"
	for applet in $(/bin/busybox --list); do
		[ -e "$r/bin/$applet" ] || ln -s busybox "$r/bin/$applet"
	done
	cp "$HERE/init.sh" "$r/init"
	chmod 755 "$r/init"
	cp "$HERE"/guest/*.sh "$r/tests/" 2>/dev/null || true
	strip -o "$r/bin/bpfcount" "$BINDIR/bpfcount"
	for t in $TOOLS; do
		case " $FAILED_BUILDS " in *" $t "*) continue ;; esac
		if [ ! -f "tools/$t.c" ] || [ ! -x "$BINDIR/$t" ]; then
			continue
		fi
		strip -o "$r/bin/$t" "$BINDIR/$t"
		# The shared libraries it needs, at the paths the loader wants.
		ldd "$BINDIR/$t" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }
			$1 ~ /^\// { print $1 }' |
		while read -r lib; do
			[ -e "$r$lib" ] && continue
			mkdir -p "$r$(dirname "$lib")"
			cp -L "$lib" "$r$lib"
		done
	done
	cp "$1"/kmod/* "$r/lib/kmod/"
	cat >"$r/etc/bpfkit.conf" <<-EOF
	TOOLS="$TOOLS"
	MECHS="$MECHS"
	TEST_TIMEOUT=$TEST_TIMEOUT
	FAILED_BUILDS="$FAILED_BUILDS"
	EOF
	(cd "$r" && find . | cpio -o -H newc --quiet) >"$2"
	rm -rf "$r"
}

[ $# -gt 0 ] || set -- 6.1 6.12
build_tools
: >"$TMP/results"
for k in "$@"; do
	kdir=$(kernel_dir "$k") || exit 1
	label=$(basename "$kdir")
	initramfs "$kdir" "$TMP/initramfs.cpio"
	# A guest kernel that panics before the end (seen once in a kmalloc
	# under TCG, in code of the kernel's own) is booted once more; the
	# panic is reported and its log kept as $label.panic.log.
	for attempt in 1 2; do
		log "booting $label"
		t0=$(date +%s.%N)
		rc=0
		timeout "$QEMU_TIMEOUT" qemu-system-x86_64 -accel tcg -m 1G \
			-smp 2 -nographic -no-reboot -kernel "$kdir/vmlinuz" \
			-initrd "$TMP/initramfs.cpio" \
			-append "console=ttyS0 panic=-1 quiet" \
			</dev/null >"$TMP/serial" 2>&1 || rc=$?
		t1=$(date +%s.%N)
		# Drop carriage returns and the firmware's terminal escapes.
		tr -d '\r' <"$TMP/serial" |
			sed 's/\x1b\[[0-9;?]*[A-Za-z]//g; s/\x1bc//g' \
			>"$CACHE/logs/$label.log"
		if [ "$attempt" = 1 ] &&
			! grep -q '^BPFKIT-GUEST-DONE ' "$CACHE/logs/$label.log" &&
			grep -q 'Kernel panic' "$CACHE/logs/$label.log"; then
			mv "$CACHE/logs/$label.log" "$CACHE/logs/$label.panic.log"
			log "$label: the guest kernel panicked" \
				"($CACHE/logs/$label.panic.log); once more"
			continue
		fi
		break
	done
	rm -f "$TMP/initramfs.cpio" "$TMP/serial"
	grep -A 1000 '^RESULT .* FAIL ' "$CACHE/logs/$label.log" |
		grep '^    | ' >&2 || true
	# The firmware leaves no newline before the guest's first line.
	done_line=$(grep '^BPFKIT-GUEST-DONE ' "$CACHE/logs/$label.log" || true)
	start_line=$(grep -o 'BPFKIT-GUEST-START .*' "$CACHE/logs/$label.log" ||
		true)
	# Name the kernel as the guest does (its release), else as we do.
	release=$(echo "${start_line#BPFKIT-GUEST-START }" | cut -d' ' -f1)
	[ -n "$release" ] || release=$label
	grep '^RESULT ' "$CACHE/logs/$label.log" | tee -a "$TMP/results" || true
	for t in $FAILED_BUILDS; do
		echo "RESULT $release $t - FAIL build failed (make, above)" |
			tee -a "$TMP/results"
	done
	if [ -z "$done_line" ]; then
		why="no BPFKIT-GUEST-DONE line (qemu exit $rc)"
		[ "$rc" = 124 ] && why="guest killed after ${QEMU_TIMEOUT}s"
		echo "RESULT $release guest - FAIL $why; see $CACHE/logs/$label.log" |
			tee -a "$TMP/results"
		tail -n 30 "$CACHE/logs/$label.log" >&2
	fi
	log "$label: ${start_line#BPFKIT-GUEST-START }; qemu ran" \
		"$(awk "BEGIN { printf \"%.1f\", $t1 - $t0 }") s"
done

passed=$(grep -c '^RESULT [^ ]* [^ ]* [^ ]* PASS' "$TMP/results" || true)
failed=$(grep -c '^RESULT [^ ]* [^ ]* [^ ]* FAIL' "$TMP/results" || true)
skipped=$(grep -c '^RESULT [^ ]* [^ ]* [^ ]* SKIP' "$TMP/results" || true)
# The matrix as a Markdown table (tool x mechanism by kernel), for README.
awk '
	!($3 SUBSEP $4 in seen) { seen[$3, $4] = 1; rows[++nr] = $3 SUBSEP $4 }
	!($2 in kseen) { kseen[$2] = 1; ks[++nk] = $2 }
	{ cell[$3, $4, $2] = ($5 == "SKIP" ? "-" : $5) }
	END {
		printf "| tool | mechanism |"
		for (k = 1; k <= nk; k++) printf " %s |", ks[k]
		printf "\n|---|---|"
		for (k = 1; k <= nk; k++) printf "---|"
		printf "\n"
		for (r = 1; r <= nr; r++) {
			split(rows[r], tm, SUBSEP)
			printf "| %s | %s |", tm[1], tm[2]
			for (k = 1; k <= nk; k++) {
				c = cell[tm[1], tm[2], ks[k]]
				printf " %s |", c == "" ? "?" : c
			}
			printf "\n"
		}
	}' "$TMP/results" >"$CACHE/matrix.md"
log "table of this run: $CACHE/matrix.md; guest logs: $CACHE/logs/"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
