// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * tcpconnect: trace active TCP connections (connect()), IPv4 and IPv6, each
 * reported at its outcome with its latency: connected, or failed and why.
 * -c counts connects per flow instead, -H makes latency histograms.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>

#include "hist.h"
#include "kit.h"
#include "metrics.h"
#include "net.h"
#include "tcpconnect.h"
#include "tcpconnect.skel.h"

enum {
	KEY_RADDR = 0x100,
	KEY_LADDR,
};

static struct {
	bool timestamp;
	bool count;
	bool print_uid;
	bool sport;
	bool failed;
	bool hist;
	bool hist_ms;
	unsigned short family;
	bool filter_dport;
	bool filter_lport;
	uint64_t dports[NET_PORT_WORDS];
	uint64_t lports[NET_PORT_WORDS];
	struct net_prefix raddr;
	struct net_prefix laddr;
} env;

static const struct argp_option options[] = {
	{ NULL, 't', NULL, 0, "Include a timestamp column (as -T)" },
	{ "count", 'c', NULL, 0,
	  "Count connects per local address, remote address and port; print "
	  "the counts at the end" },
	{ "print-uid", 'U', NULL, 0, "Show the UID column" },
	{ "source-port", 's', NULL, 0,
	  "Show the local (source) port; with -c, count per local port too" },
	{ "port", 'P', "PORTS", 0,
	  "Only connects to these remote ports (e.g. 80,443,8000-8100)" },
	{ "lport", 'L', "PORTS", 0, "Only connects from these local ports" },
	{ "raddr", KEY_RADDR, "ADDR[/LEN]", 0,
	  "Only connects to this remote address or prefix" },
	{ "laddr", KEY_LADDR, "ADDR[/LEN]", 0,
	  "Only connects from this local address or prefix" },
	{ "ipv4", '4', NULL, 0, "Only IPv4" },
	{ "ipv6", '6', NULL, 0, "Only IPv6" },
	{ "failed", 'x', NULL, 0, "Only connects that failed" },
	{ "histogram", 'H', NULL, 0,
	  "Instead of events: histograms of connect latency (established, "
	  "and failed), with percentiles, every INTERVAL seconds or at the "
	  "end" },
	{ "milliseconds", 'm', NULL, 0, "With -H: in milliseconds" },
	{},
};

static void parse_ports(const char *opt, const char *arg, uint64_t *bits)
{
	const char *why;

	if (net_parse_ports(arg, bits, &why))
		kit_usage_error("invalid %s '%s': %s", opt, arg, why);
}

static void parse_prefix(const char *opt, const char *arg,
			 struct net_prefix *p)
{
	const char *why;

	if (net_parse_prefix(arg, p, &why))
		kit_usage_error("invalid %s '%s': %s", opt, arg, why);
}

static void set_family(unsigned short family)
{
	if (env.family && env.family != family)
		kit_usage_error("-4 and -6 cannot be combined");
	env.family = family;
}

