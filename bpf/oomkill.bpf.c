// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * oomkill: one event per process the OOM killer marks as its victim.
 *
 * The kernel marks a victim in mark_oom_victim(), called in the context of
 * the task whose allocation or memory cgroup charge ran out of memory (the
 * trigger; for sysrq-f, a kworker), right after it sent SIGKILL. Ways to
 * see it, best first (see tools/oomkill.c for how one is chosen):
 *  1. tp_btf/mark_victim (6.9+ and stable backports, where the tracepoint
 *     passes the victim's task_struct and uid): everything read from the
 *     task with CO-RE, including its cgroup;
 *  2. raw_tp/mark_victim: the same, without BTF-typed arguments;
 *  3. tracepoint/oom/mark_victim: the tracepoint's own record (pid, comm,
 *     memory figures, uid, oom_score_adj); no cgroup;
 *  4. fentry, 5. kprobe on oom_kill_process(): the oom_control, as BCC
 *     reads it (any kernel; here also the OOM domain's size and whether
 *     a memory cgroup's limit was hit).
 * 1-3 need that tracepoint: where it passes only the pid, the programs
 * reading its second argument (or its new fields) fail to load or attach,
 * and the loader falls back to 4 or 5.
 *
 * The tracepoint does not carry the oom_control (the OOM domain's size,
 * the memory cgroup whose limit was hit). 1 and 2 find it on the
 * trigger's kernel stack, where out_of_memory()'s caller keeps it: see
 * find_oom_control().
 *
 * All filters select the victim, not the trigger.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include "kit.bpf.h"
#include "oomkill.h"

#define CGROUP_DEPTH	16	/* path components we follow */
#define PATH_MASK	(OOMKILL_CGROUP_MAX - 1)

/* Set by the loader: the kernel's page size, as a shift. */
const volatile unsigned int page_shift = 12;

/* Before 6.2 the mm counters were atomics in struct mm_rss_stat. */
struct mm_rss_stat___pre62 {
	atomic_long_t count[4];
} __attribute__((preserve_access_index));

struct mm_struct___pre62 {
	struct mm_rss_stat___pre62 rss_stat;
} __attribute__((preserve_access_index));

/* Before 6.15 a kernfs node's parent was "parent" (now "__parent"). */
struct kernfs_node___pre615 {
	struct kernfs_node *parent;
} __attribute__((preserve_access_index));

/* Scratch space for building a cgroup path: twice the path size, so
 * that every write at a masked offset stays inside it. */
struct path_buf {
	char buf[OOMKILL_CGROUP_MAX * 2];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct path_buf);
} path_scratch SEC(".maps");

/* ---- reading the kernel's objects --------------------------------------- */

static __always_inline long mm_counter(struct mm_struct *mm, int member)
{
	long v;

	if (bpf_core_type_exists(struct mm_rss_stat___pre62)) {
		struct mm_struct___pre62 *old = (void *)mm;

		bpf_core_read(&v, sizeof(v), &old->rss_stat.count[member]);
	} else {
		/* what get_mm_counter() reports: the counter's sum so far */
		v = BPF_CORE_READ(mm, rss_stat[member].count);
	}
	return v > 0 ? v : 0;
}

static __always_inline struct kernfs_node *kn_parent(struct kernfs_node *kn)
{
	struct kernfs_node___pre615 *old = (void *)kn;

	if (bpf_core_field_exists(old->parent))
		return BPF_CORE_READ(old, parent);
	return BPF_CORE_READ(kn, __parent);
}

/*
 * The path of cg below its hierarchy's root, from the names of its kernfs
 * nodes: the cgroup may be removed right after the kill, so user space
 * could not always look it up later.
 */
static __always_inline void cgroup_path(struct oom_cgroup *out,
					struct cgroup *cg, unsigned char kind)
{
	struct kernfs_node *chain[CGROUP_DEPTH];
	struct kernfs_node *kn, *parent;
	struct path_buf *pb;
	__u32 zero = 0, off = 0, pos;
	int n = 0, i;
	long len;

