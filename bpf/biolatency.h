/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* biolatency: keys shared by bpf/biolatency.bpf.c and tools/biolatency.c */
#ifndef BIOLATENCY_H
#define BIOLATENCY_H

/* I/O flags, one encoding for every attach path (-F) */
enum bio_op {
	BIO_OP_OTHER,
	BIO_OP_READ,
	BIO_OP_WRITE,
	BIO_OP_DISCARD,
	BIO_OP_FLUSH,
	BIO_OP_SECURE_ERASE,
};

#define BIO_F_SYNC	(1 << 8)
#define BIO_F_FUA	(1 << 9)
#define BIO_F_META	(1 << 10)
#define BIO_F_AHEAD	(1 << 11)
#define BIO_F_PREFLUSH	(1 << 12)

struct bio_hist_key {
	unsigned int gen;	/* first: see bpf/hist.bpf.h */
	unsigned int dev;	/* kernel dev_t (major << 20 | minor), -D */
	unsigned int flags;	/* enum bio_op | BIO_F_*, -F */
	unsigned int pad;
};

#endif /* BIOLATENCY_H */
