// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The life of a tool: options, checks, open/load/attach (lib/attach.c),
 * the -- COMMAND child, the event loop, and teardown on every exit path.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <linux/capability.h>

#include "escape.h"
#include "kit_priv.h"
#include "metrics.h"
#include "parse.h"

#define DRAIN_MS	100	/* the reader's own wakeup schedule */
#define DEFAULT_RINGBUF	(2u << 20)

int kit_verbosity;
const char *kit_progname = "bpfkit";

/* ---- messages ---------------------------------------------------------- */

/* One line, whatever the arguments hold: they are escaped like data. */
static void vmsg(const char *fmt, va_list ap)
{
	struct strbuf raw = { 0 }, line = { 0 };
	va_list copy;
	int n;

	va_copy(copy, ap);
	n = vsnprintf(NULL, 0, fmt, copy);
	va_end(copy);
	if (n > 0) {
		sb_grow(&raw, n);
		vsnprintf(raw.buf, n + 1, fmt, ap);
		raw.len = n;
		kit_escape_text(&line, raw.buf, raw.len);
	}
	fprintf(stderr, "%s: %s\n", kit_progname, line.len ? sb_str(&line) : "");
	sb_free(&raw);
	sb_free(&line);
}

void kit_usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	exit(2);
}

void kit_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
}

void kit_verbose(const char *fmt, ...)
{
	va_list ap;

	if (kit_verbosity <= 0)
		return;
	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
}

uint64_t kit_arg_u64(const char *opt, const char *arg, uint64_t min,
		     uint64_t max)
{
	const char *why;
	uint64_t v;

	if (kit_parse_u64(arg, min, max, &v, &why))
		kit_usage_error("invalid %s '%s': %s", opt, arg, why);
	return v;
}

struct bpf_map *kit_map(struct kit *kit, const char *name)
{
	return kit->obj ? bpf_object__find_map_by_name(kit->obj, name) : NULL;
}

