// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * readlat: latency histograms of read-family system calls (read, readv,
 * pread64, preadv, preadv2; recvfrom and recvmsg on request), total or per
 * process, failed reads apart, and (--size) the bytes they returned.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>

#include "escape.h"
#include "hist.h"
#include "kit.h"
#include "metrics.h"
#include "readlat.h"
#include "readlat.skel.h"

enum { SYS_READ, SYS_READV, SYS_PREAD64, SYS_PREADV, SYS_PREADV2,
       SYS_RECVFROM, SYS_RECVMSG, NSYS };

static const char *const sys_names[NSYS] = {
	"read", "readv", "pread64", "preadv", "preadv2", "recvfrom", "recvmsg",
};

#ifndef __NR_preadv2
#define __NR_preadv2 -1
#endif
#ifndef __NR_recvfrom
#define __NR_recvfrom -1
#endif
#ifndef __NR_recvmsg
#define __NR_recvmsg -1
#endif

/* Their ids on this architecture, for the raw_syscalls path (-1: none). */
static const int sys_ids[NSYS] = {
	__NR_read, __NR_readv, __NR_pread64, __NR_preadv, __NR_preadv2,
	__NR_recvfrom, __NR_recvmsg,
};

static struct {
	bool per_process;
	bool size;
	bool ftype;
	bool syscalls[NSYS];
	const struct hist_unit *unit;
} env = {
	.syscalls = { true, true, true, true, true },
	.unit = &HIST_NSECS,
};

enum { KEY_SYSCALLS = 0x2000, KEY_SIZE, KEY_UNIT };

static const struct argp_option options[] = {
	{ "per-process", 'P', NULL, 0, "A histogram per process" },
	{ "file-type", 'F', NULL, 0,
	  "A histogram per type of file read: file, pipe, socket, tty, "
	  "other" },
	{ "size", KEY_SIZE, NULL, 0,
	  "Also a histogram of the bytes each successful read returned" },
	{ "syscalls", KEY_SYSCALLS, "LIST", 0,
	  "The system calls to trace, comma-separated, from read, readv, "
	  "pread64, preadv, preadv2, recvfrom, recvmsg (default: the first "
	  "five)" },
	{ "unit", KEY_UNIT, "UNIT", 0,
	  "Latency unit: ns (default), us or ms" },
	{},
};

static void parse_syscalls(const char *arg)
{
	char buf[256], *tok, *save = NULL;
	int i;

	if (!*arg || strlen(arg) >= sizeof(buf) || arg[0] == ',' ||
	    arg[strlen(arg) - 1] == ',' || strstr(arg, ",,"))
		kit_usage_error("invalid --syscalls '%s': an empty item", arg);
	strcpy(buf, arg);
	memset(env.syscalls, 0, sizeof(env.syscalls));
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		for (i = 0; i < NSYS; i++)
			if (!strcmp(tok, sys_names[i]))
				break;
		if (i == NSYS)
			kit_usage_error("unknown system call '%s' in "
					"--syscalls (read, readv, pread64, "
					"preadv, preadv2, recvfrom, recvmsg)",
					tok);
		env.syscalls[i] = true;
	}
}

