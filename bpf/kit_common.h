/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Types shared by the BPF side (bpf/kit.bpf.h) and the user side (lib/kit.c)
 * of the common library. Plain C, no kernel headers.
 */
#ifndef KIT_COMMON_H
#define KIT_COMMON_H

#define KIT_COMM_LEN	16
#define KIT_MAX_PIDS	8192
#define KIT_CGROUP_DEPTH 32

/* Index of the counters in the per-CPU map kit_stats. */
enum kit_stat {
	KIT_STAT_LOST,		/* ring buffer full: event dropped */
	KIT_STAT_MAX,
};

/*
 * Filters set by the loader before load. Lives in .rodata as the global
 * kit_cfg, so the verifier drops every branch of a filter that is off.
 */
struct kit_cfg {
	unsigned int targ_uid;		/* (unsigned)-1: any */
	unsigned int targ_tid;		/* 0: any */
	unsigned char filter_pid;	/* only tgids present in kit_pids */
	unsigned char follow_forks;	/* add children of traced tgids */
	unsigned char filter_comm;
	unsigned char filter_cgroup;
	unsigned char cgroup_v2;	/* else: v1, membership in kit_cg_pids */
	unsigned char pad[3];
	int cgroup_hierarchy;		/* v1: the hierarchy's id */
	unsigned long long cgroup_id;	/* kernfs id (inode) of the cgroup */
	unsigned long long rb_wakeup_bytes; /* wake the reader above this */
	char comm[KIT_COMM_LEN];
};

#endif /* KIT_COMMON_H */