	kn = BPF_CORE_READ(cg, kn);
	if (!kn)
		return;
	pb = bpf_map_lookup_elem(&path_scratch, &zero);
	if (!pb)
		return;
	out->id = BPF_CORE_READ(kn, id);
	out->kind = kind;
	/* Leaf to root; the root node itself has no name in the path. */
	for (i = 0; i < CGROUP_DEPTH; i++) {
		parent = kn_parent(kn);
		if (!parent)
			break;
		chain[n++] = kn;
		kn = parent;
	}
	pb->buf[0] = '/';
	pb->buf[1] = '\0';
	if (i == CGROUP_DEPTH && kn_parent(kn)) {
		/* deeper than we follow: the top is cut, "..." instead */
		out->cut_top = 1;
		pb->buf[0] = pb->buf[1] = pb->buf[2] = '.';
		off = 3;
	}
	/* Root to leaf: "/" then the name, each at a masked offset. */
	for (i = CGROUP_DEPTH - 1; i >= 0; i--) {
		if (i >= n)
			continue;
		if (off >= OOMKILL_CGROUP_MAX - 1) {
			out->truncated = 1;
			break;
		}
		pos = off;
		barrier_var(pos); /* keep the mask: the verifier needs it */
		pb->buf[pos & PATH_MASK] = '/';
		pos = ++off;
		barrier_var(pos);
		len = bpf_probe_read_kernel_str(&pb->buf[pos & PATH_MASK],
						OOMKILL_CGROUP_MAX,
						BPF_CORE_READ(chain[i], name));
		if (len > 1)
			off += len - 1;
	}
	if (off > OOMKILL_CGROUP_MAX - 1) {
		off = OOMKILL_CGROUP_MAX - 1;
		out->truncated = 1;
	}
	out->len = off ? off : 1;
	bpf_probe_read_kernel(out->path, OOMKILL_CGROUP_MAX, pb->buf);
	out->path[out->len & PATH_MASK] = '\0';
}

/*
 * The task's cgroup in the memory controller's hierarchy when that is a
 * v1 hierarchy, else its cgroup in the unified (v2) hierarchy.
 */
static __always_inline struct cgroup *task_cgroup(struct task_struct *t,
						   unsigned char *kind)
{
	struct css_set *cs = BPF_CORE_READ(t, cgroups);
	struct cgroup_subsys_state *css = NULL;
	struct cgroup *cg;
	int id;

	if (bpf_core_enum_value_exists(enum cgroup_subsys_id,
				       memory_cgrp_id)) {
		id = bpf_core_enum_value(enum cgroup_subsys_id, memory_cgrp_id);
		bpf_core_read(&css, sizeof(css), &cs->subsys[id & 15]);
		cg = BPF_CORE_READ(css, cgroup);
		/* hierarchy 0 is the unified one */
		if (cg && BPF_CORE_READ(cg, root, hierarchy_id) != 0) {
			*kind = OOM_CGROUP_V1_MEMORY;
			return cg;
		}
	}
	*kind = OOM_CGROUP_V2;
	return BPF_CORE_READ(cs, dfl_cgrp);
}

/* ---- filters (on the victim) ------------------------------------------- */

/* --cgroup on v2: is the task's unified cgroup the filter's or below it? */
static __always_inline bool under_v2_cgroup(struct task_struct *t)
{
	struct cgroup *cg = BPF_CORE_READ(t, cgroups, dfl_cgrp);
	int i;

	for (i = 0; i < KIT_CGROUP_DEPTH && cg; i++) {
		if (BPF_CORE_READ(cg, kn, id) == kit_cfg.cgroup_id)
			return true;
		/* css "self" is the first member: its parent is the cgroup's */
		cg = (struct cgroup *)BPF_CORE_READ(cg, self.parent);
	}
	return false;
}

static __always_inline bool comm_is(const char *comm)
{
	int i;

#pragma unroll
	for (i = 0; i < KIT_COMM_LEN; i++) {
		if (comm[i] != kit_cfg.comm[i])
			return false;
		if (!comm[i])
			break;
	}
	return true;
}

