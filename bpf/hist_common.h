/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Log-linear histogram buckets, shared by the BPF side (bpf/hist.bpf.h) and
 * the user side (lib/hist.c). Plain C, no kernel headers.
 *
 * Values 0..15 have a bucket each; above, every power of two [2^p, 2^(p+1))
 * is cut into HIST_SUB equal sub-buckets, so a bucket is at most 1/16 of its
 * lower bound wide and a percentile interpolated inside one is off by at most
 * ~6%. BCC's log2 slots are unions of whole buckets. Values from 2^48 up
 * share the last bucket.
 */
#ifndef HIST_COMMON_H
#define HIST_COMMON_H

#define HIST_SUB_BITS	4
#define HIST_SUB	(1 << HIST_SUB_BITS)
#define HIST_MAX_LOG2	47
#define HIST_NBUCKETS	((HIST_MAX_LOG2 - HIST_SUB_BITS + 2) * HIST_SUB)
/* Room for the buckets, a power of two: the BPF side masks the index with
 * it, a bound every verifier keeps track of. */
#define HIST_STORAGE	1024

struct hist {
	unsigned long long count;
	unsigned long long sum;
	unsigned long long min;		/* valid when count > 0 */
	unsigned long long max;
	unsigned long long buckets[HIST_STORAGE]; /* [HIST_NBUCKETS] used */
};

/* floor(log2(v)) for v > 0, without loops (the verifier likes that). */
static inline unsigned int hist_log2(unsigned long long v)
{
	unsigned int r = 0, s;

	s = (v > 0xffffffffULL) << 5; v >>= s; r |= s;
	s = (v > 0xffff) << 4; v >>= s; r |= s;
	s = (v > 0xff) << 3; v >>= s; r |= s;
	s = (v > 0xf) << 2; v >>= s; r |= s;
	s = (v > 0x3) << 1; v >>= s; r |= s;
	r |= (v >> 1);
	return r;
}

static inline unsigned int hist_bucket(unsigned long long v)
{
	unsigned int p;

	if (v < HIST_SUB)
		return v;
	p = hist_log2(v);
	if (p > HIST_MAX_LOG2)
		return HIST_NBUCKETS - 1;
	return (p - HIST_SUB_BITS + 1) * HIST_SUB +
	       ((v >> (p - HIST_SUB_BITS)) & (HIST_SUB - 1));
}

/* Smallest value of bucket idx. */
static inline unsigned long long hist_bucket_lower(unsigned int idx)
{
	unsigned int p, sub;

	if (idx < HIST_SUB)
		return idx;
	p = idx / HIST_SUB + HIST_SUB_BITS - 1;
	sub = idx % HIST_SUB;
	return (unsigned long long)(HIST_SUB + sub) << (p - HIST_SUB_BITS);
}

/* One past the largest value of bucket idx (the last one is open). */
static inline unsigned long long hist_bucket_upper(unsigned int idx)
{
	return idx + 1 < HIST_NBUCKETS ? hist_bucket_lower(idx + 1) :
					 ~0ULL;
}

#endif /* HIST_COMMON_H */
