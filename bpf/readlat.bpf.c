// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * readlat: latency (and size) histograms of read-family system calls.
 *
 * Cheap by design, since read() is among the hottest syscalls: the start
 * time lives in task-local storage (no shared hash map keyed by thread,
 * whose update, lookup and delete cost more than the hooks themselves),
 * filters run at entry so untraced reads cost one check, and the
 * histogram is aggregated in place per CPU, in an array unless a key is
 * needed (-P, -F). Reading the clock twice is most of what remains.
 *
 * Two ways in, chosen by tools/readlat.c: the syscalls:sys_{enter,exit}_NAME
 * tracepoint pair of each call traced (only reads pay), or one program on
 * raw_syscalls sys_enter and sys_exit that picks the calls by id (every
 * syscall of the system pays a little). Entry only stores a time and
 * exit consumes it, so both ways attached at once still count a read once.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include "kit.bpf.h"
/* Every program that records runs in task context at syscall exit. */
#define HIST_NO_NESTING
#include "hist.bpf.h"
#include "readlat.h"

const volatile bool targ_per_process = false;
const volatile bool targ_size = false;
const volatile bool targ_ftype = false;
const volatile __u64 targ_unit_ns = 1;
/* raw_syscalls: the syscall ids traced, a bit each */
const volatile __u64 targ_ids[READLAT_MAX_ID / 64] = {};

struct start {
	__u64 ts;
	__u32 ftype;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct start);
} start SEC(".maps");

HIST_MAP(hists, struct readlat_key, 4096);	/* -P, -F */
HIST_ARRAY(totals, READLAT_NKINDS);		/* by enum readlat_kind */

#define S_IFMT		0170000
#define S_IFSOCK	0140000
#define S_IFREG		0100000
#define S_IFCHR		0020000
#define S_IFIFO		0010000

/* -F: what descriptor fd of the current task is. */
static __always_inline __u32 fd_type(long fd)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds, *file = NULL;
	struct inode *inode;
	__u32 major;
	umode_t mode;

	if (!fdt || fd < 0 || fd >= BPF_CORE_READ(fdt, max_fds))
		return READLAT_FT_OTHER;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_core_read(&file, sizeof(file), &fds[fd]) || !file)
		return READLAT_FT_OTHER;
	inode = BPF_CORE_READ(file, f_inode);
	mode = BPF_CORE_READ(inode, i_mode);
	switch (mode & S_IFMT) {
	case S_IFREG:
		return READLAT_FT_FILE;
	case S_IFIFO:
		return READLAT_FT_PIPE;
	case S_IFSOCK:
		return READLAT_FT_SOCKET;
	case S_IFCHR:
		/* ttys (4), /dev/tty, console, ptmx (5), ptys (136..143) */
		major = BPF_CORE_READ(inode, i_rdev) >> 20;
		if (major == 4 || major == 5 || (major >= 136 && major <= 143))
			return READLAT_FT_TTY;
	}
	return READLAT_FT_OTHER;
}

static __always_inline void on_enter(long fd)
{
	struct start *st;

	if (!kit_filter_current(bpf_get_current_pid_tgid()))
		return;
	st = bpf_task_storage_get(&start, bpf_get_current_task_btf(), 0,
				  BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!st)
		return;
	if (targ_ftype)
		st->ftype = fd_type(fd);
	st->ts = bpf_ktime_get_ns();
}

static __always_inline void on_exit(long ret)
{
	struct readlat_key key = {};
	struct start *st;
	__u64 lat;

	st = bpf_task_storage_get(&start, bpf_get_current_task_btf(), 0, 0);
	if (!st || !st->ts)
		return;
	lat = bpf_ktime_get_ns() - st->ts;
	st->ts = 0;
	if (targ_unit_ns > 1)
		lat /= targ_unit_ns;
	if (!targ_per_process && !targ_ftype) {
		hist_add_slot(&totals, READLAT_NKINDS,
			      ret < 0 ? READLAT_FAILED : READLAT_OK, lat);
		if (targ_size && ret >= 0)
			hist_add_slot(&totals, READLAT_NKINDS, READLAT_SIZE,
				      ret);
		return;
	}
	key.gen = hist_current_gen();
	if (targ_per_process) {
		key.tgid = bpf_get_current_pid_tgid() >> 32;
		bpf_get_current_comm(key.comm, sizeof(key.comm));
	}
	if (targ_ftype)
		key.ftype = st->ftype;
	key.kind = ret < 0 ? READLAT_FAILED : READLAT_OK;
	hist_add(&hists, &key, lat);
	if (targ_size && ret >= 0) {
		key.kind = READLAT_SIZE;
		hist_add(&hists, &key, ret);
	}
}

/* ---- one tracepoint pair per system call ------------------------------ */

#define READ_PROGS(name)                                                     \
	SEC("tracepoint/syscalls/sys_enter_" #name)                          \
	int enter_##name(struct trace_event_raw_sys_enter *ctx)              \
	{                                                                    \
		on_enter(targ_ftype ? ctx->args[0] : 0);                     \
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

/* ---- raw_syscalls: every system call, picked by id -------------------- */

#define TS_COMPAT 0x0002	/* x86: a 32-bit syscall is running */

static __always_inline bool traced_id(long id)
{
	__u64 n = id;

	if (n >= READLAT_MAX_ID || !((targ_ids[n / 64] >> (n % 64)) & 1))
		return false;
#ifdef __TARGET_ARCH_x86
	/* 32-bit processes number their syscalls differently; the
	 * syscalls:* tracepoints ignore them on x86, so do we. */
	if (BPF_CORE_READ((struct task_struct *)bpf_get_current_task(),
			  thread_info.status) & TS_COMPAT)
		return false;
#endif
	return true;
}

static __always_inline void raw_enter(struct pt_regs *regs, long id)
{
	if (traced_id(id))
		on_enter(targ_ftype ? PT_REGS_PARM1_CORE_SYSCALL(regs) : 0);
}

SEC("tp_btf/sys_enter")
int BPF_PROG(btf_sys_enter, struct pt_regs *regs, long id)
{
	raw_enter(regs, id);
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(btf_sys_exit, struct pt_regs *regs, long ret)
{
	on_exit(ret);
	return 0;
}

SEC("raw_tp/sys_enter")
int BPF_PROG(raw_sys_enter, struct pt_regs *regs, long id)
{
	raw_enter(regs, id);
	return 0;
}

SEC("raw_tp/sys_exit")
int BPF_PROG(raw_sys_exit, struct pt_regs *regs, long ret)
{
	on_exit(ret);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
