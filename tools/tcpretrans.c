// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * tcpretrans: trace TCP retransmissions, with the connection's addresses
 * and state, and (-l) tail loss probes; or count them per connection (-c).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "kit.h"
#include "metrics.h"
#include "net.h"
#include "tcpretrans.h"
#include "tcpretrans.skel.h"

enum {
	KEY_RADDR = 0x100,
	KEY_LADDR,
	KEY_WITH_FAILED,
};

static struct {
	bool count;
	bool tlp;
	bool seq;
	bool with_failed;
	unsigned short family;
	bool filter_dport;
	bool filter_lport;
	uint64_t dports[NET_PORT_WORDS];
	uint64_t lports[NET_PORT_WORDS];
	struct net_prefix raddr;
	struct net_prefix laddr;
} env;

static const struct argp_option options[] = {
	{ "lossprobe", 'l', NULL, 0,
	  "Mark tail loss probes (L>) among the retransmissions" },
	{ "count", 'c', NULL, 0,
	  "Count retransmissions per connection; print the counts at the end" },
	{ "sequence", 's', NULL, 0, "Show the segment's sequence number" },
	{ "ipv4", '4', NULL, 0, "Only IPv4" },
	{ "ipv6", '6', NULL, 0, "Only IPv6" },
	{ "port", 'P', "PORTS", 0,
	  "Only connections with these remote ports (e.g. 80,443,8000-8100)" },
	{ "lport", 'L', "PORTS", 0,
	  "Only connections with these local ports" },
	{ "raddr", KEY_RADDR, "ADDR[/LEN]", 0,
	  "Only connections to this remote address or prefix" },
	{ "laddr", KEY_LADDR, "ADDR[/LEN]", 0,
	  "Only connections from this local address or prefix" },
	{ "with-failed", KEY_WITH_FAILED, NULL, 0,
	  "Also report retransmissions the kernel failed to send (where it "
	  "reports them: the err field)" },
	{},
};

static void set_family(unsigned short family)
{
	if (env.family && env.family != family)
		kit_usage_error("-4 and -6 cannot be combined");
	env.family = family;
}

