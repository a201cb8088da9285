// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * tcpretrans: one event per TCP retransmission, or (-c) counts per
 * connection kept in the kernel.
 *
 * Retransmissions happen in timer or packet-receive context (softirq), not
 * in the task that owns the socket: everything is read from the socket.
 * The hook is tcp:tcp_retransmit_skb, best first as tp_btf, raw_tp or
 * tracepoint; else fentry/fexit or kprobes on tcp_retransmit_skb and
 * __tcp_retransmit_skb, the functions around it.
 *
 * Tail loss probes (-l): when the loss-probe timer fires, the kernel
 * retransmits the last segment from inside the timer handler, which leaves
 * icsk_pending at ICSK_TIME_LOSS_PROBE while it runs (the RTO handler
 * clears it first), and TLPs are only sent in the Open or CWR congestion
 * states (fast retransmits happen in Recovery or Loss). A retransmission
 * seen in that state is the probe's.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include "kit.bpf.h"
#include "net.bpf.h"
#include "tcpretrans.h"

#define ICSK_TIME_LOSS_PROBE 5

const volatile bool count_mode = false;
const volatile bool mark_tlp = false;		/* -l */
const volatile bool with_failed = false;	/* report failed sends too */
const volatile __u16 targ_family = 0;
const volatile bool filter_dport = false;
const volatile bool filter_lport = false;
const volatile __u64 dports[NET_PORT_WORDS] = {};
const volatile __u64 lports[NET_PORT_WORDS] = {};
const volatile struct net_prefix raddr = {};
const volatile struct net_prefix laddr = {};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct tcpretrans_flow);
	__type(value, struct tcpretrans_count);
} counts SEC(".maps");

static __always_inline bool wanted(const struct net_tuple *t)
{
	if (targ_family && t->family != targ_family)
		return false;
	if (filter_dport && !net_port_in(dports, t->dport))
		return false;
	if (filter_lport && !net_port_in(lports, t->sport))
		return false;
	if (raddr.family && !net_prefix_match(&raddr, t->family, t->daddr))
		return false;
	if (laddr.family && !net_prefix_match(&laddr, t->family, t->saddr))
		return false;
	return true;
}

static __always_inline bool is_tlp(const struct sock *sk)
{
	const struct inet_connection_sock *icsk = (void *)sk;
	__u8 ca = BPF_CORE_READ_BITFIELD_PROBED(icsk, icsk_ca_state);

	return BPF_CORE_READ(icsk, icsk_pending) == ICSK_TIME_LOSS_PROBE &&
	       (ca == TCP_CA_Open || ca == TCP_CA_CWR);
}

static __always_inline void count_flow(const struct net_tuple *t, __u8 type)
{
	struct tcpretrans_flow key = {};
	struct tcpretrans_count *c, zero = {};

	__builtin_memcpy(key.saddr, t->saddr, sizeof(key.saddr));
	__builtin_memcpy(key.daddr, t->daddr, sizeof(key.daddr));
	key.family = t->family;
	key.sport = t->sport;
	key.dport = t->dport;
	c = kit_map_lookup_or_init(&counts, &key, &zero);
	if (!c) {
		kit_stat_inc(KIT_STAT_LOST);
		return;
	}
	__sync_fetch_and_add(&c->retransmits, 1);
	if (type == TCPRETRANS_TLP)
		__sync_fetch_and_add(&c->tlp, 1);
}

static __always_inline void on_retransmit(const struct sock *sk,
					  const struct sk_buff *skb, int err)
{
	struct tcpretrans_event *e;
	struct net_tuple t = {};
	__u8 type = TCPRETRANS_RETRANSMIT;
	const struct tcp_skb_cb *cb;

	if (err && !with_failed)
		return;
	net_tuple_from_sk(sk, &t);
	if (!wanted(&t))
		return;
	if (mark_tlp && is_tlp(sk))
		type = TCPRETRANS_TLP;
	if (count_mode) {
		count_flow(&t, type);
		return;
	}
	e = kit_event_reserve(sizeof(*e));
	if (!e)
		return;
	e->ts = bpf_ktime_get_ns();
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->uid = bpf_core_field_exists(sk->sk_uid) ?
			 BPF_CORE_READ(sk, sk_uid.val) : 0;
	e->netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	/* TCP's control block lives in the skb's cb[] */
	cb = (const void *)skb + bpf_core_field_offset(struct sk_buff, cb);
	e->seq = BPF_CORE_READ(cb, seq);
	e->end_seq = BPF_CORE_READ(cb, end_seq);
	e->err = err;
	e->state = BPF_CORE_READ(sk, __sk_common.skc_state);
	e->type = type;
	e->tuple = t;
	kit_event_submit(e);
}