/* t may be NULL (the tracepoint record alone): then --cgroup on v2 can
 * only be tested through the process set, which v2 does not keep. */
static __always_inline bool victim_selected(struct task_struct *t, __u32 tgid,
					    __u32 uid, const char *comm)
{
	if (kit_cfg.targ_uid != (unsigned int)-1 && uid != kit_cfg.targ_uid)
		return false;
	if (kit_cfg.filter_pid && !bpf_map_lookup_elem(&kit_pids, &tgid))
		return false;
	if (kit_cfg.filter_comm && !comm_is(comm))
		return false;
	if (kit_cfg.filter_cgroup) {
		if (!kit_cfg.cgroup_v2)
			return bpf_map_lookup_elem(&kit_cg_pids, &tgid) != NULL;
		return t && under_v2_cgroup(t);
	}
	return true;
}

/* ---- events ------------------------------------------------------------ */

static const struct oom_event empty_event;

static __always_inline struct oom_event *event_begin(enum oom_source src)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct oom_event *e = kit_event_reserve(sizeof(*e));

	if (!e)
		return NULL;
	/* too big for an inline memset: copy from a zeroed global */
	bpf_probe_read_kernel(e, sizeof(*e), &empty_event);
	e->ts = bpf_ktime_get_ns();
	e->source = src;
	e->trigger_pid = id >> 32;
	e->trigger_tid = (__u32)id;
	bpf_get_current_comm(e->trigger_comm, sizeof(e->trigger_comm));
	return e;
}

static __always_inline unsigned long long pages_kb(unsigned long long pages)
{
	return pages << page_shift >> 10;
}

/* Everything about the victim that its task_struct tells. */
static __always_inline void fill_victim(struct oom_event *e,
					struct task_struct *t)
{
	struct mm_struct *mm = BPF_CORE_READ(t, mm);
	struct cgroup *cg;
	unsigned char kind;

	e->victim_pid = BPF_CORE_READ(t, tgid);
	e->victim_tid = BPF_CORE_READ(t, pid);
	BPF_CORE_READ_STR_INTO(&e->victim_comm, t, comm);
	e->oom_score_adj = BPF_CORE_READ(t, signal, oom_score_adj);
	if (mm) {
		e->total_vm_kb = pages_kb(BPF_CORE_READ(mm, total_vm));
		e->anon_rss_kb = pages_kb(mm_counter(mm, MM_ANONPAGES));
		e->file_rss_kb = pages_kb(mm_counter(mm, MM_FILEPAGES));
		e->shmem_rss_kb = pages_kb(mm_counter(mm, MM_SHMEMPAGES));
		e->pgtables_kb =
			BPF_CORE_READ(mm, pgtables_bytes.counter) >> 10;
		e->have_rss = 1;
	}
	cg = task_cgroup(t, &kind);
	if (cg)
		cgroup_path(&e->cgroup, cg, kind);
}

/* What the oom_control says: the domain's size, the victim's badness,
 * and whether (and which) memory cgroup's limit was hit. */
static __always_inline void fill_oom_control(struct oom_event *e,
					     struct oom_control *oc)
{
	struct mem_cgroup *memcg = BPF_CORE_READ(oc, memcg);
	unsigned int c = CONSTRAINT_NONE;

	e->totalpages = BPF_CORE_READ(oc, totalpages);
	e->points = BPF_CORE_READ(oc, chosen_points);
	e->have_points = 1;
	if (bpf_core_field_exists(oc->constraint))
		c = BPF_CORE_READ(oc, constraint);
	if (memcg || c == CONSTRAINT_MEMCG)
		e->constraint = OOM_CONSTRAINT_MEMCG;
	else if (c == CONSTRAINT_CPUSET)
		e->constraint = OOM_CONSTRAINT_CPUSET;
	else if (c == CONSTRAINT_MEMORY_POLICY)
		e->constraint = OOM_CONSTRAINT_MEMPOLICY;
	else
		e->constraint = OOM_CONSTRAINT_GLOBAL;
	if (memcg) {
		struct cgroup *cg = BPF_CORE_READ(memcg, css.cgroup);
		unsigned char kind = BPF_CORE_READ(cg, root, hierarchy_id) ?
					     OOM_CGROUP_V1_MEMORY :
					     OOM_CGROUP_V2;

		cgroup_path(&e->oom_cgroup, cg, kind);
		e->have_oom_cgroup = 1;
	}
}