static error_t parse_arg(int key, char *arg, struct argp_state *state)
{
	switch (key) {
	case 'P':
		env.per_process = true;
		break;
	case 'F':
		env.ftype = true;
		break;
	case KEY_SIZE:
		env.size = true;
		break;
	case KEY_SYSCALLS:
		parse_syscalls(arg);
		break;
	case KEY_UNIT:
		if (!strcmp(arg, "ns"))
			env.unit = &HIST_NSECS;
		else if (!strcmp(arg, "us"))
			env.unit = &HIST_USECS;
		else if (!strcmp(arg, "ms"))
			env.unit = &HIST_MSECS;
		else
			kit_usage_error("invalid --unit '%s': ns, us or ms",
					arg);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

/* -P and -F need keys (a hash map); else an array of totals by kind. */
static bool keyed(void)
{
	return env.per_process || env.ftype;
}

struct print_ctx {
	struct kit *kit;
	struct strbuf sb;
	int keys;
	bool none;	/* an interval without reads: no process, no type */
};

static const char *const kind_names[READLAT_NKINDS] = {
	"latency", "failed", "size",
};

static const char *const ftype_names[READLAT_NFTYPES] = {
	"any", "file", "pipe", "socket", "tty", "other",
};

static const char *ftype_name(const struct readlat_key *key)
{
	return ftype_names[key->ftype < READLAT_NFTYPES ? key->ftype :
							  READLAT_FT_OTHER];
}

static int print_one(const void *k, const struct hist *h, void *arg)
{
	const struct readlat_key *key = k;
	const struct hist_unit *unit =
		key->kind == READLAT_SIZE ? &HIST_BYTES : env.unit;
	struct print_ctx *ctx = arg;
	struct timespec ts;
	char now[32];
	struct tm tm;
	struct jw w;

	ctx->keys++;
	if (ctx->kit->opts.json) {
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm);
		jw_init(&w, &ctx->sb);
		jw_obj_begin(&w);
		jw_kv_str(&w, "time", now);
		jw_kv_u64(&w, "interval", ctx->kit->intervals);
		jw_key(&w, "pid");
		if (env.per_process && !ctx->none)
			jw_u64(&w, key->tgid);
		else
			jw_null(&w);
		jw_key(&w, "comm");
		if (env.per_process && !ctx->none)
			jw_strn(&w, key->comm, strnlen(key->comm, 16));
		else
			jw_null(&w);
		jw_key(&w, "file_type");
		if (env.ftype && !ctx->none)
			jw_str(&w, ftype_name(key));
		else
			jw_null(&w);
		jw_kv_str(&w, "kind", kind_names[key->kind % READLAT_NKINDS]);
		hist_json(&w, h, unit);
		jw_obj_end(&w);
		sb_putc(&ctx->sb, '\n');
		return 0;
	}
	sb_putc(&ctx->sb, '\n');
	if (env.per_process && !ctx->none) {
		sb_printf(&ctx->sb, "pid = %u, comm = ", key->tgid);
		kit_escape_text(&ctx->sb, key->comm, strnlen(key->comm, 16));
		sb_puts(&ctx->sb, ", ");
	}
	if (env.ftype && !ctx->none)
		sb_printf(&ctx->sb, "file type = %s, ", ftype_name(key));
	sb_puts(&ctx->sb, key->kind == READLAT_OK ? "read latency\n" :
			  key->kind == READLAT_FAILED ? "failed reads\n" :
							"bytes returned\n");
	hist_print_log2(&ctx->sb, h, unit);
	hist_print_summary(&ctx->sb, h, unit);
	return 0;
}

/* --metrics: latency by result (ok, failed), and sizes; per process
 * with -P. */
static struct kit_family *lat_metric, *size_metric;

static void declare_metrics(struct kit_metrics *m)
{
	static uint64_t lat_bounds[160], size_bounds[160];
	uint64_t ns = env.unit->ns;
	struct kit_metric_desc d = {
		.name = "bpfkit_read_latency_seconds",
		.help = "Latency of read-family system calls, by result (ok "
			"or failed).",
		.type = KIT_HISTOGRAM,
		.unit = "seconds",
		.scale = kit_metrics_hist_scale(env.unit),
		.bounds = lat_bounds,
		.snapshot = true,
	};
	int n = 0;

	if (env.per_process) {
		d.labels[n++] = "pid";
		d.labels[n++] = "comm";
	}
	if (env.ftype)
		d.labels[n++] = "file_type";
	d.labels[n] = "result";
	/* 4 buckets per power of two, from 64 ns to about 34 s */
	d.nbounds = kit_metrics_hist_bounds(lat_bounds, 160,
					    ns < 64 ? 64 / ns : 1,
					    (1ULL << 35) / ns, 2);
	lat_metric = kit_metrics_family(m, &d);
	if (!env.size)
		return;
	d.name = "bpfkit_read_size_bytes";
	d.help = "Bytes returned by successful read-family system calls.";
	d.unit = "bytes";
	d.scale = 0;
	d.labels[n] = NULL;
	d.bounds = size_bounds;
	d.nbounds = kit_metrics_hist_bounds(size_bounds, 160, 1, 1ULL << 30,
					    2);
	size_metric = kit_metrics_family(m, &d);
}

static struct kit_series *metric_series(const struct readlat_key *key)
{
	char pid[16], comm[17];
	const char *v[4];
	int n = 0;

	if (env.per_process) {
		snprintf(pid, sizeof(pid), "%u", key->tgid);
		snprintf(comm, sizeof(comm), "%.16s", key->comm);
		v[n++] = pid;
		v[n++] = comm;
	}
	if (env.ftype)
		v[n++] = ftype_name(key);
	if (key->kind == READLAT_SIZE)
		return size_metric ? kit_series(size_metric, v) : NULL;
	v[n] = key->kind == READLAT_FAILED ? "failed" : "ok";
	return lat_metric ? kit_series(lat_metric, v) : NULL;
}

/* Before a scrape: what the kernel holds now, on top of what was kept
 * from the intervals drained so far. */
static int peek_one(const void *k, const struct hist *h, void *ctx)
{
	struct readlat_key total = { 0 };
	struct kit_series *s;

	/* from the array of totals, the key is the kind */
	if (!keyed()) {
		total.kind = *(const uint32_t *)k;
		k = &total;
	}
	s = metric_series(k);
	if (s)
		kit_hist_add_hist(s, h);
	return 0;
}

static int update_metrics(struct kit *kit, void *obj, struct kit_metrics *m)
{
	struct readlat_bpf *skel = obj;
	int n;

	if (keyed())
		n = kit_metrics_hist_peek(skel->maps.hists, peek_one, NULL);
	else
		n = kit_metrics_hist_peek_array(skel->maps.totals,
						READLAT_NKINDS, peek_one, NULL);
	return n < 0 ? -1 : 0;
}

/* Print in a stable order: by process, file type, then latency, failed,
 * size. */
struct entry {
	struct readlat_key key;
	struct hist *h;
};

struct collect {
	struct entry *v;
	size_t n, cap;
};

static int collect_one(const void *k, const struct hist *h, void *arg)
{
	struct collect *c = arg;
	struct entry *e;
	struct readlat_key total = { 0 };

	/* from the array of totals, the key is the kind */
	if (!keyed()) {
		total.kind = *(const uint32_t *)k;
		k = &total;
	}

	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		void *v = realloc(c->v, cap * sizeof(*c->v));

		if (!v)
			return -1;
		c->v = v;
		c->cap = cap;
	}
	if (lat_metric) {
		struct kit_series *s = metric_series(k);

		if (s)
			kit_hist_keep_hist(s, h);
	}
	e = &c->v[c->n];
	memcpy(&e->key, k, sizeof(e->key));
	e->h = malloc(sizeof(*h));
	if (!e->h)
		return -1;
	memcpy(e->h, h, sizeof(*h));
	c->n++;
	return 0;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct readlat_key *x = &((const struct entry *)a)->key;
	const struct readlat_key *y = &((const struct entry *)b)->key;

	if (x->tgid != y->tgid)
		return x->tgid < y->tgid ? -1 : 1;
	if (x->ftype != y->ftype)
		return x->ftype < y->ftype ? -1 : 1;
	return (int)x->kind - (int)y->kind;
}

