/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * BPF side of the common library: the event ring buffer with lost-event
 * accounting, the common filters (pid, tid, uid, comm, cgroup) and the
 * fork/exit tracking behind "-- COMMAND". Include once per tool, after
 * vmlinux.h and the libbpf headers.
 */
#ifndef KIT_BPF_H
#define KIT_BPF_H

#include "kit_common.h"

const volatile struct kit_cfg kit_cfg = {
	.targ_uid = (unsigned int)-1,
	.rb_wakeup_bytes = 64 * 1024,
};

/* Size set by the loader (bpf_map__set_max_entries) before load. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} kit_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KIT_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} kit_stats SEC(".maps");

/* Traced thread-group ids: -p PIDs, or the -- COMMAND and its descendants. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KIT_MAX_PIDS);
	__type(key, __u32);
	__type(value, __u8);
} kit_pids SEC(".maps");

static __always_inline void kit_stat_inc(enum kit_stat stat)
{
	__u32 key = stat;
	__u64 *val = bpf_map_lookup_elem(&kit_stats, &key);

	if (val)
		*val += 1;
}

/*
 * The value of key in a hash map, inserted from init when absent (by us or
 * by a program racing us on another CPU). NULL only when the map is full.
 */
static __always_inline void *kit_map_lookup_or_init(void *map,
						    const void *key,
						    const void *init)
{
	void *val = bpf_map_lookup_elem(map, key);

	if (val)
		return val;
	bpf_map_update_elem(map, key, init, BPF_NOEXIST);
	return bpf_map_lookup_elem(map, key);
}

/* Reserve an event; a full buffer is counted, never silently dropped. */
static __always_inline void *kit_event_reserve(__u32 size)
{
	void *e = bpf_ringbuf_reserve(&kit_events, size, 0);

	if (!e)
		kit_stat_inc(KIT_STAT_LOST);
	return e;
}

/*
 * Submit without waking the reader: it drains on its own schedule, so an
 * event costs no wakeup. Only when the buffer is filling up do we wake it.
 */
static __always_inline void kit_event_submit(void *e)
{
	__u64 avail = bpf_ringbuf_query(&kit_events, BPF_RB_AVAIL_DATA);
	__u64 flags = avail > kit_cfg.rb_wakeup_bytes ? BPF_RB_FORCE_WAKEUP :
							  BPF_RB_NO_WAKEUP;

	bpf_ringbuf_submit(e, flags);
}

/*
 * Copy size bytes of an event built elsewhere (a per-CPU scratch buffer)
 * into the ring buffer: for events whose useful size is known only once
 * they are built (a path), so that only the bytes used travel.
 */
static __always_inline void kit_event_output(void *e, __u64 size)
{
	__u64 avail = bpf_ringbuf_query(&kit_events, BPF_RB_AVAIL_DATA);
	__u64 flags = avail > kit_cfg.rb_wakeup_bytes ? BPF_RB_FORCE_WAKEUP :
							  BPF_RB_NO_WAKEUP;

	if (bpf_ringbuf_output(&kit_events, e, size, flags))
		kit_stat_inc(KIT_STAT_LOST);
}

static __always_inline void kit_event_discard(void *e)
{
	bpf_ringbuf_discard(e, BPF_RB_NO_WAKEUP);
}

static __always_inline bool kit_comm_matches(void)
{
	char comm[KIT_COMM_LEN];
	int i;

	bpf_get_current_comm(comm, sizeof(comm));
#pragma unroll
	for (i = 0; i < KIT_COMM_LEN; i++) {
		if (comm[i] != kit_cfg.comm[i])
			return false;
		if (!comm[i])
			break;
	}
	return true;
}

/*
 * --cgroup. On cgroup v2 the kernel answers directly (the cgroup's fd is in
 * kit_cgroup). On v1 there is no such helper: the processes of the cgroup
 * and its descendants are kept in kit_cg_pids, seeded from cgroup.procs by
 * the loader and kept current by the fork, exit and cgroup_attach_task
 * programs below, which are loaded only then. This keeps CO-RE relocations
 * of cgroup internals out of every tool's hot programs (each relocated type
 * costs start-up time).
 */
struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} kit_cgroup SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KIT_MAX_PIDS);
	__type(key, __u32);
	__type(value, __u8);
} kit_cg_pids SEC(".maps");

static __always_inline bool kit_cgroup_matches(__u32 tgid)
{
	if (kit_cfg.cgroup_v2)
		return bpf_current_task_under_cgroup(&kit_cgroup, 0) == 1;
	return bpf_map_lookup_elem(&kit_cg_pids, &tgid) != NULL;
}