static error_t parse_arg(int key, char *arg, struct argp_state *state)
{
	const char *why;

	switch (key) {
	case 'l':
		env.tlp = true;
		break;
	case 'c':
		env.count = true;
		break;
	case 's':
		env.seq = true;
		break;
	case '4':
		set_family(NET_AF_INET);
		break;
	case '6':
		set_family(NET_AF_INET6);
		break;
	case 'P':
		if (net_parse_ports(arg, env.dports, &why))
			kit_usage_error("invalid port list '%s': %s", arg, why);
		env.filter_dport = true;
		break;
	case 'L':
		if (net_parse_ports(arg, env.lports, &why))
			kit_usage_error("invalid local port list '%s': %s", arg,
					why);
		env.filter_lport = true;
		break;
	case KEY_RADDR:
		if (net_parse_prefix(arg, &env.raddr, &why))
			kit_usage_error("invalid remote address '%s': %s", arg,
					why);
		break;
	case KEY_LADDR:
		if (net_parse_prefix(arg, &env.laddr, &why))
			kit_usage_error("invalid local address '%s': %s", arg,
					why);
		break;
	case KEY_WITH_FAILED:
		env.with_failed = true;
		break;
	case ARGP_KEY_END:
		if (env.family && ((env.raddr.family &&
				    env.raddr.family != env.family) ||
				   (env.laddr.family &&
				    env.laddr.family != env.family)))
			kit_usage_error("an address is not of the family "
					"asked for with -4/-6");
		return ARGP_ERR_UNKNOWN;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

enum {
	COL_TIME, COL_PID, COL_IP, COL_LOCAL, COL_TYPE, COL_REMOTE, COL_STATE,
	COL_SEQ, COL_SADDR, COL_SPORT, COL_DADDR, COL_DPORT, COL_END_SEQ,
	COL_UID, COL_NETNS, COL_ERR, NCOLS
};

static const struct kit_col columns[NCOLS] = {
	[COL_TIME] = { "time", "TIME", 8, KIT_COL_LEFT },
	[COL_PID] = { "pid", "PID", 7, KIT_COL_LEFT },
	[COL_IP] = { "ip", "IP", 2, KIT_COL_LEFT },
	[COL_LOCAL] = { "laddr_port", "LADDR:LPORT", 21,
			KIT_COL_LEFT | KIT_COL_TEXT_ONLY },
	[COL_TYPE] = { "type", "T>", 2, KIT_COL_LEFT },
	[COL_REMOTE] = { "raddr_port", "RADDR:RPORT", 21,
			 KIT_COL_LEFT | KIT_COL_TEXT_ONLY },
	[COL_STATE] = { "state", "STATE", 11, KIT_COL_LEFT },
	[COL_SEQ] = { "seq", "SEQ", 10, KIT_COL_HIDDEN | KIT_COL_LEFT },
	[COL_SADDR] = { "saddr", "SADDR", 0, KIT_COL_JSON_ONLY },
	[COL_SPORT] = { "sport", "SPORT", 0, KIT_COL_JSON_ONLY },
	[COL_DADDR] = { "daddr", "DADDR", 0, KIT_COL_JSON_ONLY },
	[COL_DPORT] = { "dport", "DPORT", 0, KIT_COL_JSON_ONLY },
	[COL_END_SEQ] = { "end_seq", "END_SEQ", 0, KIT_COL_JSON_ONLY },
	[COL_UID] = { "uid", "UID", 0, KIT_COL_JSON_ONLY },
	[COL_NETNS] = { "netns", "NETNS", 0, KIT_COL_JSON_ONLY },
	[COL_ERR] = { "err", "ERR", 0, KIT_COL_JSON_ONLY },
};

static const struct kit_hook hooks[] = {
	{ "tcp_retransmit_skb", 0, {
		{ KIT_MECH_TP_BTF, "tcp/tcp_retransmit_skb",
		  { "tr_retrans_btf" } },
		{ KIT_MECH_RAW_TP, "tcp/tcp_retransmit_skb",
		  { "tr_retrans_raw" } },
		{ KIT_MECH_TRACEPOINT, "tcp/tcp_retransmit_skb",
		  { "tr_retrans_tp" } },
		{ KIT_MECH_FENTRY, "tcp_retransmit_skb",
		  { "tr_wrap_fentry", "tr_wrap_fexit", "tr_inner_fexit" } },
		{ KIT_MECH_KPROBE, "tcp_retransmit_skb",
		  { "tr_wrap_kprobe", "tr_wrap_kretprobe",
		    "tr_inner_kprobe" } },
	} },
	{},
};

/* --metrics: retransmissions by addresses, remote port and state. */
static struct kit_family *retrans_metric;

static void count_retransmit(const struct tcpretrans_event *e)
{
	const struct net_tuple *t = &e->tuple;
	char saddr[NET_ADDR_LEN], daddr[NET_ADDR_LEN], port[8];
	const char *v[4] = {
		net_addr_str(t->family, t->saddr, saddr, sizeof(saddr)),
		net_addr_str(t->family, t->daddr, daddr, sizeof(daddr)),
		port, net_tcp_state_str(e->state),
	};

	snprintf(port, sizeof(port), "%u", t->dport);
	kit_counter_add(kit_series(retrans_metric, v), 1);
}

static int handle_event(struct kit *kit, const void *data, size_t size)
{
	const struct tcpretrans_event *e = data;
	const struct net_tuple *t = &e->tuple;
	struct kit_out *o = &kit->out;
	bool tlp = e->type == TCPRETRANS_TLP;
	char a[NET_ENDPOINT_LEN];

	if (size < sizeof(*e))
		return 0;
	if (retrans_metric)
		count_retransmit(e);
	kit_row_begin(o);
	kit_col_time(o, COL_TIME, e->ts, KIT_TIME_CLOCK);
	kit_col_u64(o, COL_PID, e->pid);
	kit_col_u64(o, COL_IP, net_ip_version(t->family));
	kit_col_cstr(o, COL_LOCAL, net_endpoint_str(t->family, t->saddr,
						    t->sport, a, sizeof(a)));
	kit_col_cstr(o, COL_TYPE, o->fmt == KIT_FMT_JSON ?
					  (tlp ? "tlp" : "retransmit") :
					  (tlp ? "L>" : "R>"));
	kit_col_cstr(o, COL_REMOTE, net_endpoint_str(t->family, t->daddr,
						     t->dport, a, sizeof(a)));
	kit_col_cstr(o, COL_STATE, net_tcp_state_str(e->state));
	kit_col_u64(o, COL_SEQ, e->seq);
	kit_col_cstr(o, COL_SADDR, net_addr_str(t->family, t->saddr, a,
						sizeof(a)));
	kit_col_u64(o, COL_SPORT, t->sport);
	kit_col_cstr(o, COL_DADDR, net_addr_str(t->family, t->daddr, a,
						sizeof(a)));
	kit_col_u64(o, COL_DPORT, t->dport);
	kit_col_u64(o, COL_END_SEQ, e->end_seq);
	kit_col_u64(o, COL_UID, e->uid);
	kit_col_u64(o, COL_NETNS, e->netns);
	kit_col_errno(o, COL_ERR, -e->err);
	return kit_row_end(o);
}

/* ---- -c: counts per connection, printed at the end --------------------- */

enum {
	CCOL_IP, CCOL_LOCAL, CCOL_REMOTE, CCOL_RETRANS, CCOL_TLP, CCOL_SADDR,
	CCOL_SPORT, CCOL_DADDR, CCOL_DPORT, NCCOLS
};

static const struct kit_col count_columns[NCCOLS] = {
	[CCOL_IP] = { "ip", "IP", 0, KIT_COL_JSON_ONLY },
	[CCOL_LOCAL] = { "laddr_port", "LADDR:LPORT", 25,
			 KIT_COL_LEFT | KIT_COL_TEXT_ONLY },
	[CCOL_REMOTE] = { "raddr_port", "RADDR:RPORT", 25,
			  KIT_COL_LEFT | KIT_COL_TEXT_ONLY },
	[CCOL_RETRANS] = { "retransmits", "RETRANSMITS", 11, KIT_COL_LEFT },
	[CCOL_TLP] = { "tlp", "TLP", 5, KIT_COL_HIDDEN | KIT_COL_LEFT },
	[CCOL_SADDR] = { "saddr", "SADDR", 0, KIT_COL_JSON_ONLY },
	[CCOL_SPORT] = { "sport", "SPORT", 0, KIT_COL_JSON_ONLY },
	[CCOL_DADDR] = { "daddr", "DADDR", 0, KIT_COL_JSON_ONLY },
	[CCOL_DPORT] = { "dport", "DPORT", 0, KIT_COL_JSON_ONLY },
};

struct flow_count {
	struct tcpretrans_flow key;
	struct tcpretrans_count val;
};

static int cmp_counts(const void *a, const void *b)
{
	const struct flow_count *x = a, *y = b;

	if (x->val.retransmits != y->val.retransmits)
		return x->val.retransmits < y->val.retransmits ? 1 : -1;
	return memcmp(&x->key, &y->key, sizeof(x->key));
}

static int print_counts(struct kit *kit, void *obj)
{
	struct tcpretrans_bpf *skel = obj;
	struct flow_count *v;
	struct kit_out o;
	char a[NET_ENDPOINT_LEN];
	size_t n, i;
	int err = 0;

	v = kit_map_read_all(skel->maps.counts, sizeof(*v),
			     offsetof(struct flow_count, val), cmp_counts, &n);
	if (!v && n) {
		kit_error("reading the counts failed: %s", strerror(errno));
		return -1;
	}
	kit_out_init(&o, kit->out.f, kit->out.fmt, count_columns, NCCOLS);
	kit_out_show(&o, CCOL_TLP, env.tlp);
	kit_out_header(&o);
	for (i = 0; i < n && !err; i++) {
		const struct tcpretrans_flow *k = &v[i].key;

		kit_row_begin(&o);
		kit_col_u64(&o, CCOL_IP, net_ip_version(k->family));
		kit_col_cstr(&o, CCOL_LOCAL,
			     net_endpoint_str(k->family, k->saddr, k->sport, a,
					      sizeof(a)));
		kit_col_cstr(&o, CCOL_REMOTE,
			     net_endpoint_str(k->family, k->daddr, k->dport, a,
					      sizeof(a)));
		kit_col_u64(&o, CCOL_RETRANS, v[i].val.retransmits);
		kit_col_u64(&o, CCOL_TLP, v[i].val.tlp);
		kit_col_cstr(&o, CCOL_SADDR,
			     net_addr_str(k->family, k->saddr, a, sizeof(a)));
		kit_col_u64(&o, CCOL_SPORT, k->sport);
		kit_col_cstr(&o, CCOL_DADDR,
			     net_addr_str(k->family, k->daddr, a, sizeof(a)));
		kit_col_u64(&o, CCOL_DPORT, k->dport);
		err = kit_row_end(&o);
	}
	if (o.err)
		kit->out.err = o.err;
	kit_out_free(&o);
	free(v);
	return err;
}

/* ---- the life of the tool ---------------------------------------------- */

static int configure(struct kit *kit, void *obj)
{
	struct tcpretrans_bpf *skel = obj;

	skel->rodata->count_mode = env.count;
	skel->rodata->mark_tlp = env.tlp;
	skel->rodata->with_failed = env.with_failed;
	skel->rodata->targ_family = env.family;
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
	if (kit->metrics && !env.count)
		retrans_metric = kit_metrics_family(
			kit->metrics, &(struct kit_metric_desc){
				.name = "bpfkit_tcp_retransmits_total",
				.help = "TCP retransmissions (tail loss "
					"probes included) by local and remote "
					"address, remote port and the "
					"socket's state.",
				.labels = { "saddr", "daddr", "dport",
					    "state" },
			});
	if (env.count)
		return 0;
	kit_out_show(&kit->out, COL_SEQ, env.seq);
	kit_out_header(&kit->out);
	return 0;
}

static int finish(struct kit *kit, void *skel)
{
	return env.count ? print_counts(kit, skel) : 0;
}

static const struct kit_tool tool = {
	.name = "tcpretrans",
	.doc = "Trace TCP retransmissions (and tail loss probes), or count "
	       "them per connection.",
	.examples =
		"Examples:\n"
		"  tcpretrans                 # trace retransmissions\n"
		"  tcpretrans -l              # mark tail loss probes (L>)\n"
		"  tcpretrans -s              # with sequence numbers\n"
		"  tcpretrans -c              # count per connection\n"
		"  tcpretrans -4 -P 443       # IPv4, remote port 443 only\n"
		"  tcpretrans --raddr 10.0.0.0/8  # to 10.0.0.0/8 only\n"
		"  tcpretrans -j -d 60 > r.ndjson  # one minute of JSON\n",
	.tracing = "Tracing TCP retransmissions",
	.options = options,
	.parse = parse_arg,
	/* Retransmissions run in softirq context: no task to filter on. */
	.no_common = KIT_OPT_PID | KIT_OPT_TID | KIT_OPT_UID | KIT_OPT_NAME |
		     KIT_OPT_CGROUP | KIT_OPT_COMMAND | KIT_OPT_TIMESTAMP,
	KIT_SKEL(tcpretrans_bpf),
	.hooks = hooks,
	.cols = columns,
	.ncols = NCOLS,
	.ringbuf_bytes = 1u << 20,
	.configure = configure,
	.start = start,
	.event = handle_event,
	.finish = finish,
};

int main(int argc, char **argv)
{
	return kit_main(&tool, argc, argv);
}
