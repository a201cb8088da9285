// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * tcpconnect: every active TCP open, reported once its outcome is known.
 *
 * A connect() moves the socket from CLOSE to SYN_SENT inside the system
 * call, in the connecting task: there we apply the filters and remember
 * who connected and when, keyed by the socket. The socket's next state
 * change (ESTABLISHED, or CLOSE on a reset, a timeout or an abort; often
 * in softirq context) is the outcome: we send one event with both, or
 * count it (-c), or add its latency to a histogram (-H).
 *
 * All of it is one program on the socket state change, observed one of
 * five ways, best first: tp_btf, raw_tp or tracepoint on
 * sock:inet_sock_set_state, else fentry or kprobe on tcp_set_state (the
 * function that fires that tracepoint, so all five see the same events).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include "kit.bpf.h"
#include "hist.bpf.h"
#include "net.bpf.h"
#include "tcpconnect.h"

const volatile __u8 mode = TCPCONNECT_EVENTS;
const volatile __u16 targ_family = 0;	/* 0: both */
const volatile bool count_sport = false; /* -c -s: key on the local port */
const volatile bool failed_only = false;
const volatile bool hist_ms = false;	/* -H -m: milliseconds */
const volatile bool filter_dport = false;
const volatile bool filter_lport = false;
const volatile __u64 dports[NET_PORT_WORDS] = {};
const volatile __u64 lports[NET_PORT_WORDS] = {};
const volatile struct net_prefix raddr = {};
const volatile struct net_prefix laddr = {};

/* Who connected, and when: from SYN_SENT until the outcome. */
struct start {
	__u64 ts;
	__u32 pid;
	__u32 tid;
	__u32 uid;
	char comm[16];
};

/*
 * Connects in progress, by socket. (A hash map measured faster than socket
 * storage here: that allocates and frees per connect.)
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64); /* the socket's address */
	__type(value, struct start);
} starts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct tcpconnect_flow);
	__type(value, struct tcpconnect_count);
} counts SEC(".maps");

/* -H: latencies of the connects that succeeded (0) and that failed (1). */
HIST_ARRAY(hists, TCPCONNECT_NHISTS);

/* The filters that need the destination, known at SYN_SENT. */
static __always_inline bool dest_filtered(void)
{
	return targ_family || filter_dport || raddr.family;
}

static __always_inline bool want_dest(const struct net_tuple *t)
{
	if (targ_family && t->family != targ_family)
		return false;
	if (filter_dport && !net_port_in(dports, t->dport))
		return false;
	if (raddr.family && !net_prefix_match(&raddr, t->family, t->daddr))
		return false;
	return true;
}

/* The local port is chosen after SYN_SENT: filter on it at the outcome. */
static __always_inline bool want_source(const struct net_tuple *t)
{
	if (filter_lport && !net_port_in(lports, t->sport))
		return false;
	if (laddr.family && !net_prefix_match(&laddr, t->family, t->saddr))
		return false;
	return true;
}

/* CLOSE -> SYN_SENT, in the task that called connect(): who and when. */
static __always_inline void fill_start(struct start *s, __u64 id)
{
	s->ts = bpf_ktime_get_ns();
	s->pid = id >> 32;
	s->tid = (__u32)id;
	s->uid = (__u32)bpf_get_current_uid_gid();
	bpf_get_current_comm(s->comm, sizeof(s->comm));
}

static __always_inline void count_flow(const struct net_tuple *t,
				       bool established)
{
	struct tcpconnect_flow key = {};
	struct tcpconnect_count *c, zero = {};

	__builtin_memcpy(key.saddr, t->saddr, sizeof(key.saddr));
	__builtin_memcpy(key.daddr, t->daddr, sizeof(key.daddr));
	key.family = t->family;
	key.dport = t->dport;
	if (count_sport)
		key.sport = t->sport;
	c = kit_map_lookup_or_init(&counts, &key, &zero);
	if (!c) {
		kit_stat_inc(KIT_STAT_LOST);
		return;
	}
	__sync_fetch_and_add(&c->connects, 1);
	if (!established)
		__sync_fetch_and_add(&c->failed, 1);
}

/* SYN_SENT -> state: the outcome of a connect we saw start. */
static __always_inline void connect_done(const struct start *s, int state,
					 const struct net_tuple *t, int err)
{
	bool established = state != TCP_CLOSE;
	struct tcpconnect_event *e;

	if (!want_source(t))
		return;
	if (mode == TCPCONNECT_COUNT) {
		count_flow(t, established);
		return;
	}
	if (mode == TCPCONNECT_HIST) {
		hist_add_slot(&hists, TCPCONNECT_NHISTS,
			      established ? TCPCONNECT_HIST_OK :
					    TCPCONNECT_HIST_FAILED,
			      (bpf_ktime_get_ns() - s->ts) /
				      (hist_ms ? 1000000 : 1000));
		return;
	}
	if (failed_only && established)
		return;
	e = kit_event_reserve(sizeof(*e));
	if (!e)
		return;
	e->ts = bpf_ktime_get_ns();
	e->latency_ns = e->ts - s->ts;
	e->pid = s->pid;
	e->tid = s->tid;
	e->uid = s->uid;
	e->err = established ? 0 : err;
	e->established = established;
	e->state = state;
	e->tuple = *t;
	__builtin_memcpy(e->comm, s->comm, sizeof(e->comm));
	kit_event_submit(e);
}

