/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * User side of the histogram library: merge per-CPU data, read and clear a
 * keyed histogram map once per interval (see bpf/hist.bpf.h for why that
 * loses and double-counts nothing), percentiles, and the three outputs of
 * one histogram: BCC's log2 table, a percentile summary line, and JSON.
 */
#ifndef KIT_HIST_H
#define KIT_HIST_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <bpf/libbpf.h>

#include "hist_common.h"
#include "json.h"
#include "strbuf.h"

/* The unit histogram values are recorded in. */
struct hist_unit {
	const char *name;	/* column label: "usecs", "nsecs", "bytes" */
	const char *json;	/* JSON suffix: "us", "ns", "bytes" */
	uint64_t ns;		/* ns per unit; 0: not a time (bytes) */
};

extern const struct hist_unit HIST_NSECS, HIST_USECS, HIST_MSECS,
	HIST_BYTES;

void hist_clear(struct hist *h);
/* dst += src (counts, sums; min and max combined). */
void hist_merge(struct hist *dst, const struct hist *src);
/* The q-quantile (0 <= q <= 1), interpolated inside its bucket and kept
 * within [min, max]; 0 for an empty histogram. */
double hist_percentile(const struct hist *h, double q);
/* BCC's log2 slot of a value: 0 holds 0 and 1, slot i holds 2^i..2^(i+1)-1 */
unsigned int hist_log2_slot(uint64_t v);

/* BCC's "usecs : count distribution" table. */
void hist_print_log2(struct strbuf *sb, const struct hist *h,
		     const struct hist_unit *unit);
/* "count 12, avg 3.5, p50 3, p90 7, p99 9, p99.9 9, max 9 usecs" */
void hist_print_summary(struct strbuf *sb, const struct hist *h,
			const struct hist_unit *unit);
/* Members of a JSON object: count, sum, min, max, avg, p50, p90, p99,
 * p99_9 (in the unit, and *_ns for times), and "buckets": an array of
 * {"lower": , "upper": , "count": } for the non-empty buckets, bounds in
 * ns for times (in the unit otherwise), upper exclusive. */
void hist_json(struct jw *w, const struct hist *h,
	       const struct hist_unit *unit);

/*
 * Start a new interval: flip the generation in map "hist_gen" of obj, then
 * wait until the programs that read the old generation before the flip
 * have returned (an RCU grace period, a few ms). Returns the generation
 * to read, or -1.
 */
int hist_flip(struct bpf_object *obj);

/*
 * Read every entry of generation gen in the per-CPU histogram map, merge
 * its CPUs, hand it to fn (key points to the whole key, gen included), and
 * delete it. Returns the number of keys, or -1.
 */
int hist_drain(struct bpf_map *map, uint32_t gen,
	       int (*fn)(const void *key, const struct hist *h, void *ctx),
	       void *ctx);

/*
 * The same for a per-CPU array of 2 * n histograms (HIST_ARRAY): hand the
 * n of generation gen to fn (key: a __u32 index 0..n-1) and zero them.
 */
int hist_drain_array(struct bpf_map *map, uint32_t gen, uint32_t n,
		     int (*fn)(const void *key, const struct hist *h,
			       void *ctx),
		     void *ctx);

/* Can BPF programs be preempted on this kernel (PREEMPT_RT)? For the
 * hist_preemptible setting of programs built with HIST_NO_NESTING. */
bool hist_preemptible_kernel(void);

/* Values not recorded since the start because a keyed map was full (map
 * "hist_drops"), or 0 if obj has no such map. */
uint64_t hist_dropped(struct bpf_object *obj);

#endif /* KIT_HIST_H */
