/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* oomkill: the event shared by bpf/oomkill.bpf.c and tools/oomkill.c */
#ifndef OOMKILL_H
#define OOMKILL_H

#define OOMKILL_COMM_LEN	16
#define OOMKILL_CGROUP_MAX	512	/* a cgroup path, with its NUL */

/* What the kernel limited when it ran out of memory (oom_control). */
enum oom_constraint_kind {
	OOM_CONSTRAINT_UNKNOWN,	/* the hook did not show the oom_control */
	OOM_CONSTRAINT_GLOBAL,	/* CONSTRAINT_NONE: the whole system */
	OOM_CONSTRAINT_CPUSET,
	OOM_CONSTRAINT_MEMPOLICY,
	OOM_CONSTRAINT_MEMCG,	/* a memory cgroup's limit */
};

/* Where the event came from. */
enum oom_source {
	OOM_SRC_MARK_VICTIM_TASK, /* oom:mark_victim with the victim's task */
	OOM_SRC_MARK_VICTIM_TP,	  /* oom:mark_victim, the tracepoint's record */
	OOM_SRC_OOM_KILL_PROCESS, /* fentry or kprobe on oom_kill_process */
};

/* Which hierarchy the victim's cgroup path is in. */
enum oom_cgroup_kind {
	OOM_CGROUP_NONE,	/* unknown */
	OOM_CGROUP_V1_MEMORY,	/* the v1 memory controller's hierarchy */
	OOM_CGROUP_V2,		/* the unified hierarchy */
};

/* A cgroup, as its path below the hierarchy's root. */
struct oom_cgroup {
	unsigned long long id;	/* kernfs id: the directory's inode number */
	unsigned short len;	/* bytes of path used, without the NUL */
	unsigned char kind;	/* enum oom_cgroup_kind */
	unsigned char truncated; /* the end of the path is cut */
	unsigned char cut_top;	 /* too deep: the path starts with "..." */
	unsigned char pad[3];
	char path[OOMKILL_CGROUP_MAX];
};

struct oom_event {
	unsigned long long ts;		/* bpf_ktime_get_ns() */
	unsigned long long totalpages;	/* oom_control: pages of the OOM
					 * domain; 0 when unknown */
	long long points;		/* oom_control: the victim's badness */
	/* The victim's memory, in kB. */
	unsigned long long total_vm_kb;
	unsigned long long anon_rss_kb;
	unsigned long long file_rss_kb;
	unsigned long long shmem_rss_kb;
	unsigned long long pgtables_kb;
	unsigned int trigger_pid;	/* the task that ran out (tgid) */
	unsigned int trigger_tid;
	unsigned int victim_pid;	/* tgid */
	unsigned int victim_tid;	/* the thread marked; 0: unknown */
	unsigned int victim_uid;
	short oom_score_adj;
	unsigned char constraint;	/* enum oom_constraint_kind */
	unsigned char source;		/* enum oom_source */
	unsigned char have_rss;		/* memory figures filled in */
	unsigned char have_points;
	unsigned char have_oom_cgroup;
	unsigned char pad;
	char trigger_comm[OOMKILL_COMM_LEN];
	char victim_comm[OOMKILL_COMM_LEN];
	struct oom_cgroup cgroup;	/* the victim's */
	struct oom_cgroup oom_cgroup;	/* the memcg whose limit was hit */
};

#endif /* OOMKILL_H */