/* Is this the start of a connect we want? (Filters on the destination.) */
static __always_inline bool want_start(const struct sock *sk, bool tcp_only,
				       bool btf)
{
	struct net_tuple t = {};
	int proto;

	if (!tcp_only) {
		proto = btf ? BPF_CORE_READ_BITFIELD(sk, sk_protocol) :
			      BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol);
		if (proto != IPPROTO_TCP)
			return false;
	}
	if (dest_filtered()) {
		net_dest_from_sk(sk, &t);
		if (!want_dest(&t))
			return false;
	}
	return kit_filter_current(bpf_get_current_pid_tgid());
}

/*
 * Every way but the classic tracepoint gives us the socket: btf says it is
 * BTF-typed (tp_btf, fentry), so that its fields can be loaded directly.
 */
static __always_inline void on_state_sk(const struct sock *sk, int old,
					int state, bool tcp_only, bool btf)
{
	__u64 key = (__u64)sk;
	struct net_tuple t = {};
	struct start *s, st = {};

	if (old == TCP_CLOSE && state == TCP_SYN_SENT) {
		if (!want_start(sk, tcp_only, btf))
			return;
		fill_start(&st, bpf_get_current_pid_tgid());
		/* A full table loses this connect: count it as lost. */
		if (bpf_map_update_elem(&starts, &key, &st, BPF_ANY))
			kit_stat_inc(KIT_STAT_LOST);
		return;
	}
	if (old != TCP_SYN_SENT)
		return;
	s = bpf_map_lookup_elem(&starts, &key);
	if (!s)
		return;
	if (btf)
		net_tuple_from_btf_sk(sk, &t);
	else
		net_tuple_from_sk(sk, &t);
	connect_done(s, state, &t,
		     btf ? sk->sk_err : BPF_CORE_READ(sk, sk_err));
	bpf_map_delete_elem(&starts, &key);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(tc_state_btf, struct sock *sk, int old, int state)
{
	on_state_sk(sk, old, state, false, true);
	return 0;
}

SEC("raw_tp/inet_sock_set_state")
int BPF_PROG(tc_state_raw, const struct sock *sk, int old, int state)
{
	on_state_sk(sk, old, state, false, false);
	return 0;
}

/* tcp_set_state() runs for TCP sockets only, before the state changes. */
SEC("fentry/tcp_set_state")
int BPF_PROG(tc_state_fentry, struct sock *sk, int state)
{
	on_state_sk(sk, sk->__sk_common.skc_state, state, true, true);
	return 0;
}

SEC("kprobe/tcp_set_state")
int BPF_KPROBE(tc_state_kprobe, struct sock *sk, int state)
{
	on_state_sk(sk, BPF_CORE_READ(sk, __sk_common.skc_state), state, true,
		    false);
	return 0;
}

/* The classic tracepoint carries the addresses in its record. */
static __always_inline void
tuple_from_record(const struct trace_event_raw_inet_sock_set_state *ctx,
		  struct net_tuple *t)
{
	t->family = ctx->family;
	t->sport = ctx->sport;
	t->dport = ctx->dport;
	/* Copied with a helper: the verifier refuses the compiler's loads
	 * through a pointer into the record. */
	if (t->family == NET_AF_INET) {
		bpf_core_read(t->saddr, 4, &ctx->saddr);
		bpf_core_read(t->daddr, 4, &ctx->daddr);
	} else {
		bpf_core_read(t->saddr, 16, &ctx->saddr_v6);
		bpf_core_read(t->daddr, 16, &ctx->daddr_v6);
	}
}

SEC("tracepoint/sock/inet_sock_set_state")
int tc_state_tp(struct trace_event_raw_inet_sock_set_state *ctx)
{
	__u64 key = (__u64)ctx->skaddr;
	int old = ctx->oldstate, state = ctx->newstate;
	struct net_tuple t = {};
	struct start *s, st = {};

	if (old == TCP_CLOSE && state == TCP_SYN_SENT) {
		/* Older kernels traced TCP only, without this field. */
		if (bpf_core_field_exists(ctx->protocol) &&
		    ctx->protocol != IPPROTO_TCP)
			return 0;
		if (dest_filtered()) {
			tuple_from_record(ctx, &t);
			if (!want_dest(&t))
				return 0;
		}
		if (!kit_filter_current(bpf_get_current_pid_tgid()))
			return 0;
		fill_start(&st, bpf_get_current_pid_tgid());
		if (bpf_map_update_elem(&starts, &key, &st, BPF_ANY))
			kit_stat_inc(KIT_STAT_LOST);
		return 0;
	}
	if (old != TCP_SYN_SENT)
		return 0;
	s = bpf_map_lookup_elem(&starts, &key);
	if (!s)
		return 0;
	tuple_from_record(ctx, &t);
	connect_done(s, state, &t,
		     BPF_CORE_READ((struct sock *)ctx->skaddr, sk_err));
	bpf_map_delete_elem(&starts, &key);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