/*
 * The common filters, cheapest first. Call in the context of the task the
 * event belongs to; every disabled filter is removed by the verifier.
 */
static __always_inline bool kit_filter_current(__u64 pid_tgid)
{
	__u32 tgid = pid_tgid >> 32;

	if (kit_cfg.targ_tid && (__u32)pid_tgid != kit_cfg.targ_tid)
		return false;
	if (kit_cfg.targ_uid != (unsigned int)-1 &&
	    (__u32)bpf_get_current_uid_gid() != kit_cfg.targ_uid)
		return false;
	if (kit_cfg.filter_pid && !bpf_map_lookup_elem(&kit_pids, &tgid))
		return false;
	if (kit_cfg.filter_comm && !kit_comm_matches())
		return false;
	if (kit_cfg.filter_cgroup && !kit_cgroup_matches(tgid))
		return false;
	return true;
}

/*
 * Process sets that follow forks: kit_pids for -- COMMAND, kit_cg_pids for
 * a v1 --cgroup. Programs kit_fork_*, kit_exit_*, kit_cgattach_*.
 */
static __always_inline void kit_track_fork(struct task_struct *parent,
					   struct task_struct *child)
{
	__u32 ptgid = BPF_CORE_READ(parent, tgid);
	__u32 ctgid = BPF_CORE_READ(child, tgid);
	__u8 one = 1;

	if (ptgid == ctgid)
		return;
	if (kit_cfg.follow_forks && bpf_map_lookup_elem(&kit_pids, &ptgid))
		bpf_map_update_elem(&kit_pids, &ctgid, &one, BPF_ANY);
	if (kit_cfg.filter_cgroup && !kit_cfg.cgroup_v2 &&
	    bpf_map_lookup_elem(&kit_cg_pids, &ptgid))
		bpf_map_update_elem(&kit_cg_pids, &ctgid, &one, BPF_ANY);
}

static __always_inline void kit_track_exit(struct task_struct *task)
{
	__u32 tgid = BPF_CORE_READ(task, tgid);

	/* Forget the process once its last thread is gone. */
	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return;
	if (kit_cfg.follow_forks)
		bpf_map_delete_elem(&kit_pids, &tgid);
	if (kit_cfg.filter_cgroup && !kit_cfg.cgroup_v2)
		bpf_map_delete_elem(&kit_cg_pids, &tgid);
}

/* A process moved into (or out of) a cgroup of the filter's v1 hierarchy. */
static __always_inline void kit_track_attach(struct cgroup *dst,
					     struct task_struct *task)
{
	__u32 tgid = BPF_CORE_READ(task, tgid);
	__u8 one = 1;
	int i;

	if (BPF_CORE_READ(dst, root, hierarchy_id) != kit_cfg.cgroup_hierarchy)
		return;
	for (i = 0; i < KIT_CGROUP_DEPTH && dst; i++) {
		if (BPF_CORE_READ(dst, kn, id) == kit_cfg.cgroup_id) {
			bpf_map_update_elem(&kit_cg_pids, &tgid, &one, BPF_ANY);
			return;
		}
		/* css "self" is the first member: its parent is the cgroup's */
		dst = (struct cgroup *)BPF_CORE_READ(dst, self.parent);
	}
	bpf_map_delete_elem(&kit_cg_pids, &tgid);
}

SEC("tp_btf/cgroup_attach_task")
int BPF_PROG(kit_cgattach_btf, struct cgroup *dst, const char *path,
	     struct task_struct *task)
{
	kit_track_attach(dst, task);
	return 0;
}

SEC("raw_tp/cgroup_attach_task")
int BPF_PROG(kit_cgattach_raw, struct cgroup *dst, const char *path,
	     struct task_struct *task)
{
	kit_track_attach(dst, task);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(kit_fork_btf, struct task_struct *parent,
	     struct task_struct *child)
{
	kit_track_fork(parent, child);
	return 0;
}

SEC("raw_tp/sched_process_fork")
int BPF_PROG(kit_fork_raw, struct task_struct *parent,
	     struct task_struct *child)
{
	kit_track_fork(parent, child);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(kit_exit_btf, struct task_struct *task)
{
	kit_track_exit(task);
	return 0;
}

SEC("raw_tp/sched_process_exit")
int BPF_PROG(kit_exit_raw, struct task_struct *task)
{
	kit_track_exit(task);
	return 0;
}

#endif /* KIT_BPF_H */
