#!/bin/sh
# Install the Debian packages needed to build, run and test bpfkit.
# Idempotent: installs only what is missing, and does nothing when all is there.
# Usage: scripts/setup.sh [build|test|bench|kernels|deb]   (default: build)
set -eu

BUILD="make clang llvm gcc libc6-dev pkg-config libbpf-dev libelf-dev \
zlib1g-dev bpftool libmicrohttpd-dev"
TEST="$BUILD python3 iproute2 nftables util-linux e2fsprogs prometheus \
bash-completion man-db strace clang libclang-rt-dev dpkg-dev debhelper fakeroot"
BENCH="$TEST libbpf-tools bpftrace"
KERNELS="$BUILD qemu-system-x86 busybox-static cpio kmod xz-utils"
DEB="$BUILD dpkg-dev debhelper fakeroot"

case "${1:-build}" in
build) want=$BUILD ;;
test) want=$TEST ;;
bench) want=$BENCH ;;
kernels) want=$KERNELS ;;
deb) want=$DEB ;;
all) want="$TEST $BENCH $KERNELS $DEB" ;;
*) echo "setup.sh: unknown set '$1' (build, test, bench, kernels, deb, all)" >&2
   exit 2 ;;
esac

missing=
for p in $want; do
	case " $missing " in *" $p "*) continue ;; esac
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "setup.sh: missing packages:$missing; run as root or install them" >&2
	exit 1
fi
echo "setup.sh: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# Refresh the package lists once per machine (or when older than a day).
stamp=/var/lib/apt/periodic/bpfkit-update-stamp
if [ ! -f "$stamp" ] || [ -n "$(find "$stamp" -mtime +0 2>/dev/null)" ]; then
	apt-get update -qq >&2
	mkdir -p "$(dirname "$stamp")" && touch "$stamp"
fi
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >&2