void *kit_map_read_all(struct bpf_map *map, size_t elem_size, size_t val_off,
		       int (*cmp)(const void *, const void *), size_t *n)
{
	int fd = bpf_map__fd(map);
	size_t cap = 0;
	char *v = NULL, *grown;

	*n = 0;
	for (;;) {
		/* the key to go on from: the last one read (v may move) */
		char *prev = *n ? v + (*n - 1) * elem_size : NULL;
		char *elem;

		if (*n == cap) {
			cap = cap ? cap * 2 : 64;
			grown = realloc(v, cap * elem_size);
			if (!grown) {
				free(v);
				*n = 1;
				return NULL;
			}
			v = grown;
			prev = *n ? v + (*n - 1) * elem_size : NULL;
		}
		elem = v + *n * elem_size;
		if (bpf_map_get_next_key(fd, prev, elem))
			break;
		/* an entry deleted meanwhile is skipped: go on from prev */
		if (bpf_map_lookup_elem(fd, elem, elem + val_off) == 0)
			(*n)++;
		else if (!prev)
			break;
	}
	if (*n && cmp)
		qsort(v, *n, elem_size, cmp);
	if (!*n) {
		free(v);
		return NULL;
	}
	return v;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* ---- options ----------------------------------------------------------- */

enum {
	KEY_PID = 0x1000,
	KEY_TID,
	KEY_UID,
	KEY_CGROUP,
	KEY_NAME,
	KEY_DURATION,
	KEY_TIMESTAMP,
	KEY_JSON,
	KEY_ATTACH,
	KEY_BUFSIZE,
	KEY_VERBOSE,
	KEY_HELP,
	KEY_METRICS,
	KEY_METRICS_FILE,
};

#define GROUP_COMMON 50

struct common_opt {
	int key;
	char shortopt;
	unsigned int bit; /* enum kit_common, 0: always offered */
	struct argp_option opt;
};

static const struct common_opt common_opts[] = {
	{ KEY_PID, 'p', KIT_OPT_PID, { "pid", 0, "PID[,PID...]", 0,
	  "Trace only these processes (all their threads); exit when they "
	  "have all exited" } },
	{ KEY_TID, 't', KIT_OPT_TID, { "tid", 0, "TID", 0,
	  "Trace only this thread" } },
	{ KEY_UID, 'u', KIT_OPT_UID, { "uid", 0, "UID", 0,
	  "Trace only this user id" } },
	{ KEY_CGROUP, 0, KIT_OPT_CGROUP, { "cgroup", 0, "PATH", 0,
	  "Trace only tasks in this cgroup or below it (cgroup v2, or a v1 "
	  "controller hierarchy, e.g. /sys/fs/cgroup/memory/NAME)" } },
	{ KEY_NAME, 'n', KIT_OPT_NAME, { "name", 0, "COMM", 0,
	  "Trace only processes whose name (comm) is COMM" } },
	{ KEY_DURATION, 'd', KIT_OPT_DURATION, { "duration", 0, "SECONDS", 0,
	  "Stop after SECONDS (fractions allowed)" } },
	{ KEY_TIMESTAMP, 'T', KIT_OPT_TIMESTAMP, { "timestamp", 0, NULL, 0,
	  "Include a timestamp column" } },
	{ KEY_JSON, 'j', KIT_OPT_JSON, { "json", 0, NULL, 0,
	  "Print NDJSON: one JSON object per line, every field" } },
	{ KEY_ATTACH, 0, 0, { "attach", 0, "MECH[,MECH...]", 0,
	  "Use only these attach mechanisms: tp_btf, raw_tp, tracepoint, "
	  "fentry, kprobe (default: all, best first; also $BPFKIT_ATTACH)" } },
	{ KEY_BUFSIZE, 0, 0, { "buffer-size", 0, "KB", 0,
	  "Ring buffer size in KiB, a power of two (default 2048)" } },
	{ KEY_VERBOSE, 'v', 0, { "verbose", 0, NULL, 0,
	  "Print attach decisions and libbpf's debug log" } },
	{ KEY_METRICS, 0, 0, { "metrics", 0, "ADDR:PORT", 0,
	  "Serve Prometheus/OpenMetrics metrics at http://ADDR:PORT/metrics "
	  "(:PORT for every address)" } },
	{ KEY_METRICS_FILE, 0, 0, { "metrics-file", 0, "PATH", 0,
	  "Write the metrics to PATH (atomically) every interval, or every "
	  "5 s, for node_exporter's textfile collector" } },
	{ KEY_HELP, 'h', 0, { "help", 0, NULL, 0, "Show this help" } },
};

#define NCOMMON (sizeof(common_opts) / sizeof(common_opts[0]))

struct parse_ctx {
	struct kit *kit;
	int keys[NCOMMON];	/* the argp key each common option got */
	int npos;		/* positional arguments seen */
	FILE *quiet;		/* swallows argp's "Try --help" line */
};

static int parse_mechs(const char *s, unsigned int *mask)
{
	char buf[128], *tok, *save = NULL;
	int m;

	if (!*s || strlen(s) >= sizeof(buf) || s[0] == ',' ||
	    s[strlen(s) - 1] == ',' || strstr(s, ",,"))
		return -1;	/* empty items: strtok would skip them */
	strcpy(buf, s);
	*mask = 0;
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		for (m = 0; m < KIT_MECH_NR; m++)
			if (!strcmp(tok, kit_mech_name(m)))
				break;
		if (m == KIT_MECH_NR)
			return -1;
		*mask |= 1u << m;
	}
	return *mask ? 0 : -1;
}

static void parse_common(struct kit *kit, int key, char *arg,
			 struct argp_state *state)
{
	struct kit_opts *o = &kit->opts;
	const char *why;
	uint64_t v, list[KIT_MAX_TARGET_PIDS];
	size_t n = 0, i;

