/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* tcpconnect: what bpf/tcpconnect.bpf.c and tools/tcpconnect.c share */
#ifndef TCPCONNECT_H
#define TCPCONNECT_H

#include "net_common.h"

enum tcpconnect_mode {
	TCPCONNECT_EVENTS,	/* one event per connect, at its outcome */
	TCPCONNECT_COUNT,	/* -c: counts per flow, kept in the kernel */
	TCPCONNECT_HIST,	/* latency histogram, kept in the kernel */
};

/* -H: the histograms, by outcome. */
enum tcpconnect_hist {
	TCPCONNECT_HIST_OK,
	TCPCONNECT_HIST_FAILED,
	TCPCONNECT_NHISTS,
};

/* One connect, sent when its outcome is known. */
struct tcpconnect_event {
	unsigned long long ts;		/* the outcome, bpf_ktime_get_ns() */
	unsigned long long latency_ns;	/* SYN_SENT to the outcome */
	unsigned int pid;		/* of the task that called connect() */
	unsigned int tid;
	unsigned int uid;
	int err;		/* sk_err when it failed; 0: no error set */
	unsigned char established; /* 1: connected; 0: failed */
	unsigned char state;	/* the state it left SYN_SENT for */
	unsigned char pad[6];
	struct net_tuple tuple;
	char comm[16];
};

/* -c: connects counted per local address, remote address and port (and
 * local port with -s). */
struct tcpconnect_flow {
	unsigned char saddr[16];
	unsigned char daddr[16];
	unsigned short family;
	unsigned short sport;	/* 0 unless -s */
	unsigned short dport;
	unsigned short pad;
};

struct tcpconnect_count {
	unsigned long long connects;	/* every outcome */
	unsigned long long failed;	/* outcomes other than connected */
};

#endif /* TCPCONNECT_H */