/* Kernels that report failed sends too pass the error as a third
 * argument, and their record has an err field. */
#define HAS_ERR                                                              \
	bpf_core_field_exists(struct trace_event_raw_tcp_retransmit_skb, err)

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(tr_retrans_btf, const struct sock *sk, const struct sk_buff *skb)
{
	on_retransmit(sk, skb, HAS_ERR ? (int)ctx[2] : 0);
	return 0;
}

SEC("raw_tp/tcp_retransmit_skb")
int BPF_PROG(tr_retrans_raw, const struct sock *sk, const struct sk_buff *skb)
{
	on_retransmit(sk, skb, HAS_ERR ? (int)ctx[2] : 0);
	return 0;
}

/* The start of the tracepoint's record: the same since it appeared (4.15),
 * while the rest changed (state, family, err were added). */
struct retransmit_record {
	__u64 common;		/* struct trace_entry */
	const void *skbaddr;
	const void *skaddr;
};

SEC("tracepoint/tcp/tcp_retransmit_skb")
int tr_retrans_tp(struct retransmit_record *ctx)
{
	int err = 0;

	if (HAS_ERR)
		bpf_core_read(&err, sizeof(err),
			      &((struct trace_event_raw_tcp_retransmit_skb *)ctx)
				       ->err);
	on_retransmit(ctx->skaddr, ctx->skbaddr, err);
	return 0;
}

/*
 * Without the tracepoint: the kernel retransmits through
 * tcp_retransmit_skb(), which calls __tcp_retransmit_skb(); tail loss
 * probes call the latter directly. Some builds inline the inner function
 * into the wrapper (Debian's 6.1), others do not (6.12), so we hook both
 * and report from the inner one only when the wrapper is not running for
 * the same socket on this CPU (retransmissions run with bottom halves off:
 * they do not nest on one CPU).
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} in_wrapper SEC(".maps");

static __always_inline void set_wrapper(const struct sock *sk)
{
	__u32 zero = 0;
	__u64 *slot = bpf_map_lookup_elem(&in_wrapper, &zero);

	if (slot)
		*slot = (__u64)sk;
}

static __always_inline bool inside_wrapper(const struct sock *sk)
{
	__u32 zero = 0;
	__u64 *slot = bpf_map_lookup_elem(&in_wrapper, &zero);

	return slot && *slot == (__u64)sk;
}

SEC("fentry/tcp_retransmit_skb")
int BPF_PROG(tr_wrap_fentry, struct sock *sk)
{
	set_wrapper(sk);
	return 0;
}

SEC("fexit/tcp_retransmit_skb")
int BPF_PROG(tr_wrap_fexit, struct sock *sk, struct sk_buff *skb, int segs,
	     int ret)
{
	set_wrapper(NULL);
	on_retransmit(sk, skb, ret);
	return 0;
}

SEC("fexit/__tcp_retransmit_skb")
int BPF_PROG(tr_inner_fexit, struct sock *sk, struct sk_buff *skb, int segs,
	     int ret)
{
	if (!inside_wrapper(sk))
		on_retransmit(sk, skb, ret);
	return 0;
}

/* Before the send: a failure cannot be told apart here. */
SEC("kprobe/tcp_retransmit_skb")
int BPF_KPROBE(tr_wrap_kprobe, struct sock *sk, struct sk_buff *skb)
{
	set_wrapper(sk);
	on_retransmit(sk, skb, 0);
	return 0;
}

SEC("kretprobe/tcp_retransmit_skb")
int BPF_KRETPROBE(tr_wrap_kretprobe)
{
	set_wrapper(NULL);
	return 0;
}

SEC("kprobe/__tcp_retransmit_skb")
int BPF_KPROBE(tr_inner_kprobe, struct sock *sk, struct sk_buff *skb)
{
	if (!inside_wrapper(sk))
		on_retransmit(sk, skb, 0);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