/* ---- the oom_control of a tracepoint event ------------------------------ */

#define STACK_SCAN_WORDS 4096	/* 32 KiB of stack at most */

/* The numeric value of a pointer, as a plain number for the verifier. */
static __always_inline unsigned long addr_of(const void *p)
{
	unsigned long v = 0;

	bpf_probe_read_kernel(&v, sizeof(v), &p);
	return v;
}

/* Does the memory at a look like an oom_control? Every field must hold a
 * value the kernel can put there, and memcg must agree with constraint. */
static __always_inline bool is_oom_control(unsigned long a)
{
	struct oom_control *oc = (void *)a;
	long memcg = (long)BPF_CORE_READ(oc, memcg);
	long zonelist = (long)BPF_CORE_READ(oc, zonelist);
	long nodemask = (long)BPF_CORE_READ(oc, nodemask);
	unsigned long total = BPF_CORE_READ(oc, totalpages);
	int order = BPF_CORE_READ(oc, order);
	unsigned int c = BPF_CORE_READ(oc, constraint);

	/* pointers: NULL or in the kernel's half of the address space */
	if (memcg > 0 || zonelist > 0 || nodemask > 0)
		return false;
	if (order < -1 || order > 16 || !total || total >> 40)
		return false;
	if (c > CONSTRAINT_MEMCG || (memcg != 0) != (c == CONSTRAINT_MEMCG))
		return false;
	return true;
}

struct stack_scan {
	unsigned long base;	/* the task's stack: [base, top) */
	unsigned long top;
	unsigned long victim;	/* task_struct addresses oc->chosen may hold */
	unsigned long leader;
	unsigned long chosen_off;
	unsigned long found;	/* the oom_control, or 0 */
};

/* Word i counted down from the top of the stack. */
static long scan_word(__u64 i, void *data)
{
	struct stack_scan *s = data;
	unsigned long a = s->top - 8 - i * 8, w = 0;

	if (a < s->base + s->chosen_off)
		return 1;
	if (bpf_probe_read_kernel(&w, sizeof(w), (void *)a))
		return 1;
	if (w != s->victim && w != s->leader)
		return 0;
	if (!is_oom_control(a - s->chosen_off))
		return 0;
	s->found = a - s->chosen_off;
	return 1;
}

/*
 * out_of_memory() runs in the trigger's context, with its oom_control in
 * the frame of its caller (__alloc_pages_may_oom, mem_cgroup_out_of_memory
 * or the sysrq handler) on the trigger's kernel stack. Walk that stack
 * down from its top (the live frames come first, outermost first) for a
 * word equal to the victim (oc->chosen) whose surroundings make a valid
 * oom_control. Only the task's own stack is read. Where the victim is not
 * oc->chosen (the other members of an oom_group cgroup; a task that was
 * already exiting) nothing is found.
 */
static __always_inline struct oom_control *
find_oom_control(struct task_struct *victim)
{
	struct task_struct *cur = bpf_get_current_task_btf();
	struct stack_scan s = {};

	/* the saved user registers sit at the top of the stack */
	s.top = addr_of((void *)bpf_task_pt_regs(cur)) & ~7UL;
	s.base = (unsigned long)BPF_CORE_READ(cur, stack);
	if (!s.base || s.top <= s.base || s.top - s.base > 8 * STACK_SCAN_WORDS)
		return NULL;
	s.victim = (unsigned long)victim;
	s.leader = (unsigned long)BPF_CORE_READ(victim, group_leader);
	s.chosen_off = bpf_core_field_offset(struct oom_control, chosen);
	bpf_loop(STACK_SCAN_WORDS, scan_word, &s, 0);
	return (struct oom_control *)s.found;
}