	switch (key) {
	case KEY_PID:
		if (kit_parse_u64_list(arg, 1, 4194304, list,
				       KIT_MAX_TARGET_PIDS - o->npids, &n, &why))
			kit_usage_error("invalid PID list '%s': %s", arg, why);
		for (i = 0; i < n; i++)
			o->pids[o->npids++] = list[i];
		break;
	case KEY_TID:
		o->tid = kit_arg_u64("TID", arg, 1, 4194304);
		break;
	case KEY_UID:
		o->uid = kit_arg_u64("UID", arg, 0, 4294967294u);
		o->has_uid = true;
		break;
	case KEY_CGROUP:
		o->cgroup = arg;
		break;
	case KEY_NAME:
		if (!*arg || strlen(arg) >= sizeof(o->comm))
			kit_usage_error("invalid name '%s': must be 1 to %zu "
					"characters (a comm)",
					arg, sizeof(o->comm) - 1);
		strcpy(o->comm, arg);
		o->has_comm = true;
		break;
	case KEY_DURATION:
		if (kit_parse_seconds(arg, &o->duration_ns, &why))
			kit_usage_error("invalid duration '%s': %s", arg, why);
		break;
	case KEY_TIMESTAMP:
		o->timestamp = true;
		break;
	case KEY_JSON:
		o->json = true;
		break;
	case KEY_ATTACH:
		if (parse_mechs(arg, &o->mechs))
			kit_usage_error("invalid --attach '%s': expected a list "
					"of tp_btf, raw_tp, tracepoint, fentry, "
					"kprobe", arg);
		break;
	case KEY_BUFSIZE:
		v = kit_arg_u64("buffer size", arg, 4, 1 << 20);
		if (v & (v - 1))
			kit_usage_error("invalid buffer size '%s': not a power "
					"of two", arg);
		o->ringbuf_bytes = v * 1024;
		break;
	case KEY_VERBOSE:
		o->verbose++;
		kit_verbosity = o->verbose;
		break;
	case KEY_HELP:
		argp_state_help(state, stdout, ARGP_HELP_STD_HELP);
		break;
	case KEY_METRICS:
		o->metrics_addr = arg;
		break;
	case KEY_METRICS_FILE:
		o->metrics_file = arg;
		break;
	}
}

static error_t parse_arg(int key, char *arg, struct argp_state *state)
{
	struct parse_ctx *ctx = state->input;
	struct kit *kit = ctx->kit;
	const struct kit_tool *t = kit->tool;
	const char *why;
	size_t i;

	for (i = 0; i < NCOMMON; i++) {
		if (ctx->keys[i] && key == ctx->keys[i]) {
			parse_common(kit, common_opts[i].key, arg, state);
			return 0;
		}
	}
	switch (key) {
	case ARGP_KEY_INIT:
		/* getopt says what is wrong in one line; drop argp's hint. */
		if (ctx->quiet)
			state->err_stream = ctx->quiet;
		return 0;
	case ARGP_KEY_ARG:
		if (!t->interval_args || ctx->npos >= 2)
			kit_usage_error("unexpected argument '%s'", arg);
		if (ctx->npos++ == 0) {
			if (kit_parse_seconds(arg, &kit->opts.interval_ns,
					      &why))
				kit_usage_error("invalid interval '%s': %s",
						arg, why);
		} else {
			kit->opts.count = kit_arg_u64("count", arg, 1,
						      UINT32_MAX);
		}
		return 0;
	}
	if (t->parse) {
		error_t err = t->parse(key, arg, state);

		if (err != ARGP_ERR_UNKNOWN)
			return err;
	}
	return ARGP_ERR_UNKNOWN;
}

