/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* readlat: keys shared by bpf/readlat.bpf.c and tools/readlat.c */
#ifndef READLAT_H
#define READLAT_H

enum readlat_kind {
	READLAT_OK,	/* latency of reads that returned >= 0 */
	READLAT_FAILED,	/* latency of reads that failed */
	READLAT_SIZE,	/* bytes returned by successful reads (--size) */
};

struct readlat_key {
	unsigned int gen;	/* first: see bpf/hist.bpf.h */
	unsigned int kind;	/* enum readlat_kind */
	unsigned int tgid;	/* -P, else 0 */
	unsigned int pad;
	char comm[16];		/* -P */
};

#endif /* READLAT_H */