static error_t parse_arg(int key, char *arg, struct argp_state *state)
{
	switch (key) {
	case 't':
		env.timestamp = true;
		break;
	case 'c':
		env.count = true;
		break;
	case 'U':
		env.print_uid = true;
		break;
	case 's':
		env.sport = true;
		break;
	case 'x':
		env.failed = true;
		break;
	case 'H':
		env.hist = true;
		break;
	case 'm':
		env.hist_ms = true;
		break;
	case 'P':
		parse_ports("port list", arg, env.dports);
		env.filter_dport = true;
		break;
	case 'L':
		parse_ports("local port list", arg, env.lports);
		env.filter_lport = true;
		break;
	case KEY_RADDR:
		parse_prefix("remote address", arg, &env.raddr);
		break;
	case KEY_LADDR:
		parse_prefix("local address", arg, &env.laddr);
		break;
	case '4':
		set_family(NET_AF_INET);
		break;
	case '6':
		set_family(NET_AF_INET6);
		break;
	case ARGP_KEY_END:
		if (env.family && env.raddr.family &&
		    env.raddr.family != env.family)
			kit_usage_error("--raddr is not of the family asked "
					"for with -4/-6");
		if (env.family && env.laddr.family &&
		    env.laddr.family != env.family)
			kit_usage_error("--laddr is not of the family asked "
					"for with -4/-6");
		if (env.count && env.failed)
			kit_usage_error("-c counts failures already: -x "
					"cannot be combined with it");
		if (env.hist && (env.count || env.failed))
			kit_usage_error("-H cannot be combined with -c or -x");
		if (env.hist_ms && !env.hist)
			kit_usage_error("-m is for histograms (-H)");
		return ARGP_ERR_UNKNOWN;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

enum {
	COL_TIME, COL_UID, COL_PID, COL_TID, COL_COMM, COL_IP, COL_SADDR,
	COL_SPORT, COL_DADDR, COL_DPORT, COL_LAT, COL_RESULT_TEXT, COL_RESULT,
	COL_ERR, COL_STATE, NCOLS
};

static const struct kit_col columns[NCOLS] = {
	[COL_TIME] = { "time", "TIME(s)", 12, KIT_COL_HIDDEN | KIT_COL_LEFT },
	[COL_UID] = { "uid", "UID", 6, KIT_COL_HIDDEN },
	[COL_PID] = { "pid", "PID", 7 },
	[COL_TID] = { "tid", "TID", 7, KIT_COL_JSON_ONLY },
	[COL_COMM] = { "comm", "COMM", 16, KIT_COL_LEFT },
	[COL_IP] = { "ip", "IP", 2 },
	[COL_SADDR] = { "saddr", "SADDR", 15, KIT_COL_LEFT },
	[COL_SPORT] = { "sport", "SPORT", 5, KIT_COL_HIDDEN },
	[COL_DADDR] = { "daddr", "DADDR", 15, KIT_COL_LEFT },
	[COL_DPORT] = { "dport", "DPORT", 5 },
	[COL_LAT] = { "latency_us", "LAT(us)", 9 },
	[COL_RESULT_TEXT] = { "result", "RESULT", 0,
			      KIT_COL_LEFT | KIT_COL_TEXT_ONLY },
	[COL_RESULT] = { "result", "RESULT", 0, KIT_COL_JSON_ONLY },
	[COL_ERR] = { "err", "ERR", 0, KIT_COL_JSON_ONLY },
	[COL_STATE] = { "state", "STATE", 0, KIT_COL_JSON_ONLY },
};

static const struct kit_hook hooks[] = {
	{ "inet_sock_set_state", 0, {
		{ KIT_MECH_TP_BTF, "sock/inet_sock_set_state",
		  { "tc_state_btf" } },
		{ KIT_MECH_RAW_TP, "sock/inet_sock_set_state",
		  { "tc_state_raw" } },
		{ KIT_MECH_TRACEPOINT, "sock/inet_sock_set_state",
		  { "tc_state_tp" } },
		{ KIT_MECH_FENTRY, "tcp_set_state", { "tc_state_fentry" } },
		{ KIT_MECH_KPROBE, "tcp_set_state", { "tc_state_kprobe" } },
	} },
	{},
};

/* Text: "OK", the error's name, or "CLOSED" (closed without an error:
 * aborted by the application, or connect() failed before sending). */
static const char *result_text(const struct tcpconnect_event *e, char *buf,
			       size_t len)
{
	const char *name;

	if (e->established)
		return "OK";
	if (!e->err)
		return "CLOSED";
	name = strerrorname_np(e->err);
	if (name)
		return name;
	snprintf(buf, len, "E%d", e->err);
	return buf;
}

/* --metrics: connects by remote port and result, and their latency. */
static struct kit_family *connects_metric, *latency_metric;

static void declare_metrics(struct kit_metrics *m)
{
	/* Powers of two from 1.024 us to 68.7 s. */
	static uint64_t bounds[27];
	size_t n;

	for (n = 0; n < 27; n++)
		bounds[n] = 1ULL << (n + 10);

	connects_metric = kit_metrics_family(m, &(struct kit_metric_desc){
		.name = "bpfkit_tcp_connects_total",
		.help = "Active TCP connects by remote port and result "
			"(established, the error's name, or closed).",
		.labels = { "dport", "result" },
	});
	latency_metric = kit_metrics_family(m, &(struct kit_metric_desc){
		.name = "bpfkit_tcp_connect_latency_seconds",
		.help = "Time from SYN sent to the outcome of active TCP "
			"connects, by outcome (established or failed).",
		.type = KIT_HISTOGRAM,
		.unit = "seconds",
		.labels = { "result" },
		.scale = 9,
		.bounds = bounds,
		.nbounds = n,
	});
}

static void count_connect(const struct tcpconnect_event *e,
			  const char *result)
{
	char port[8];
	const char *v[2] = { port, e->established ? "established" : result };

	snprintf(port, sizeof(port), "%u", e->tuple.dport);
	if (connects_metric)
		kit_counter_add(kit_series(connects_metric, v), 1);
	v[0] = e->established ? "established" : "failed";
	if (latency_metric)
		kit_hist_observe(kit_series(latency_metric, v), e->latency_ns);
}

static int handle_event(struct kit *kit, const void *data, size_t size)
{
	const struct tcpconnect_event *e = data;
	const struct net_tuple *t = &e->tuple;
	struct kit_out *o = &kit->out;
	char saddr[NET_ADDR_LEN], daddr[NET_ADDR_LEN], buf[16];

	if (size < sizeof(*e))
		return 0;
	kit_row_begin(o);
	kit_col_time(o, COL_TIME, e->ts, KIT_TIME_ELAPSED);
	kit_col_u64(o, COL_UID, e->uid);
	kit_col_u64(o, COL_PID, e->pid);
	kit_col_u64(o, COL_TID, e->tid);
	kit_col_str(o, COL_COMM, e->comm, sizeof(e->comm));
	kit_col_u64(o, COL_IP, net_ip_version(t->family));
	kit_col_cstr(o, COL_SADDR, net_addr_str(t->family, t->saddr, saddr,
						sizeof(saddr)));
	kit_col_u64(o, COL_SPORT, t->sport);
	kit_col_cstr(o, COL_DADDR, net_addr_str(t->family, t->daddr, daddr,
						sizeof(daddr)));
	kit_col_u64(o, COL_DPORT, t->dport);
	kit_col_double(o, COL_LAT, e->latency_ns / 1000.0, 1);
	kit_col_cstr(o, COL_RESULT_TEXT, result_text(e, buf, sizeof(buf)));
	if (kit->metrics)
		count_connect(e, e->err ? result_text(e, buf, sizeof(buf)) :
					  "closed");
	kit_col_cstr(o, COL_RESULT, e->established ? "established" : "failed");
	kit_col_errno(o, COL_ERR, e->err);
	kit_col_cstr(o, COL_STATE, net_tcp_state_str(e->state));
	return kit_row_end(o);
}

/* ---- -c: counts per flow, printed at the end --------------------------- */

enum {
	CCOL_IP, CCOL_SADDR, CCOL_SPORT, CCOL_DADDR, CCOL_DPORT, CCOL_CONNECTS,
	CCOL_FAILED, NCCOLS
};

static const struct kit_col count_columns[NCCOLS] = {
	[CCOL_IP] = { "ip", "IP", 2, KIT_COL_JSON_ONLY },
	[CCOL_SADDR] = { "saddr", "LADDR", 25, KIT_COL_LEFT },
	[CCOL_SPORT] = { "sport", "LPORT", 5, KIT_COL_HIDDEN | KIT_COL_LEFT },
	[CCOL_DADDR] = { "daddr", "RADDR", 25, KIT_COL_LEFT },
	[CCOL_DPORT] = { "dport", "RPORT", 5, KIT_COL_LEFT },
	[CCOL_CONNECTS] = { "connects", "CONNECTS", 8 },
	[CCOL_FAILED] = { "failed", "FAILED", 6 },
};

struct flow_count {
	struct tcpconnect_flow key;
	struct tcpconnect_count val;
};

static int cmp_counts(const void *a, const void *b)
{
	const struct flow_count *x = a, *y = b;

	if (x->val.connects != y->val.connects)
		return x->val.connects < y->val.connects ? 1 : -1;
	return memcmp(&x->key, &y->key, sizeof(x->key));
}

static int print_counts(struct kit *kit, void *obj)
{
	struct tcpconnect_bpf *skel = obj;
	struct kit_out o;
	struct flow_count *v;
	char a[NET_ADDR_LEN];
	size_t n, i;
	int err = 0;

	v = kit_map_read_all(skel->maps.counts, sizeof(*v),
			     offsetof(struct flow_count, val), cmp_counts, &n);
	if (!v && n) {
		kit_error("reading the counts failed: %s", strerror(errno));
		return -1;
	}
	kit_out_init(&o, kit->out.f, kit->out.fmt, count_columns, NCCOLS);
	kit_out_show(&o, CCOL_SPORT, env.sport);
	kit_out_header(&o);
	for (i = 0; i < n && !err; i++) {
		const struct tcpconnect_flow *k = &v[i].key;

		kit_row_begin(&o);
		kit_col_u64(&o, CCOL_IP, net_ip_version(k->family));
		kit_col_cstr(&o, CCOL_SADDR,
			     net_addr_str(k->family, k->saddr, a, sizeof(a)));
		kit_col_u64(&o, CCOL_SPORT, k->sport);
		kit_col_cstr(&o, CCOL_DADDR,
			     net_addr_str(k->family, k->daddr, a, sizeof(a)));
		kit_col_u64(&o, CCOL_DPORT, k->dport);
		kit_col_u64(&o, CCOL_CONNECTS, v[i].val.connects);
		kit_col_u64(&o, CCOL_FAILED, v[i].val.failed);
		err = kit_row_end(&o);
	}
	if (o.err)
		kit->out.err = o.err;
	kit_out_free(&o);
	free(v);
	return err;
}

/* ---- -H: latency histograms per interval -------------------------------- */

static const char *const hist_names[TCPCONNECT_NHISTS] = {
	[TCPCONNECT_HIST_OK] = "established",
	[TCPCONNECT_HIST_FAILED] = "failed",
};

struct hist_ctx {
	struct kit *kit;
	struct strbuf sb;
	char time[32];		/* the end of the interval, ISO 8601 */
	bool printed[TCPCONNECT_NHISTS];
};

static const struct hist_unit *hist_unit(void)
{
	return env.hist_ms ? &HIST_MSECS : &HIST_USECS;
}

static int print_hist(const void *key, const struct hist *h, void *arg)
{
	uint32_t idx = *(const uint32_t *)key;
	struct hist_ctx *ctx = arg;
	struct jw w;

	if (idx >= TCPCONNECT_NHISTS)
		return 0;
	ctx->printed[idx] = true;
	if (ctx->kit->opts.json) {
		jw_init(&w, &ctx->sb);
		jw_obj_begin(&w);
		jw_kv_str(&w, "time", ctx->time);
		jw_kv_u64(&w, "interval", ctx->kit->intervals);
		jw_kv_str(&w, "result", hist_names[idx]);
		hist_json(&w, h, hist_unit());
		jw_obj_end(&w);
		sb_putc(&ctx->sb, '\n');
		return 0;
	}
	sb_printf(&ctx->sb, "\nconnect latency, %s:\n", hist_names[idx]);
	hist_print_log2(&ctx->sb, h, hist_unit());
	hist_print_summary(&ctx->sb, h, hist_unit());
	return 0;
}

/* One interval: both histograms (the established one even when empty). */
static int print_interval(struct kit *kit, void *obj, bool final)
{
	struct tcpconnect_bpf *skel = obj;
	struct hist_ctx ctx = { .kit = kit };
	static const struct hist empty;
	uint32_t ok = TCPCONNECT_HIST_OK;
	struct timespec ts;
	struct tm tm;
	int gen, err = 0;

	if (!env.hist)
		return 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(ctx.time, sizeof(ctx.time), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (kit->opts.timestamp && !kit->opts.json) {
		localtime_r(&ts.tv_sec, &tm);
		strftime(ctx.time, sizeof(ctx.time), "%H:%M:%S", &tm);
		sb_printf(&ctx.sb, "\n%s\n", ctx.time);
	}
	gen = hist_flip(kit->obj);
	if (gen < 0 || hist_drain_array(skel->maps.hists, gen,
					TCPCONNECT_NHISTS, print_hist,
					&ctx) < 0) {
		kit_error("reading the histograms failed");
		err = -1;
		goto cleanup;
	}
	if (!ctx.printed[TCPCONNECT_HIST_OK])
		print_hist(&ok, &empty, &ctx);
	err = kit_out_write(&kit->out, ctx.sb.buf, ctx.sb.len);
cleanup:
	sb_free(&ctx.sb);
	return err;
}

/* ---- the life of the tool ---------------------------------------------- */

static int configure(struct kit *kit, void *obj)
{
	struct tcpconnect_bpf *skel = obj;

	if (!env.hist && kit->opts.interval_ns)
		kit_usage_error("an interval is for histograms (-H)");
	skel->rodata->mode = env.count ? TCPCONNECT_COUNT :
			     env.hist  ? TCPCONNECT_HIST :
					 TCPCONNECT_EVENTS;
	skel->rodata->hist_ms = env.hist_ms;
	skel->rodata->targ_family = env.family;
	skel->rodata->count_sport = env.sport;
	skel->rodata->failed_only = env.failed;
	skel->rodata->filter_dport = env.filter_dport;
	skel->rodata->filter_lport = env.filter_lport;
	memcpy((void *)skel->rodata->dports, env.dports, sizeof(env.dports));
	memcpy((void *)skel->rodata->lports, env.lports, sizeof(env.lports));
	memcpy((void *)&skel->rodata->raddr, &env.raddr, sizeof(env.raddr));
	memcpy((void *)&skel->rodata->laddr, &env.laddr, sizeof(env.laddr));
	return 0;
}

static int start(struct kit *kit, void *skel)
{
	if (kit->metrics && !env.count && !env.hist)
		declare_metrics(kit->metrics);
	if (env.count || env.hist)
		return 0;
	kit_out_show(&kit->out, COL_TIME, kit->opts.timestamp || env.timestamp);
	kit_out_show(&kit->out, COL_UID, env.print_uid);
	kit_out_show(&kit->out, COL_SPORT, env.sport);
	kit_out_header(&kit->out);
	return 0;
}

static int finish(struct kit *kit, void *skel)
{
	return env.count ? print_counts(kit, skel) : 0;
}

static const struct kit_tool tool = {
	.name = "tcpconnect",
	.doc = "Trace TCP connects (IPv4 and IPv6) with their outcome and "
	       "latency, or count them.",
	.examples =
		"Examples:\n"
		"  tcpconnect                 # every connect, at its outcome\n"
		"  tcpconnect -t -U           # with timestamps and UIDs\n"
		"  tcpconnect -x              # only failed connects\n"
		"  tcpconnect -p 181          # only PID 181\n"
		"  tcpconnect -P 80,443       # only to ports 80 and 443\n"
		"  tcpconnect -6 --raddr fd00::/8  # IPv6 to fd00::/8 only\n"
		"  tcpconnect -c -s           # count per flow and local port\n"
		"  tcpconnect -H -P 443 1 60  # latency histograms, 1 s x 60\n"
		"  tcpconnect -j -d 10 > c.ndjson  # 10 s of JSON\n"
		"  tcpconnect -- curl -s http://example.com/  # one command\n",
	.tracing = "Tracing TCP connects",
	.options = options,
	.parse = parse_arg,
	.long_only = KIT_OPT_TID, /* -t is BCC's timestamp */
	.interval_args = true,	  /* with -H */
	KIT_SKEL(tcpconnect_bpf),
	.hooks = hooks,
	.cols = columns,
	.ncols = NCOLS,
	.ringbuf_bytes = 1u << 20,
	.configure = configure,
	.start = start,
	.event = handle_event,
	.interval = print_interval,
	.finish = finish,
};

int main(int argc, char **argv)
{
	return kit_main(&tool, argc, argv);
}