static void parse_args(struct kit *kit, int argc, char **argv)
{
	const struct kit_tool *t = kit->tool;
	struct argp_option *opts;
	struct parse_ctx ctx = { .kit = kit };
	size_t ntool = 0, n = 0, i;
	char args_doc[128] = "", doc[4096];
	int split = argc;
	struct argp argp;

	/* Everything after "--" is the command to run. */
	for (i = 1; i < (size_t)argc; i++) {
		if (!strcmp(argv[i], "--")) {
			split = i;
			break;
		}
	}
	if (split < argc) {
		if (t->no_common & KIT_OPT_COMMAND)
			kit_usage_error("this tool does not run a command "
					"(unexpected '--')");
		if (split + 1 >= argc)
			kit_usage_error("'--' must be followed by a command");
		kit->opts.command = &argv[split + 1];
		argv[split] = NULL;
	}

	while (t->options && (t->options[ntool].name || t->options[ntool].key ||
			      t->options[ntool].doc))
		ntool++;
	opts = calloc(ntool + NCOMMON + 2, sizeof(*opts));
	if (!opts)
		exit(1);
	memcpy(opts, t->options, ntool * sizeof(*opts));
	n = ntool;
	opts[n++] = (struct argp_option){ .doc = "Common options:",
					  .group = GROUP_COMMON };
	for (i = 0; i < NCOMMON; i++) {
		const struct common_opt *c = &common_opts[i];

		if ((c->bit & t->no_common) ||
		    (c->key == KEY_BUFSIZE && !t->event))
			continue;
		opts[n] = c->opt;
		opts[n].group = GROUP_COMMON;
		opts[n].key = c->shortopt && !(c->bit & t->long_only) ?
				      c->shortopt :
				      c->key;
		if (c->key == KEY_CGROUP && t->cgroup_short)
			opts[n].key = t->cgroup_short;
		ctx.keys[i] = opts[n].key;
		n++;
	}
	if (t->interval_args)
		strcat(args_doc, "[INTERVAL [COUNT]] ");
	if (!(t->no_common & KIT_OPT_COMMAND))
		strcat(args_doc, "[-- COMMAND [ARGS...]]");
	snprintf(doc, sizeof(doc), "%s\v%s%s", t->doc,
		 t->examples ? t->examples : "",
		 "\nExit status: 0 on success (with -- COMMAND: the command's), "
		 "1 on a run-time failure, 2 on a usage error.");
	argp = (struct argp){ .options = opts, .parser = parse_arg,
			      .args_doc = args_doc, .doc = doc };
	argp_err_exit_status = 2;
	/* getopt names the program by argv[0]: make it the tool's name */
	argv[0] = (char *)t->name;
	ctx.quiet = fopen("/dev/null", "w");
	argp_parse(&argp, split, argv, ARGP_NO_HELP, NULL, &ctx);
	if (ctx.quiet)
		fclose(ctx.quiet);
	free(opts);
}

/* A regular file we may execute (access() says yes to directories). */
static bool is_executable(const char *path)
{
	struct stat st;

	errno = 0;
	if (access(path, X_OK) || stat(path, &st))
		return false;
	if (!S_ISREG(st.st_mode) || !(st.st_mode & 0111)) {
		errno = S_ISDIR(st.st_mode) ? EISDIR : EACCES;
		return false;
	}
	return true;
}

/* Reject what cannot work before anything is loaded. */
static void validate(struct kit *kit)
{
	struct kit_opts *o = &kit->opts;
	size_t i;

	for (i = 0; i < o->npids; i++)
		if (kill(o->pids[i], 0) && errno == ESRCH)
			kit_usage_error("no such process: %u", o->pids[i]);
	if (o->tid && access("/proc/self/task", F_OK) == 0) {
		char path[64];

		snprintf(path, sizeof(path), "/proc/%u", o->tid);
		if (access(path, F_OK))
			kit_usage_error("no such thread: %u", o->tid);
	}
	if (o->command && o->npids)
		kit_usage_error("-p and -- COMMAND cannot be combined");
	if (o->command && !strchr(o->command[0], '/')) {
		const char *path = getenv("PATH");
		char *dirs, *d, *save = NULL, full[4096];
		bool found = false;

		dirs = strdup(path ? path : "/usr/bin:/bin");
		for (d = strtok_r(dirs, ":", &save); d && !found;
		     d = strtok_r(NULL, ":", &save)) {
			snprintf(full, sizeof(full), "%s/%s", d,
				 o->command[0]);
			found = is_executable(full);
		}
		free(dirs);
		if (!found)
			kit_usage_error("command not found: %s",
					o->command[0]);
	} else if (o->command && !is_executable(o->command[0])) {
		kit_usage_error("cannot run %s: %s", o->command[0],
				errno ? strerror(errno) : "not an executable file");
	}
}

/* ---- environment checks ------------------------------------------------ */

static bool has_cap(const struct __user_cap_data_struct *d, int cap)
{
	return d[cap / 32].effective & (1u << (cap % 32));
}

static int check_privileges(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2] = {};

	if (syscall(SYS_capget, &hdr, data))
		return 0; /* cannot tell: let the kernel decide */
	if (has_cap(data, CAP_SYS_ADMIN) ||
	    (has_cap(data, 39 /* CAP_BPF */) &&
	     has_cap(data, 38 /* CAP_PERFMON */)))
		return 0;
	kit_error("need CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN: run as "
		  "root");
	return -1;
}

static int check_btf(void)
{
	if (access("/sys/kernel/btf/vmlinux", R_OK) == 0)
		return 0;
	kit_error("kernel BTF not found at /sys/kernel/btf/vmlinux: these "
		  "CO-RE tools need a kernel built with CONFIG_DEBUG_INFO_BTF=y");
	return -1;
}

