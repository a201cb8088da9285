/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* readlat: keys shared by bpf/readlat.bpf.c and tools/readlat.c */
#ifndef READLAT_H
#define READLAT_H

enum readlat_kind {
	READLAT_OK,	/* latency of reads that returned >= 0 */
	READLAT_FAILED,	/* latency of reads that failed */
	READLAT_SIZE,	/* bytes returned by successful reads (--size) */
	READLAT_NKINDS,
};

/* What the file descriptor read from was (-F), at entry. */
enum readlat_ftype {
	READLAT_FT_ANY,		/* without -F */
	READLAT_FT_FILE,	/* a regular file */
	READLAT_FT_PIPE,	/* a pipe or FIFO */
	READLAT_FT_SOCKET,
	READLAT_FT_TTY,		/* a terminal: tty, console, pty */
	READLAT_FT_OTHER,	/* anything else, or no such descriptor */
	READLAT_NFTYPES,
};

/* Syscall ids below this can be traced on the raw_syscalls path. */
#define READLAT_MAX_ID	512

struct readlat_key {
	unsigned int gen;	/* first: see bpf/hist.bpf.h */
	unsigned int kind;	/* enum readlat_kind */
	unsigned int tgid;	/* -P, else 0 */
	unsigned int ftype;	/* enum readlat_ftype */
	char comm[16];		/* -P */
};

#endif /* READLAT_H */
