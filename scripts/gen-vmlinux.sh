#!/bin/sh
# Regenerate vmlinux/<arch>/vmlinux.h from a kernel's BTF. The result is
# committed, so building never needs BTF on the build machine.
# Usage: scripts/gen-vmlinux.sh [BTF_FILE]   (default /sys/kernel/btf/vmlinux)
set -eu
btf=${1:-/sys/kernel/btf/vmlinux}
arch=$(uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
dir=$(dirname "$0")/../vmlinux/$arch
[ -r "$btf" ] || { echo "gen-vmlinux.sh: cannot read BTF at $btf" >&2; exit 1; }
mkdir -p "$dir"
bpftool btf dump file "$btf" format c > "$dir/vmlinux.h.tmp"
mv "$dir/vmlinux.h.tmp" "$dir/vmlinux.h"
echo "wrote $dir/vmlinux.h"