/* Filled into the object's kit_cfg by lib/attach.c on every (re)open. */
int kit_fill_cfg(struct kit *kit, struct kit_cfg *cfg)
{
	struct kit_opts *o = &kit->opts;

	memset(cfg, 0, sizeof(*cfg));
	cfg->targ_uid = o->has_uid ? o->uid : (unsigned int)-1;
	cfg->targ_tid = o->tid;
	cfg->filter_pid = o->npids || o->command;
	cfg->follow_forks = !!o->command;
	cfg->rb_wakeup_bytes = o->ringbuf_bytes / 4;
	if (o->has_comm) {
		cfg->filter_comm = 1;
		memcpy(cfg->comm, o->comm, sizeof(cfg->comm));
	}
	if (kit->priv->has_cg) {
		const struct kit_cgroup *cg = &kit->priv->cg;

		cfg->filter_cgroup = 1;
		cfg->cgroup_v2 = cg->v2;
		cfg->cgroup_hierarchy = cg->hierarchy;
		cfg->cgroup_id = cg->id;
	}
	return 0;
}

/* ---- the -- COMMAND child ---------------------------------------------- */

/* Fork the command now; it waits until everything is attached. */
static int start_child(struct kit *kit, const sigset_t *oldmask)
{
	struct kit_priv *p = kit->priv;
	int fds[2];
	pid_t pid;
	char c;

	if (pipe2(fds, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		close(fds[1]);
		signal(SIGPIPE, SIG_DFL);
		sigprocmask(SIG_SETMASK, oldmask, NULL);
		/* EOF instead of "go": the tool failed, do not run. */
		if (read(fds[0], &c, 1) != 1)
			_exit(127);
		execvp(kit->opts.command[0], kit->opts.command);
		fprintf(stderr, "%s: cannot run %s: %s\n", kit_progname,
			kit->opts.command[0], strerror(errno));
		_exit(127);
	}
	close(fds[0]);
	p->go_fd = fds[1];
	kit->child_pid = pid;
	return 0;
}

static void release_child(struct kit *kit)
{
	struct kit_priv *p = kit->priv;

	if (p->go_fd >= 0) {
		if (write(p->go_fd, "g", 1) != 1)
			kit_error("failed to start the command");
		close(p->go_fd);
		p->go_fd = -1;
	}
}

/* ---- the event loop ---------------------------------------------------- */

static int handle_record(void *ctx, void *data, size_t size)
{
	struct kit *kit = ctx;

	kit->events++;
	return kit->tool->event(kit, data, size);
}

static uint64_t read_stat(struct kit *kit, enum kit_stat stat)
{
	struct kit_priv *p = kit->priv;
	struct bpf_map *map = kit_map(kit, "kit_stats");
	uint32_t key = stat;
	uint64_t sum = 0;
	int i;

	if (!map || !p->percpu ||
	    bpf_map_lookup_elem(bpf_map__fd(map), &key, p->percpu))
		return 0;
	for (i = 0; i < p->ncpus; i++)
		sum += p->percpu[i];
	return sum;
}

/*
 * Runs of our programs the kernel skipped: a tracepoint or kprobe program
 * does not run while another BPF program runs on that CPU, and such an
 * event never reaches us. Counted by the kernel per program (5.12+).
 */
static uint64_t read_missed(struct kit *kit)
{
	struct bpf_program *prog;
	uint64_t sum = 0;

	if (!kit->obj)
		return 0;
	bpf_object__for_each_program(prog, kit->obj) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		int fd = bpf_program__fd(prog);

		if (fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &len))
			sum += info.recursion_misses;
	}
	return sum;
}

static void check_lost(struct kit *kit)
{
	uint64_t lost = read_stat(kit, KIT_STAT_LOST);
	uint64_t missed = read_missed(kit);

	if (missed > kit->missed) {
		kit_error("WARNING: %llu events missed (the kernel skipped our "
			  "program while another BPF program ran on that CPU)",
			  (unsigned long long)(missed - kit->missed));
		kit->missed = missed;
	}

	if (lost > kit->lost) {
		kit_error("WARNING: %llu events lost%s",
			  (unsigned long long)(lost - kit->lost),
			  kit->tool->event ? " (ring buffer full; a larger "
					     "--buffer-size may help)" :
					     " (the kernel could not record "
					     "them)");
		kit->lost = lost;
	}
}

