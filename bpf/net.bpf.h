/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * BPF side of the TCP tools' shared code: a socket's addresses and ports,
 * port sets and address prefixes as filters. Include after vmlinux.h and
 * the libbpf headers.
 */
#ifndef NET_BPF_H
#define NET_BPF_H

#include <bpf/bpf_endian.h>

#include "net_common.h"

/* Read a socket's family, addresses and ports into t. */
static __always_inline void net_tuple_from_sk(const struct sock *sk,
					      struct net_tuple *t)
{
	t->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	/* Not skc_num: the kernel clears it when it releases the port,
	 * before a failed connect's socket leaves SYN_SENT. */
	t->sport = bpf_ntohs(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
	t->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (t->family == NET_AF_INET) {
		bpf_core_read(t->saddr, 4, &sk->__sk_common.skc_rcv_saddr);
		bpf_core_read(t->daddr, 4, &sk->__sk_common.skc_daddr);
		return;
	}
	/* Kernels built without IPv6 have no such fields. */
	if (bpf_core_field_exists(sk->__sk_common.skc_v6_daddr)) {
		bpf_core_read(t->saddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(t->daddr, 16, &sk->__sk_common.skc_v6_daddr);
	}
}

/*
 * The same from a BTF-typed socket (tp_btf, fentry arguments): plain CO-RE
 * loads, which the verifier turns into fault-safe loads without a helper
 * call each. The local port lives past struct sock (in struct inet_sock):
 * that one is still read with a helper.
 */
static __always_inline void net_tuple_from_btf_sk(const struct sock *sk,
						  struct net_tuple *t)
{
	const struct sock_common *c = &sk->__sk_common;

	t->family = c->skc_family;
	t->sport = bpf_ntohs(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
	t->dport = bpf_ntohs(c->skc_dport);
	if (t->family == NET_AF_INET) {
		*(__u32 *)t->saddr = c->skc_rcv_saddr;
		*(__u32 *)t->daddr = c->skc_daddr;
		return;
	}
	if (bpf_core_field_exists(c->skc_v6_daddr)) {
		__builtin_memcpy(t->saddr, &c->skc_v6_rcv_saddr, 16);
		__builtin_memcpy(t->daddr, &c->skc_v6_daddr, 16);
	}
}

/* Just the destination: family, port and address. */
static __always_inline void net_dest_from_sk(const struct sock *sk,
					     struct net_tuple *t)
{
	t->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	t->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (t->family == NET_AF_INET)
		bpf_core_read(t->daddr, 4, &sk->__sk_common.skc_daddr);
	else if (bpf_core_field_exists(sk->__sk_common.skc_v6_daddr))
		bpf_core_read(t->daddr, 16, &sk->__sk_common.skc_v6_daddr);
}

/* Is port in the set (NET_PORT_WORDS bits)? */
static __always_inline bool net_port_in(const volatile __u64 *bits,
					__u16 port)
{
	return bits[port >> 6] & (1ULL << (port & 63));
}

static __always_inline bool net_v4mapped(const __u8 *a)
{
	return !(a[0] | a[1] | a[2] | a[3] | a[4] | a[5] | a[6] | a[7] |
		 a[8] | a[9]) &&
	       a[10] == 0xff && a[11] == 0xff;
}

static __always_inline bool net_prefix_match(const volatile struct net_prefix *p,
					     __u16 family, const __u8 *addr)
{
	int i;

	if (p->family == NET_AF_INET && family == NET_AF_INET6 &&
	    net_v4mapped(addr)) {
#pragma unroll
		for (i = 0; i < 4; i++)
			if ((addr[12 + i] & p->mask[i]) != p->addr[i])
				return false;
		return true;
	}
	if (p->family != family)
		return false;
#pragma unroll
	for (i = 0; i < 16; i++) {
		if (i == 4 && family == NET_AF_INET)
			break;
		if ((addr[i] & p->mask[i]) != p->addr[i])
			return false;
	}
	return true;
}

#endif /* NET_BPF_H */