/* Values a full map could not take, said once per interval that has some. */
static void report_drops(struct kit *kit)
{
	static uint64_t reported;
	uint64_t n = hist_dropped(kit->obj);

	if (n > reported)
		kit_error("warning: %llu values not counted: too many keys "
			  "(processes) for the histogram map",
			  (unsigned long long)(n - reported));
	reported = n;
}

static int print_interval(struct kit *kit, void *obj, bool final)
{
	struct readlat_bpf *skel = obj;
	struct print_ctx ctx = { .kit = kit };
	struct collect c = { 0 };
	static struct hist empty;
	struct timespec ts;
	struct tm tm;
	char now[16];
	size_t i;
	int gen, err = 0;

	if (kit->opts.timestamp && !kit->opts.json) {
		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		strftime(now, sizeof(now), "%H:%M:%S", &tm);
		sb_printf(&ctx.sb, "\n%s\n", now);
	}
	gen = hist_flip(kit->obj);
	if (gen < 0 ||
	    (keyed() ?
		     hist_drain(skel->maps.hists, gen, collect_one, &c) :
		     hist_drain_array(skel->maps.totals, gen, READLAT_NKINDS,
				      collect_one, &c)) < 0) {
		kit_error("reading the histograms failed");
		err = -1;
		goto cleanup;
	}
	if (c.n)
		qsort(c.v, c.n, sizeof(*c.v), cmp_entry);
	for (i = 0; i < c.n; i++)
		print_one(&c.v[i].key, c.v[i].h, &ctx);
	if (!c.n) {
		struct readlat_key none = { .kind = READLAT_OK };

		ctx.none = true;
		print_one(&none, &empty, &ctx);
	}
	err = kit_out_write(&kit->out, ctx.sb.buf, ctx.sb.len);
	report_drops(kit);
cleanup:
	for (i = 0; i < c.n; i++)
		free(c.v[i].h);
	free(c.v);
	sb_free(&ctx.sb);
	return err;
}