static int add_fd(struct kit_priv *p, int fd, uint64_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };

	return epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev);
}

enum { TAG_SIGNAL = 1, TAG_TIMER, TAG_RING, TAG_METRICS, TAG_PID = 100 };

static int setup_loop(struct kit *kit, const sigset_t *mask)
{
	struct kit_priv *p = kit->priv;
	size_t i;

	p->epfd = epoll_create1(EPOLL_CLOEXEC);
	p->sigfd = signalfd(-1, mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (p->epfd < 0 || p->sigfd < 0 || add_fd(p, p->sigfd, TAG_SIGNAL))
		return -1;
	if (kit->tool->event) {
		struct bpf_map *map = kit_map(kit, "kit_events");

		p->rb = ring_buffer__new(bpf_map__fd(map), handle_record, kit,
					 NULL);
		if (!p->rb)
			return -1;
		if (add_fd(p, ring_buffer__epoll_fd(p->rb), TAG_RING))
			return -1;
	}
	if (kit->opts.interval_ns) {
		struct itimerspec its = {
			.it_value.tv_sec = kit->opts.interval_ns / 1000000000,
			.it_value.tv_nsec = kit->opts.interval_ns % 1000000000,
		};

		its.it_interval = its.it_value;
		p->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
		if (p->timerfd < 0 || timerfd_settime(p->timerfd, 0, &its, NULL) ||
		    add_fd(p, p->timerfd, TAG_TIMER))
			return -1;
	}
	for (i = 0; i < kit->opts.npids; i++) {
		p->pidfds[i] = syscall(SYS_pidfd_open, kit->opts.pids[i], 0);
		if (p->pidfds[i] >= 0)
			add_fd(p, p->pidfds[i], TAG_PID + i);
	}
	p->ncpus = libbpf_num_possible_cpus();
	if (p->ncpus > 0)
		p->percpu = calloc(p->ncpus, sizeof(*p->percpu));
	if (kit->opts.duration_ns)
		p->deadline_ns = now_ns() + kit->opts.duration_ns;
	return 0;
}

static void on_signal(struct kit *kit)
{
	struct kit_priv *p = kit->priv;
	struct signalfd_siginfo si;
	int status;

	while (read(p->sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo != SIGCHLD) {
			kit_verbose("signal %d: exiting", si.ssi_signo);
			kit->exiting = true;
			continue;
		}
		if (kit->child_pid && !p->child_done &&
		    waitpid(kit->child_pid, &status, WNOHANG) ==
			    kit->child_pid) {
			p->child_done = true;
			p->child_status = WIFEXITED(status) ?
						  WEXITSTATUS(status) :
						  128 + WTERMSIG(status);
			kit->exiting = true;
		}
	}
}

/* A -p target exited: stop once they all have. */
static void on_pid_exit(struct kit *kit, size_t idx)
{
	struct kit_priv *p = kit->priv;
	size_t i;

	epoll_ctl(p->epfd, EPOLL_CTL_DEL, p->pidfds[idx], NULL);
	close(p->pidfds[idx]);
	p->pidfds[idx] = -1;
	for (i = 0; i < kit->opts.npids; i++)
		if (p->pidfds[i] >= 0)
			return;
	kit_error("traced process%s exited", kit->opts.npids > 1 ? "es" : "");
	kit->exiting = true;
}

static int drain(struct kit *kit)
{
	struct kit_priv *p = kit->priv;
	int n;

	if (!p->rb)
		return 0;
	n = ring_buffer__consume(p->rb);
	if (n < 0 && kit->out.err == 0 && n != -EINTR) {
		kit_error("reading events failed: %s", strerror(-n));
		return -1;
	}
	return kit->out.err ? -1 : 0;
}

static int run_interval(struct kit *kit, bool final)
{
	if (!kit->tool->interval)
		return 0;
	kit->intervals++;
	return kit->tool->interval(kit, kit->skel, final);
}

static int event_loop(struct kit *kit)
{
	struct kit_priv *p = kit->priv;
	uint64_t last_lost_check = now_ns();
	bool count_done = false;

	while (!kit->exiting) {
		struct epoll_event evs[8];
		int timeout = p->rb ? DRAIN_MS : -1;
		int i, n;

		if (p->deadline_ns) {
			uint64_t now = now_ns();
			int left = now >= p->deadline_ns ?
					   0 :
					   (p->deadline_ns - now + 999999) /
						   1000000;

			if (timeout < 0 || left < timeout)
				timeout = left;
		}
		timeout = kit_metrics_timeout(kit, timeout);
		n = epoll_wait(p->epfd, evs, 8, timeout);
		if (n < 0 && errno != EINTR) {
			kit_error("epoll_wait: %s", strerror(errno));
			return -1;
		}
		for (i = 0; i < n; i++) {
			uint64_t tag = evs[i].data.u64, ticks;

			if (tag == TAG_SIGNAL) {
				on_signal(kit);
			} else if (tag == TAG_TIMER) {
				if (read(p->timerfd, &ticks, sizeof(ticks)) < 0)
					continue;
				if (drain(kit) || run_interval(kit, false))
					return -1;
				if (kit->opts.count &&
				    kit->intervals >= kit->opts.count) {
					count_done = true;
					kit->exiting = true;
				}
			} else if (tag >= TAG_PID) {
				on_pid_exit(kit, tag - TAG_PID);
			}
		}
		kit_metrics_run(kit);
		if (drain(kit))
			return -1;
		if (p->deadline_ns && now_ns() >= p->deadline_ns)
			kit->exiting = true;
		if (now_ns() - last_lost_check > 1000000000ULL) {
			check_lost(kit);
			last_lost_check = now_ns();
		}
		if (kit_out_flush(&kit->out))
			return -1;
	}
	/* What arrived before the end still counts. */
	if (drain(kit))
		return -1;
	if (!count_done && kit->tool->interval && run_interval(kit, true))
		return -1;
	return 0;
}

static void report_output_error(struct kit *kit)
{
	/* A reader that went away (| head) is a normal way to end. */
	if (kit->out.err && kit->out.err != EPIPE)
		kit_error("write error: %s", strerror(kit->out.err));
}

/* ---- main -------------------------------------------------------------- */

static void priv_init(struct kit_priv *p)
{
	size_t i;

	memset(p, 0, sizeof(*p));
	p->epfd = p->sigfd = p->timerfd = p->go_fd = -1;
	for (i = 0; i < KIT_MAX_TARGET_PIDS; i++)
		p->pidfds[i] = -1;
}

static void priv_free(struct kit_priv *p)
{
	size_t i;

	ring_buffer__free(p->rb);
	for (i = 0; i < KIT_MAX_TARGET_PIDS; i++)
		if (p->pidfds[i] >= 0)
			close(p->pidfds[i]);
	if (p->timerfd >= 0)
		close(p->timerfd);
	if (p->sigfd >= 0)
		close(p->sigfd);
	if (p->epfd >= 0)
		close(p->epfd);
	if (p->go_fd >= 0)
		close(p->go_fd);
	free(p->percpu);
}

/* --cgroup: v2, the cgroup's fd for the kernel to test against; v1, the
 * processes there now (the BPF side tracks them from here on). */
static int fill_cgroup_maps(struct kit *kit)
{
	struct kit_priv *p = kit->priv;
	uint32_t zero = 0;
	int fd, err;

	if (!p->has_cg)
		return 0;
	if (!p->cg.v2)
		return kit_cgroup_seed(kit->opts.cgroup,
				       bpf_map__fd(kit_map(kit, "kit_cg_pids")));
	fd = open(kit->opts.cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	err = bpf_map_update_elem(bpf_map__fd(kit_map(kit, "kit_cgroup")),
				  &zero, &fd, BPF_ANY);
	close(fd);
	return err;
}

static int fill_pid_map(struct kit *kit)
{
	struct bpf_map *map = kit_map(kit, "kit_pids");
	uint8_t one = 1;
	uint32_t pid;
	size_t i;

	for (i = 0; i < kit->opts.npids + (kit->child_pid ? 1 : 0); i++) {
		pid = i < kit->opts.npids ? kit->opts.pids[i] :
					    (uint32_t)kit->child_pid;
		if (!map || bpf_map_update_elem(bpf_map__fd(map), &pid, &one,
						BPF_ANY)) {
			kit_error("failed to set the PID filter: %s",
				  strerror(errno));
			return -1;
		}
	}
	return 0;
}

int kit_main(const struct kit_tool *tool, int argc, char **argv)
{
	struct kit_priv priv;
	struct kit kit = { .tool = tool, .priv = &priv };
	sigset_t mask, oldmask;
	const char *env;
	int ret = 1;

	kit_progname = tool->name;
	priv_init(&priv);
	kit.opts.mechs = KIT_MECH_ALL;
	kit.opts.ringbuf_bytes = tool->ringbuf_bytes ? tool->ringbuf_bytes :
						       DEFAULT_RINGBUF;
	env = getenv("BPFKIT_ATTACH");
	if (env && *env && parse_mechs(env, &kit.opts.mechs))
		kit_usage_error("invalid BPFKIT_ATTACH '%s'", env);
	parse_args(&kit, argc, argv);
	if (!tool->event)
		kit.opts.ringbuf_bytes = 4096; /* no events: a token buffer */
	validate(&kit);
	if (kit.opts.cgroup) {
		char err[256];

		if (kit_cgroup_resolve(kit.opts.cgroup, &priv.cg, err,
				       sizeof(err)))
			kit_usage_error("%s", err);
		priv.has_cg = true;
		kit_verbose("cgroup filter: id %llu (%s)",
			    (unsigned long long)priv.cg.id,
			    priv.cg.v2 ? "v2" : priv.cg.controller);
	}
	kit_metrics_open(&kit);
	if (check_privileges() || check_btf())
		return 1;
	libbpf_set_print(kit_libbpf_print);
	kit_out_init(&kit.out, stdout,
		     kit.opts.json ? KIT_FMT_JSON : KIT_FMT_TEXT, tool->cols,
		     tool->ncols);

	/* Signals arrive through a signalfd; writes to a closed pipe fail
	 * with EPIPE instead of killing us mid-teardown. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, &oldmask);
	signal(SIGPIPE, SIG_IGN);

	if (kit.opts.command && start_child(&kit, &oldmask)) {
		kit_error("cannot start %s: %s", kit.opts.command[0],
			  strerror(errno));
		goto cleanup;
	}
	kit_attach_init(&kit);
	if (kit_open_load_attach(&kit))
		goto cleanup;
	if (fill_pid_map(&kit) || fill_cgroup_maps(&kit) ||
	    setup_loop(&kit, &mask)) {
		if (!kit.out.err)
			kit_error("setup failed: %s", strerror(errno));
		goto cleanup;
	}
	if (kit_metrics_start(&kit, priv.epfd, TAG_METRICS))
		goto cleanup;
	if (tool->start && tool->start(&kit, kit.skel))
		goto cleanup;
	if (kit_out_flush(&kit.out))
		goto cleanup;
	fprintf(stderr, "%s... Hit Ctrl-C to end.\n",
		tool->tracing ? tool->tracing : "Tracing");
	release_child(&kit);

	if (event_loop(&kit))
		goto cleanup;
	if (tool->finish && tool->finish(&kit, kit.skel))
		goto cleanup;
	if (kit_out_flush(&kit.out))
		goto cleanup;
	ret = kit.child_pid ? priv.child_status : 0;
cleanup:
	check_lost(&kit);
	if (kit.lost || kit.missed || kit_verbosity > 0)
		kit_error("%llu events, %llu lost, %llu missed",
			  (unsigned long long)kit.events,
			  (unsigned long long)kit.lost,
			  (unsigned long long)kit.missed);
	report_output_error(&kit);
	if (kit.out.err == EPIPE && ret == 1)
		ret = 0;
	kit_metrics_stop(&kit);
	kit_detach(&kit);
	if (kit.child_pid && !priv.child_done) {
		if (priv.go_fd >= 0) {
			/* Never started: EOF on its pipe makes it exit. */
			close(priv.go_fd);
			priv.go_fd = -1;
			waitpid(kit.child_pid, NULL, 0);
		} else {
			/* We are going away: so does the command we ran. */
			kill(kit.child_pid, SIGTERM);
		}
	}
	priv_free(&priv);
	kit_out_free(&kit.out);
	return ret;
}
