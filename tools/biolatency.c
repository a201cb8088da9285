// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * biolatency: block I/O latency histograms, per interval, per disk (-D) or
 * per I/O flags (-F), with percentiles.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hist.h"
#include "kit.h"
#include "metrics.h"
#include "biolatency.h"
#include "biolatency.skel.h"

static struct {
	bool ms;
	bool queued;
	bool per_disk;
	bool per_flag;
	const char *disk;
	uint32_t dev;
} env;

static bool not_queued = true;

static const struct argp_option options[] = {
	{ "milliseconds", 'm', NULL, 0, "Millisecond histogram" },
	{ "queued", 'Q', NULL, 0, "Include OS queued time (from insert)" },
	{ "disk", 'd', "DISK", 0, "Trace this disk only (e.g. sda, loop0)" },
	{ "disks", 'D', NULL, 0, "Print a histogram per disk" },
	{ "flag", 'F', NULL, 0, "Print a histogram per set of I/O flags" },
	{},
};

/* The kernel's dev_t of a disk, from /sys/class/block/NAME/dev. */
static int disk_dev(const char *name, uint32_t *dev)
{
	unsigned int ma, mi;
	char path[256];
	FILE *f;
	int n;

	if (strchr(name, '/') || strlen(name) > 64)
		return -1;
	snprintf(path, sizeof(path), "/sys/class/block/%s/dev", name);
	f = fopen(path, "re");
	if (!f)
		return -1;
	n = fscanf(f, "%u:%u", &ma, &mi);
	fclose(f);
	if (n != 2)
		return -1;
	*dev = ma << 20 | mi;
	return 0;
}