static int configure(struct kit *kit, void *obj)
{
	struct readlat_bpf *skel = obj;

	int i;

	skel->rodata->targ_per_process = env.per_process;
	skel->rodata->targ_size = env.size;
	skel->rodata->targ_ftype = env.ftype;
	skel->rodata->targ_unit_ns = env.unit->ns;
	skel->rodata->hist_preemptible = hist_preemptible_kernel();
	for (i = 0; i < NSYS; i++)
		if (env.syscalls[i] && sys_ids[i] >= 0 &&
		    sys_ids[i] < READLAT_MAX_ID)
			skel->rodata->targ_ids[sys_ids[i] / 64] |=
				1ULL << (sys_ids[i] % 64);
	if (kit->metrics)
		declare_metrics(kit->metrics);
	return 0;
}

/*
 * Per call, best first: its own tracepoint pair, so that only reads pay;
 * else (no tracefs, or --attach) raw_syscalls sys_enter/sys_exit, one
 * pair of programs for all the calls, which picks them by id but runs on
 * every syscall of the system. See docs/readlat.md for the costs.
 */
#define READ_HOOK(name, idx)                                                 \
	{ #name, KIT_HOOK_OPTIONAL, {                                        \
		{ KIT_MECH_TRACEPOINT, "syscalls/sys_exit_" #name,           \
		  { "enter_" #name, "exit_" #name } },                       \
		{ KIT_MECH_TP_BTF, "raw_syscalls/sys_exit",                  \
		  { "btf_sys_enter", "btf_sys_exit" } },                     \
		{ KIT_MECH_RAW_TP, "raw_syscalls/sys_exit",                  \
		  { "raw_sys_enter", "raw_sys_exit" } },                     \
	}, &env.syscalls[idx] }

static const struct kit_hook hooks[] = {
	READ_HOOK(read, SYS_READ),
	READ_HOOK(readv, SYS_READV),
	READ_HOOK(pread64, SYS_PREAD64),
	READ_HOOK(preadv, SYS_PREADV),
	READ_HOOK(preadv2, SYS_PREADV2),
	READ_HOOK(recvfrom, SYS_RECVFROM),
	READ_HOOK(recvmsg, SYS_RECVMSG),
	{},
};

static const struct kit_tool tool = {
	.name = "readlat",
	.doc = "Summarize the latency of read-family system calls as "
	       "histograms, with percentiles.",
	.examples =
		"Examples:\n"
		"  readlat                    # all reads until Ctrl-C\n"
		"  readlat 1 10               # ten 1-second intervals\n"
		"  readlat -p 1234 -P         # one process\n"
		"  readlat --size             # also the bytes returned\n"
		"  readlat -F                 # by file type (pipe, socket..)\n"
		"  readlat --syscalls read,recvfrom,recvmsg  # choose calls\n"
		"  readlat --unit us -T 5     # microseconds, timestamps\n"
		"  readlat -j -- ./server     # JSON, one command\n",
	.tracing = "Tracing read syscalls",
	.options = options,
	.parse = parse_arg,
	.interval_args = true,
	KIT_SKEL(readlat_bpf),
	.hooks = hooks,
	.configure = configure,
	.interval = print_interval,
	.metrics = update_metrics,
};

int main(int argc, char **argv)
{
	return kit_main(&tool, argc, argv);
}