/* mark_victim with the victim's task (the 6.9+ prototype). */
static __always_inline void victim_task(struct task_struct *t, __u32 uid)
{
	struct oom_control *oc;
	char comm[KIT_COMM_LEN];
	struct oom_event *e;
	__u32 tgid;

	tgid = BPF_CORE_READ(t, tgid);
	if (kit_cfg.filter_comm)
		BPF_CORE_READ_STR_INTO(&comm, t, comm);
	if (!victim_selected(t, tgid, uid, comm))
		return;
	e = event_begin(OOM_SRC_MARK_VICTIM_TASK);
	if (!e)
		return;
	fill_victim(e, t);
	e->victim_uid = uid;
	oc = find_oom_control(t);
	if (oc)
		fill_oom_control(e, oc);
	kit_event_submit(e);
}

SEC("tp_btf/mark_victim")
int BPF_PROG(mark_victim_btf, struct task_struct *task, uid_t uid)
{
	victim_task(task, uid);
	return 0;
}

/* Reading the second argument makes the attach fail where the tracepoint
 * has only one (the pid). */
SEC("raw_tp/mark_victim")
int BPF_PROG(mark_victim_raw, struct task_struct *task, uid_t uid)
{
	victim_task(task, uid);
	return 0;
}

/* The tracepoint's record: CO-RE relocations of its 6.9+ fields make the
 * load fail where the record has only the pid. The victim's task is not
 * at hand: no cgroup, and pid is the marked thread's. */
SEC("tracepoint/oom/mark_victim")
int mark_victim_tp(struct trace_event_raw_mark_victim *ctx)
{
	unsigned int comm_off = ctx->__data_loc_comm & 0xffff;
	char comm[KIT_COMM_LEN] = {};
	struct oom_event *e;
	__u32 pid = ctx->pid;

	bpf_probe_read_kernel_str(comm, sizeof(comm), (void *)ctx + comm_off);
	if (!victim_selected(NULL, pid, ctx->uid, comm))
		return 0;
	e = event_begin(OOM_SRC_MARK_VICTIM_TP);
	if (!e)
		return 0;
	e->victim_pid = pid;
	e->victim_tid = pid;
	e->victim_uid = ctx->uid;
	__builtin_memcpy(e->victim_comm, comm, sizeof(comm));
	e->total_vm_kb = ctx->total_vm;
	e->anon_rss_kb = ctx->anon_rss;
	e->file_rss_kb = ctx->file_rss;
	e->shmem_rss_kb = ctx->shmem_rss;
	e->pgtables_kb = ctx->pgtables;
	e->oom_score_adj = ctx->oom_score_adj;
	e->have_rss = 1;
	kit_event_submit(e);
	return 0;
}

/* oom_kill_process(oc, message): the victim is oc->chosen. */
static __always_inline void oom_kill(struct oom_control *oc)
{
	struct task_struct *t = BPF_CORE_READ(oc, chosen);
	char comm[KIT_COMM_LEN];
	struct oom_event *e;
	__u32 tgid, uid;

	if (!t)
		return;
	tgid = BPF_CORE_READ(t, tgid);
	uid = BPF_CORE_READ(t, real_cred, uid.val);
	if (kit_cfg.filter_comm)
		BPF_CORE_READ_STR_INTO(&comm, t, comm);
	if (!victim_selected(t, tgid, uid, comm))
		return;
	e = event_begin(OOM_SRC_OOM_KILL_PROCESS);
	if (!e)
		return;
	fill_victim(e, t);
	e->victim_uid = uid;
	fill_oom_control(e, oc);
	kit_event_submit(e);
}

SEC("fentry/oom_kill_process")
int BPF_PROG(oom_kill_fentry, struct oom_control *oc, const char *message)
{
	oom_kill(oc);
	return 0;
}

SEC("kprobe/oom_kill_process")
int BPF_KPROBE(oom_kill_kprobe, struct oom_control *oc)
{
	oom_kill(oc);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
