// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * readlat: latency (and size) histograms of read-family system calls.
 *
 * Cheap by design, since read() is among the hottest syscalls: the start
 * time lives in task-local storage (no shared hash map keyed by thread,
 * whose update, lookup and delete cost more than the hooks themselves),
 * filters run at entry so untraced reads cost one check, and the
 * histogram is aggregated in place per CPU.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include "kit.bpf.h"
#include "hist.bpf.h"
#include "readlat.h"

const volatile bool targ_per_process = false;
const volatile bool targ_size = false;
const volatile __u64 targ_unit_ns = 1;

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
} start SEC(".maps");

HIST_MAP(hists, struct readlat_key, 1024);	/* -P */
HIST_ARRAY(totals, 3);				/* by enum readlat_kind */

static __always_inline void on_enter(void)
{
	__u64 *ts;

	if (!kit_filter_current(bpf_get_current_pid_tgid()))
		return;
	ts = bpf_task_storage_get(&start, bpf_get_current_task_btf(), 0,
				  BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (ts)
		*ts = bpf_ktime_get_ns();
	else	/* no memory, or the storage busy on this CPU: say so */
		kit_stat_inc(KIT_STAT_LOST);
}

static __always_inline void on_exit(long ret)
{
	struct readlat_key key = {};
	__u64 *ts, t0;

	ts = bpf_task_storage_get(&start, bpf_get_current_task_btf(), 0,
				  BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!ts) {
		kit_stat_inc(KIT_STAT_LOST);
		return;
	}
	if (!*ts)	/* entered before we attached, or not traced */
		return;
	t0 = *ts;
	*ts = 0;
	t0 = (bpf_ktime_get_ns() - t0) / targ_unit_ns;
	if (!targ_per_process) {
		hist_add_slot(&totals, 3,
			      ret < 0 ? READLAT_FAILED : READLAT_OK, t0);
		if (targ_size && ret >= 0)
			hist_add_slot(&totals, 3, READLAT_SIZE, ret);
		return;
	}
	key.gen = hist_current_gen();
	key.tgid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(key.comm, sizeof(key.comm));
	key.kind = ret < 0 ? READLAT_FAILED : READLAT_OK;
	hist_add(&hists, &key, t0);
	if (targ_size && ret >= 0) {
		key.kind = READLAT_SIZE;
		hist_add(&hists, &key, ret);
	}
}

#define READ_PROGS(name)                                                     \
	SEC("tracepoint/syscalls/sys_enter_" #name)                          \
	int enter_##name(void *ctx)                                          \
	{                                                                    \
		on_enter();                                                  \
		return 0;                                                    \
	}                                                                    \
	SEC("tracepoint/syscalls/sys_exit_" #name)                           \
	int exit_##name(struct trace_event_raw_sys_exit *ctx)                \
	{                                                                    \
		on_exit(ctx->ret);                                           \
		return 0;                                                    \
	}

READ_PROGS(read)
READ_PROGS(readv)
READ_PROGS(pread64)
READ_PROGS(preadv)
READ_PROGS(preadv2)
READ_PROGS(recvfrom)
READ_PROGS(recvmsg)

char LICENSE[] SEC("license") = "Dual BSD/GPL";
