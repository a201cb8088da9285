/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* tcpretrans: what bpf/tcpretrans.bpf.c and tools/tcpretrans.c share */
#ifndef TCPRETRANS_H
#define TCPRETRANS_H

#include "net_common.h"

enum tcpretrans_type {
	TCPRETRANS_RETRANSMIT = 1,
	TCPRETRANS_TLP = 2,	/* a tail loss probe's retransmission (-l) */
};

struct tcpretrans_event {
	unsigned long long ts;	/* bpf_ktime_get_ns() */
	unsigned int pid;	/* the task interrupted, usually 0: see docs */
	unsigned int uid;	/* the socket's owner (sk_uid) */
	unsigned int netns;	/* the socket's network namespace (inode) */
	unsigned int seq;	/* first sequence number of the segment */
	unsigned int end_seq;	/* seq + length (+1 for SYN, FIN) */
	int err;		/* send error, where the kernel reports it */
	unsigned char state;	/* TCP state of the socket */
	unsigned char type;	/* enum tcpretrans_type */
	unsigned char pad[6];
	struct net_tuple tuple;
};

/* -c: retransmissions per connection. */
struct tcpretrans_flow {
	unsigned char saddr[16];
	unsigned char daddr[16];
	unsigned short family;
	unsigned short sport;
	unsigned short dport;
	unsigned short pad;
};

struct tcpretrans_count {
	unsigned long long retransmits; /* all, tail loss probes included */
	unsigned long long tlp;		/* of which tail loss probes (-l) */
};

#endif /* TCPRETRANS_H */
