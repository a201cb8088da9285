// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * opensnoop: one event per open(), openat() and openat2() call.
 *
 * Each syscall can be observed four ways, best first (see tools/opensnoop.c
 * for how one is chosen):
 *  1. the sys_exit tracepoint alone, reading the arguments from the task's
 *     saved user registers (bpf_task_pt_regs, 5.15+): one program, no map;
 *  2. the sys_enter/sys_exit tracepoint pair, arguments kept per thread;
 *  3. fexit on the syscall's entry function: arguments and result at once;
 *  4. ksyscall/kretsyscall probes, arguments kept per thread.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include "kit.bpf.h"
#include "opensnoop.h"

#if defined(__TARGET_ARCH_x86)
#define SYS_PREFIX "__x64_sys_"
#elif defined(__TARGET_ARCH_arm64)
#define SYS_PREFIX "__arm64_sys_"
#else
#define SYS_PREFIX "sys_"
#endif

#define AT_FDCWD -100

const volatile bool targ_failed = false;

struct args {
	const char *fname;
	int dfd;
	int flags;
	__u32 mode;
};

/* Arguments between entry and exit, for the two-program variants. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct args);
} start SEC(".maps");

/* Events are built here, then only their used bytes are sent. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct open_event);
} scratch SEC(".maps");

static __always_inline void emit(const struct args *a, long ret,
				 enum open_syscall sc)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct open_event *e;
	__u32 zero = 0;
	long len;

	if (targ_failed && ret >= 0)
		return;
	e = bpf_map_lookup_elem(&scratch, &zero);
	if (!e)
		return;
	e->ts = bpf_ktime_get_ns();
	e->pid = id >> 32;
	e->tid = (__u32)id;
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->ret = ret;
	e->dfd = a->dfd;
	e->flags = a->flags;
	e->mode = a->mode;
	e->syscall = sc;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	len = bpf_probe_read_user_str(e->path, sizeof(e->path), a->fname);
	e->path_len = len > 0 ? len : 0;
	e->truncated = 0;
	if (len == sizeof(e->path)) {
		/* full buffer: cut off, unless the NUL was the last byte */
		char next = 0;

		bpf_probe_read_user(&next, 1, a->fname + sizeof(e->path) - 1);
		e->truncated = next != 0;
	}
	len = e->path_len;
	if (len < 1)
		len = 1;
	if (len > OPENSNOOP_PATH_MAX)
		len = OPENSNOOP_PATH_MAX;
	kit_event_output(e, offsetof(struct open_event, path) + len);
}

/* The user registers of the current syscall, still holding its arguments
 * at sys_exit. */
static __always_inline struct pt_regs *syscall_regs(void)
{
	return (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
}

static __always_inline void args_from_regs(struct args *a, struct pt_regs *regs,
					   enum open_syscall sc)
{
	if (sc == OPEN_SYS_OPEN) {
		a->dfd = AT_FDCWD;
		a->fname = (const char *)PT_REGS_PARM1_CORE_SYSCALL(regs);
		a->flags = PT_REGS_PARM2_CORE_SYSCALL(regs);
		a->mode = PT_REGS_PARM3_CORE_SYSCALL(regs);
		return;
	}
	a->dfd = PT_REGS_PARM1_CORE_SYSCALL(regs);
	a->fname = (const char *)PT_REGS_PARM2_CORE_SYSCALL(regs);
	if (sc == OPEN_SYS_OPENAT) {
		a->flags = PT_REGS_PARM3_CORE_SYSCALL(regs);
		a->mode = PT_REGS_PARM4_CORE_SYSCALL(regs);
	} else {
		struct open_how how = {};

		bpf_probe_read_user(&how, sizeof(how),
				    (void *)PT_REGS_PARM3_CORE_SYSCALL(regs));
		a->flags = how.flags;
		a->mode = how.mode;
	}
}

static __always_inline void exit_only(long ret, enum open_syscall sc)
{
	struct args a = {};

	if (!kit_filter_current(bpf_get_current_pid_tgid()))
		return;
	args_from_regs(&a, syscall_regs(), sc);
	emit(&a, ret, sc);
}

static __always_inline void save_args(struct args *a)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = id;

	if (kit_filter_current(id))
		bpf_map_update_elem(&start, &tid, a, BPF_ANY);
}