static error_t parse_arg(int key, char *arg, struct argp_state *state)
{
	switch (key) {
	case 'm':
		env.ms = true;
		break;
	case 'Q':
		env.queued = true;
		not_queued = false;
		break;
	case 'd':
		if (disk_dev(arg, &env.dev))
			kit_usage_error("no such disk: %s", arg);
		env.disk = arg;
		break;
	case 'D':
		env.per_disk = true;
		break;
	case 'F':
		env.per_flag = true;
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static void disk_name(uint32_t dev, char *buf, size_t len)
{
	struct dirent *de;
	uint32_t d;
	DIR *dir;

	snprintf(buf, len, "%u:%u", dev >> 20, dev & 0xfffff);
	dir = opendir("/sys/class/block");
	if (!dir)
		return;
	while ((de = readdir(dir))) {
		if (de->d_name[0] != '.' && !disk_dev(de->d_name, &d) &&
		    d == dev) {
			snprintf(buf, len, "%.63s", de->d_name);
			break;
		}
	}
	closedir(dir);
}

static void flags_name(uint32_t f, char *buf, size_t len)
{
	static const char *const ops[] = { "Other", "Read", "Write",
					   "Discard", "Flush", "SecureErase" };
	size_t off = 0;

	buf[0] = '\0';
	if (f & BIO_F_PREFLUSH)
		off += snprintf(buf + off, len - off, "Preflush-");
	if (f & BIO_F_SYNC)
		off += snprintf(buf + off, len - off, "Sync-");
	if (f & BIO_F_FUA)
		off += snprintf(buf + off, len - off, "FUA-");
	if (f & BIO_F_META)
		off += snprintf(buf + off, len - off, "Metadata-");
	if (f & BIO_F_AHEAD)
		off += snprintf(buf + off, len - off, "ReadAhead-");
	snprintf(buf + off, len - off, "%s", ops[(f & 0xff) % 6]);
}

struct print_ctx {
	struct kit *kit;
	struct strbuf sb;
	int keys;
};

static const struct hist_unit *unit(void)
{
	return env.ms ? &HIST_MSECS : &HIST_USECS;
}

static void wall_time(char *buf, size_t len, bool iso)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (iso) {
		gmtime_r(&ts.tv_sec, &tm);
		strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
	} else {
		localtime_r(&ts.tv_sec, &tm);
		strftime(buf, len, "%H:%M:%S", &tm);
	}
}

/* --metrics: the latency histogram, per disk (-D) and flags (-F). */
static struct kit_family *lat_metric;

static void declare_metrics(struct kit_metrics *m)
{
	static uint64_t bounds[128];
	struct kit_metric_desc d = {
		.name = env.queued ? "bpfkit_block_io_queued_latency_seconds" :
				     "bpfkit_block_io_latency_seconds",
		.help = env.queued ? "Block I/O latency from the insert "
				     "into the OS queue to the completion." :
				     "Block I/O latency from the issue to "
				     "the device to the completion.",
		.type = KIT_HISTOGRAM,
		.snapshot = true,
		.unit = "seconds",
		.scale = kit_metrics_hist_scale(unit()),
		.bounds = bounds,
	};
	int n = 0;

	if (env.per_disk)
		d.labels[n++] = "disk";
	if (env.per_flag)
		d.labels[n++] = "flags";
	/* 4 buckets per power of two, from 1 unit to about 34 s */
	d.nbounds = kit_metrics_hist_bounds(bounds, 128, 1,
					    env.ms ? 1ULL << 15 : 1ULL << 25,
					    2);
	lat_metric = kit_metrics_family(m, &d);
}

static struct kit_series *metric_series(const struct bio_hist_key *key)
{
	char disk[64], flags[96];
	const char *v[2];
	int n = 0;

	if (env.per_disk) {
		disk_name(key->dev, disk, sizeof(disk));
		v[n++] = disk;
	}
	if (env.per_flag) {
		flags_name(key->flags, flags, sizeof(flags));
		v[n++] = flags;
	}
	return kit_series(lat_metric, v);
}

/* Before a scrape: what the kernel holds now, on top of what was kept
 * from the intervals drained so far. */
static int peek_one(const void *k, const struct hist *h, void *ctx)
{
	kit_hist_add_hist(metric_series(k), h);
	return 0;
}

static int update_metrics(struct kit *kit, void *obj, struct kit_metrics *m)
{
	struct biolatency_bpf *skel = obj;

	if (!lat_metric)
		return 0;
	return kit_metrics_hist_peek(skel->maps.hists, peek_one, NULL) < 0 ?
		       -1 : 0;
}

static int print_one(const void *k, const struct hist *h, void *arg)
{
	const struct bio_hist_key *key = k;
	struct print_ctx *ctx = arg;
	char disk[64], flags[96], now[32];
	struct jw w;

	if (lat_metric && h->count)
		kit_hist_keep_hist(metric_series(key), h);
	disk_name(key->dev, disk, sizeof(disk));
	flags_name(key->flags, flags, sizeof(flags));
	ctx->keys++;
	if (ctx->kit->opts.json) {
		wall_time(now, sizeof(now), true);
		jw_init(&w, &ctx->sb);
		jw_obj_begin(&w);
		jw_kv_str(&w, "time", now);
		jw_kv_u64(&w, "interval", ctx->kit->intervals);
		jw_key(&w, "disk");
		if (env.per_disk)
			jw_str(&w, disk);
		else
			jw_null(&w);
		jw_key(&w, "flags");
		if (env.per_flag)
			jw_str(&w, flags);
		else
			jw_null(&w);
		hist_json(&w, h, unit());
		jw_obj_end(&w);
		sb_putc(&ctx->sb, '\n');
		return 0;
	}
	if (env.per_disk)
		sb_printf(&ctx->sb, "\ndisk = %s\n", disk);
	if (env.per_flag)
		sb_printf(&ctx->sb, "\nflags = %s\n", flags);
	if (!env.per_disk && !env.per_flag)
		sb_putc(&ctx->sb, '\n');
	hist_print_log2(&ctx->sb, h, unit());
	hist_print_summary(&ctx->sb, h, unit());
	return 0;
}

/* Print in a stable order: by disk, then flags. */
struct entry {
	struct bio_hist_key key;
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

	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		void *v = realloc(c->v, cap * sizeof(*c->v));

		if (!v)
			return -1;
		c->v = v;
		c->cap = cap;
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
	const struct bio_hist_key *x = &((const struct entry *)a)->key;
	const struct bio_hist_key *y = &((const struct entry *)b)->key;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	return x->flags < y->flags ? -1 : x->flags > y->flags;
}

static int print_interval(struct kit *kit, void *obj, bool final)
{
	struct biolatency_bpf *skel = obj;
	struct print_ctx ctx = { .kit = kit };
	static uint64_t dropped;
	static struct hist empty;
	struct collect c = { 0 };
	char now[32];
	int gen, err = 0;
	size_t i;

	if (kit->opts.timestamp && !kit->opts.json) {
		wall_time(now, sizeof(now), false);
		sb_printf(&ctx.sb, "\n%-8s\n", now);
	}
	gen = hist_flip(kit->obj);
	if (gen < 0 || hist_drain(skel->maps.hists, gen, collect_one, &c) < 0) {
		kit_error("reading the histograms failed");
		err = -1;
		goto cleanup;
	}
	if (c.n)
		qsort(c.v, c.n, sizeof(*c.v), cmp_entry);
	for (i = 0; i < c.n; i++)
		print_one(&c.v[i].key, c.v[i].h, &ctx);
	/* An interval always prints, if only an empty histogram. */
	if (!ctx.keys) {
		struct bio_hist_key none = { .dev = env.dev };

		print_one(&none, &empty, &ctx);
	}
	err = kit_out_write(&kit->out, ctx.sb.buf, ctx.sb.len);
	if (hist_dropped(kit->obj) > dropped) {
		dropped = hist_dropped(kit->obj);
		kit_error("warning: %llu I/Os not counted since the start: too "
			  "many keys for the histogram map",
			  (unsigned long long)dropped);
	}
cleanup:
	for (i = 0; i < c.n; i++)
		free(c.v[i].h);
	free(c.v);
	sb_free(&ctx.sb);
	return err;
}

static int configure(struct kit *kit, void *obj)
{
	struct biolatency_bpf *skel = obj;

	skel->rodata->targ_ms = env.ms;
	skel->rodata->targ_queued = env.queued;
	skel->rodata->targ_per_disk = env.per_disk;
	skel->rodata->targ_per_flag = env.per_flag;
	skel->rodata->filter_dev = env.disk != NULL;
	skel->rodata->targ_dev = env.dev;
	if (kit->metrics)
		declare_metrics(kit->metrics);
	return 0;
}

/*
 * One hook: the start and done programs must match each other's keys, so
 * they are chosen together. tp_btf first, then raw_tp: struct request
 * with CO-RE, matched by address, no tracefs needed. Before 5.11 insert
 * and issue also passed the request_queue: the *_q programs take that
 * prototype and go first, because the kernel rejects them where it does
 * not fit (tp_btf: the verifier, one failed load at start-up; raw_tp: the
 * attach), whereas the new prototype on an old kernel would load and read
 * the queue as a request. Last, classic tracepoints: their fields are a
 * stable ABI on every kernel, but they need tracefs, match a request by
 * (dev, sector), and take long to detach.
 */
static const struct kit_hook hooks[] = {
	{ "block I/O", 0, {
		{ KIT_MECH_TP_BTF, "block/block_rq_complete",
		  { "btf_issue_q", "btf_complete" } },
		{ KIT_MECH_TP_BTF, "block/block_rq_complete",
		  { "btf_issue", "btf_complete" } },
		{ KIT_MECH_RAW_TP, "block/block_rq_complete",
		  { "raw_issue_q", "raw_complete" } },
		{ KIT_MECH_RAW_TP, "block/block_rq_complete",
		  { "raw_issue", "raw_complete" } },
		{ KIT_MECH_TRACEPOINT, "block/block_rq_complete",
		  { "tp_issue", "tp_complete" } },
	}, &not_queued },
	/* -Q: from the insert into the OS queue */
	{ "block I/O, queued", 0, {
		{ KIT_MECH_TP_BTF, "block/block_rq_complete",
		  { "btf_insert_q", "btf_issue_q", "btf_complete" } },
		{ KIT_MECH_TP_BTF, "block/block_rq_complete",
		  { "btf_insert", "btf_issue", "btf_complete" } },
		{ KIT_MECH_RAW_TP, "block/block_rq_complete",
		  { "raw_insert_q", "raw_issue_q", "raw_complete" } },
		{ KIT_MECH_RAW_TP, "block/block_rq_complete",
		  { "raw_insert", "raw_issue", "raw_complete" } },
		{ KIT_MECH_TRACEPOINT, "block/block_rq_complete",
		  { "tp_insert", "tp_issue", "tp_complete" } },
	}, &env.queued },
	{},
};

static const struct kit_tool tool = {
	.name = "biolatency",
	.doc = "Summarize block device I/O latency as histograms, with "
	       "percentiles.",
	.examples =
		"Examples:\n"
		"  biolatency                 # histogram until Ctrl-C\n"
		"  biolatency 1 10            # ten 1-second intervals\n"
		"  biolatency -mT 1           # milliseconds, with timestamps\n"
		"  biolatency -Q              # include OS queued time\n"
		"  biolatency -D              # a histogram per disk\n"
		"  biolatency -F              # a histogram per I/O flag set\n"
		"  biolatency -d sdc          # only sdc\n"
		"  biolatency -c /sys/fs/cgroup/unified/db  # I/O issued from "
		"one cgroup\n"
		"  biolatency -j 5 > lat.ndjson  # JSON, one object per "
		"interval\n",
	.tracing = "Tracing block device I/O",
	.options = options,
	.parse = parse_arg,
	/* block I/O completes in interrupt context: no task filters; -d is
	 * BCC's disk, so the duration is --duration */
	.no_common = KIT_OPT_PID | KIT_OPT_TID | KIT_OPT_UID | KIT_OPT_NAME |
		     KIT_OPT_COMMAND,
	.long_only = KIT_OPT_DURATION,
	.cgroup_short = 'c',	/* BCC's biolatency -c CGROUP */
	.interval_args = true,
	KIT_SKEL(biolatency_bpf),
	.hooks = hooks,
	.configure = configure,
	.interval = print_interval,
	.metrics = update_metrics,
};

int main(int argc, char **argv)
{
	return kit_main(&tool, argc, argv);
}
