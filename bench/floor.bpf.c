// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The floor: empty programs, one per attach mechanism. The loader attaches
 * each to the hooks a tool uses, so that what remains of a tool's cost above
 * this is the cost of its own work, not of being attached at all.
 *
 * No target in the section names: the loader picks it at run time.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("tp")
int floor_tp(void *ctx)
{
	return 0;
}

SEC("raw_tp")
int floor_raw_tp(void *ctx)
{
	return 0;
}

SEC("tp_btf")
int floor_tp_btf(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