static __always_inline void emit_saved(long ret, enum open_syscall sc)
{
	__u32 tid = bpf_get_current_pid_tgid();
	struct args *a = bpf_map_lookup_elem(&start, &tid);

	if (!a)
		return;
	emit(a, ret, sc);
	bpf_map_delete_elem(&start, &tid);
}

static __always_inline void enter_tp(struct trace_event_raw_sys_enter *ctx,
				     enum open_syscall sc)
{
	struct args a = {};

	if (sc == OPEN_SYS_OPEN) {
		a.dfd = AT_FDCWD;
		a.fname = (const char *)ctx->args[0];
		a.flags = ctx->args[1];
		a.mode = ctx->args[2];
	} else {
		a.dfd = ctx->args[0];
		a.fname = (const char *)ctx->args[1];
		if (sc == OPEN_SYS_OPENAT) {
			a.flags = ctx->args[2];
			a.mode = ctx->args[3];
		} else {
			struct open_how how = {};

			bpf_probe_read_user(&how, sizeof(how),
					    (void *)ctx->args[2]);
			a.flags = how.flags;
			a.mode = how.mode;
		}
	}
	save_args(&a);
}

static __always_inline void fexit_regs(struct pt_regs *regs, long ret,
				       enum open_syscall sc)
{
	struct args a = {};

	if (!kit_filter_current(bpf_get_current_pid_tgid()))
		return;
	args_from_regs(&a, regs, sc);
	emit(&a, ret, sc);
}

/* All four variants of one syscall. */
#define OPEN_PROGS(name, sc)                                                 \
	SEC("tracepoint/syscalls/sys_exit_" #name)                           \
	int tp_exit_only_##name(struct trace_event_raw_sys_exit *ctx)        \
	{                                                                    \
		exit_only(ctx->ret, sc);                                     \
		return 0;                                                    \
	}                                                                    \
	SEC("tracepoint/syscalls/sys_enter_" #name)                          \
	int tp_enter_##name(struct trace_event_raw_sys_enter *ctx)           \
	{                                                                    \
		enter_tp(ctx, sc);                                           \
		return 0;                                                    \
	}                                                                    \
	SEC("tracepoint/syscalls/sys_exit_" #name)                           \
	int tp_exit_##name(struct trace_event_raw_sys_exit *ctx)             \
	{                                                                    \
		emit_saved(ctx->ret, sc);                                    \
		return 0;                                                    \
	}                                                                    \
	SEC("fexit/" SYS_PREFIX #name)                                       \
	int BPF_PROG(fexit_##name, struct pt_regs *regs, long ret)           \
	{                                                                    \
		fexit_regs(regs, ret, sc);                                   \
		return 0;                                                    \
	}                                                                    \
	SEC("kretsyscall/" #name)                                            \
	int BPF_KRETPROBE(kret_##name, long ret)                             \
	{                                                                    \
		emit_saved(ret, sc);                                         \
		return 0;                                                    \
	}

OPEN_PROGS(open, OPEN_SYS_OPEN)
OPEN_PROGS(openat, OPEN_SYS_OPENAT)
OPEN_PROGS(openat2, OPEN_SYS_OPENAT2)

SEC("ksyscall/open")
int BPF_KSYSCALL(ksys_open, const char *fname, int flags, __u32 mode)
{
	struct args a = { .dfd = AT_FDCWD, .fname = fname, .flags = flags,
			  .mode = mode };

	save_args(&a);
	return 0;
}

SEC("ksyscall/openat")
int BPF_KSYSCALL(ksys_openat, int dfd, const char *fname, int flags,
		 __u32 mode)
{
	struct args a = { .dfd = dfd, .fname = fname, .flags = flags,
			  .mode = mode };

	save_args(&a);
	return 0;
}

SEC("ksyscall/openat2")
int BPF_KSYSCALL(ksys_openat2, int dfd, const char *fname,
		 struct open_how *uhow)
{
	struct args a = { .dfd = dfd, .fname = fname };
	struct open_how how = {};

	bpf_probe_read_user(&how, sizeof(how), uhow);
	a.flags = how.flags;
	a.mode = how.mode;
	save_args(&a);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
