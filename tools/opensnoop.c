// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * opensnoop: trace open(), openat() and openat2() system-wide, or for some
 * processes, with the file name, the result and (-e) flags and mode.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kit.h"
#include "metrics.h"
#include "opensnoop.h"
#include "opensnoop.skel.h"

#if defined(__x86_64__)
#define SYS_PREFIX "__x64_sys_"
#elif defined(__aarch64__)
#define SYS_PREFIX "__arm64_sys_"
#else
#define SYS_PREFIX "sys_"
#endif

static struct {
	bool extended;
	bool failed;
	bool full_path;
	bool print_uid;
} env;

static const struct argp_option options[] = {
	{ "extended-fields", 'e', NULL, 0, "Show flags and mode (decoded)" },
	{ "failed", 'x', NULL, 0, "Show only failed opens" },
	{ "full-path", 'F', NULL, 0,
	  "Show relative paths as absolute (resolved through /proc while the "
	  "process lives)" },
	{ "print-uid", 'U', NULL, 0, "Show the UID column" },
	{},
};

static error_t parse_arg(int key, char *arg, struct argp_state *state)
{
	switch (key) {
	case 'e':
		env.extended = true;
		break;
	case 'x':
		env.failed = true;
		break;
	case 'F':
		env.full_path = true;
		break;
	case 'U':
		env.print_uid = true;
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

enum {
	COL_TIME, COL_UID, COL_PID, COL_TID, COL_COMM, COL_FD, COL_ERR,
	COL_FLAGS, COL_MODE, COL_SYSCALL, COL_DFD, COL_PATH, NCOLS
};

static const struct kit_col columns[NCOLS] = {
	[COL_TIME] = { "time", "TIME(s)", 12, KIT_COL_HIDDEN | KIT_COL_LEFT },
	[COL_UID] = { "uid", "UID", 6, KIT_COL_HIDDEN },
	[COL_PID] = { "pid", "PID", 7 },
	[COL_TID] = { "tid", "TID", 7, KIT_COL_JSON_ONLY },
	[COL_COMM] = { "comm", "COMM", 16, KIT_COL_LEFT },
	[COL_FD] = { "fd", "FD", 3 },
	[COL_ERR] = { "err", "ERR", 3 },
	[COL_FLAGS] = { "flags", "FLAGS", 24, KIT_COL_HIDDEN | KIT_COL_LEFT },
	[COL_MODE] = { "mode", "MODE", 4, KIT_COL_HIDDEN },
	[COL_SYSCALL] = { "syscall", "SYSCALL", 7, KIT_COL_JSON_ONLY },
	[COL_DFD] = { "dfd", "DFD", 4, KIT_COL_JSON_ONLY },
	[COL_PATH] = { "path", "PATH", 0, KIT_COL_LEFT },
};

#define OPEN_HOOK(sys, hook_flags)                                           \
	{ #sys, hook_flags, {                                                \
		{ KIT_MECH_TRACEPOINT, "syscalls/sys_exit_" #sys,            \
		  { "tp_exit_only_" #sys } },                                \
		{ KIT_MECH_TRACEPOINT, "syscalls/sys_enter_" #sys,           \
		  { "tp_enter_" #sys, "tp_exit_" #sys } },                   \
		{ KIT_MECH_FENTRY, SYS_PREFIX #sys, { "fexit_" #sys } },     \
		{ KIT_MECH_KPROBE, SYS_PREFIX #sys,                          \
		  { "ksys_" #sys, "kret_" #sys } },                          \
	} }

static const struct kit_hook hooks[] = {
	OPEN_HOOK(openat, 0),
	/* open is absent on some architectures, openat2 before 5.6 */
	OPEN_HOOK(open, KIT_HOOK_OPTIONAL),
	OPEN_HOOK(openat2, KIT_HOOK_OPTIONAL),
	{},
};

/* The kernel's value: 64-bit libcs define O_LARGEFILE as 0. */
#if defined(__x86_64__) || defined(__i386__)
#define K_O_LARGEFILE 0100000
#else
#define K_O_LARGEFILE O_LARGEFILE
#endif

static void decode_flags(char *buf, size_t len, int flags)
{
	static const struct {
		int bit;
		const char *name;
	} names[] = {
		/* composite flags first: O_SYNC holds O_DSYNC's bit */
		{ O_SYNC, "O_SYNC" },		{ O_TMPFILE, "O_TMPFILE" },
		{ O_CREAT, "O_CREAT" },		{ O_EXCL, "O_EXCL" },
		{ O_NOCTTY, "O_NOCTTY" },	{ O_TRUNC, "O_TRUNC" },
		{ O_APPEND, "O_APPEND" },	{ O_NONBLOCK, "O_NONBLOCK" },
		{ O_DSYNC, "O_DSYNC" },		{ O_ASYNC, "O_ASYNC" },
		{ O_DIRECT, "O_DIRECT" },	{ K_O_LARGEFILE, "O_LARGEFILE" },
		{ O_DIRECTORY, "O_DIRECTORY" }, { O_NOFOLLOW, "O_NOFOLLOW" },
		{ O_NOATIME, "O_NOATIME" },	{ O_CLOEXEC, "O_CLOEXEC" },
		{ O_PATH, "O_PATH" },
	};
	static const char *const acc[] = { "O_RDONLY", "O_WRONLY", "O_RDWR",
					   "O_ACCMODE" };
	int rest = flags & ~O_ACCMODE;
	size_t off, i;

	off = snprintf(buf, len, "%s", acc[flags & O_ACCMODE]);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!names[i].bit || (rest & names[i].bit) != names[i].bit)
			continue;
		rest &= ~names[i].bit;
		off += snprintf(buf + off, off < len ? len - off : 0, "|%s",
				names[i].name);
	}
	if (rest)
		snprintf(buf + off, off < len ? len - off : 0, "|0x%x", rest);
}

/* -F: a relative name, joined to the directory it was opened in. */
static bool resolve_path(const struct open_event *e, char *out, size_t len)
{
	char link[64], dir[PATH_MAX];
	ssize_t n;

	if (e->path[0] == '/' || !e->path_len)
		return false;
	if (e->dfd == AT_FDCWD)
		snprintf(link, sizeof(link), "/proc/%u/cwd", e->tid);
	else
		snprintf(link, sizeof(link), "/proc/%u/fd/%d", e->pid, e->dfd);
	n = readlink(link, dir, sizeof(dir) - 1);
	if (n <= 0)
		return false;
	dir[n] = '\0';
	snprintf(out, len, "%s/%.*s", strcmp(dir, "/") ? dir : "",
		 (int)strnlen(e->path, e->path_len), e->path);
	return true;
}

/* --metrics: opens by command and result ("ok" or the errno's name). */
static struct kit_family *opens_metric;

static void count_open(const struct open_event *e, int err)
{
	char comm[sizeof(e->comm) + 1], num[16];
	const char *v[2] = { comm, "ok" };

	snprintf(comm, sizeof(comm), "%.*s", (int)sizeof(e->comm), e->comm);
	if (err) {
		v[1] = strerrorname_np(err);
		if (!v[1]) {
			snprintf(num, sizeof(num), "%d", err);
			v[1] = num;
		}
	}
	kit_counter_add(kit_series(opens_metric, v), 1);
}

static int handle_event(struct kit *kit, const void *data, size_t size)
{
	static const char *const sysnames[] = { "open", "openat", "openat2" };
	const struct open_event *e = data;
	/* only the used part of path[] was sent */
	size_t path_max = size > offsetof(struct open_event, path) ?
				  size - offsetof(struct open_event, path) :
				  0;
	struct kit_out *o = &kit->out;
	char flags[256], mode[16], full[PATH_MAX + OPENSNOOP_PATH_MAX];
	bool truncated = e->truncated;
	int fd = e->ret >= 0 ? e->ret : -1;
	int err = e->ret >= 0 ? 0 : -e->ret;

	if (opens_metric)
		count_open(e, err);
	decode_flags(flags, sizeof(flags), e->flags);
	snprintf(mode, sizeof(mode), "%04o", e->mode);
	kit_row_begin(o);
	kit_col_time(o, COL_TIME, e->ts, KIT_TIME_ELAPSED);
	kit_col_u64(o, COL_UID, e->uid);
	kit_col_u64(o, COL_PID, e->pid);
	kit_col_u64(o, COL_TID, e->tid);
	kit_col_str(o, COL_COMM, e->comm, sizeof(e->comm));
	kit_col_s64(o, COL_FD, fd);
	kit_col_errno(o, COL_ERR, err);
	kit_col_decoded(o, COL_FLAGS, (unsigned int)e->flags, flags);
	kit_col_decoded(o, COL_MODE, e->mode, mode);
	kit_col_cstr(o, COL_SYSCALL, sysnames[e->syscall % 3]);
	kit_col_s64(o, COL_DFD, e->dfd);
	if (env.full_path && resolve_path(e, full, sizeof(full)))
		kit_col_str_trunc(o, COL_PATH, full, sizeof(full), truncated);
	else
		kit_col_str_trunc(o, COL_PATH, e->path, path_max, truncated);
	return kit_row_end(o);
}

static int configure(struct kit *kit, void *obj)
{
	struct opensnoop_bpf *skel = obj;

	skel->rodata->targ_failed = env.failed;
	return 0;
}

static int start(struct kit *kit, void *skel)
{
	kit_out_show(&kit->out, COL_TIME, kit->opts.timestamp);
	kit_out_show(&kit->out, COL_UID, env.print_uid);
	kit_out_show(&kit->out, COL_FLAGS, env.extended);
	kit_out_show(&kit->out, COL_MODE, env.extended);
	kit_out_header(&kit->out);
	if (kit->metrics)
		opens_metric = kit_metrics_family(
			kit->metrics, &(struct kit_metric_desc){
				.name = "bpfkit_opens_total",
				.help = "Opens seen, by command name and "
					"result (ok, or the error's name).",
				.labels = { "comm", "result" },
			});
	return 0;
}

static const struct kit_tool tool = {
	.name = "opensnoop",
	.doc = "Trace open(), openat() and openat2() system calls.",
	.examples =
		"Examples:\n"
		"  opensnoop                  # trace all opens\n"
		"  opensnoop -T -U            # with timestamps and UIDs\n"
		"  opensnoop -x               # only failed opens\n"
		"  opensnoop -p 181           # only PID 181\n"
		"  opensnoop -n nginx -e      # only nginx, with flags and mode\n"
		"  opensnoop --cgroup /sys/fs/cgroup/unified/app  # one cgroup\n"
		"  opensnoop -j -d 10 > opens.ndjson  # 10 s of JSON\n"
		"  opensnoop -- make          # only make and its children\n",
	.tracing = "Tracing open syscalls",
	.options = options,
	.parse = parse_arg,
	KIT_SKEL(opensnoop_bpf),
	.hooks = hooks,
	.cols = columns,
	.ncols = NCOLS,
	.ringbuf_bytes = 2u << 20,
	.configure = configure,
	.start = start,
	.event = handle_event,
};

int main(int argc, char **argv)
{
	return kit_main(&tool, argc, argv);
}
