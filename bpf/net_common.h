/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Types shared by the BPF side (bpf/net.bpf.h) and the user side (lib/net.c)
 * of the TCP tools: a connection's addresses, port sets and address
 * prefixes used as filters. Plain C, no kernel headers.
 */
#ifndef NET_COMMON_H
#define NET_COMMON_H

#define NET_AF_INET	2
#define NET_AF_INET6	10

/* A set of ports: one bit per port, 65536 bits. */
#define NET_PORT_WORDS	1024

/* A connection as the tools report it. IPv4 uses the first 4 bytes. */
struct net_tuple {
	unsigned char saddr[16];
	unsigned char daddr[16];
	unsigned short family;	/* NET_AF_INET or NET_AF_INET6 */
	unsigned short sport;	/* host byte order */
	unsigned short dport;	/* host byte order */
	unsigned short pad;
};

/*
 * An address prefix (10.0.0.0/8, fd00::/64, or one address). An IPv4
 * prefix also matches IPv4-mapped IPv6 addresses (::ffff:10.1.2.3).
 */
struct net_prefix {
	unsigned char family;	/* 0: no filter */
	unsigned char len;	/* prefix length in bits */
	unsigned char pad[2];
	unsigned char addr[16];	/* already masked */
	unsigned char mask[16];
};

#endif /* NET_COMMON_H */
