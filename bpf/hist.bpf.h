/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * BPF side of the histogram library: in-kernel aggregation into log-linear
 * buckets (bpf/hist_common.h) with exact count, sum, min and max.
 *
 * Intervals without loss or double counting: every key (or array slot)
 * starts with a generation number, 0 or 1, taken from hist_gen when the
 * value is recorded. At the end of an interval the reader (lib/hist.c)
 * flips hist_gen, waits until every BPF program that may have read the old
 * generation has returned (an RCU grace period), then reads and clears
 * the old generation: nothing writes to it any more, so nothing is lost
 * between the read and the clear, and what arrives meanwhile is counted
 * in the new generation, once.
 *
 * Why not counters that are never cleared, read as differences from the
 * previous snapshot? They would save the load of hist_gen, but give no
 * per-interval min and max, and the keys of a keyed map (one per process)
 * could never be deleted safely.
 *
 * Maps are per-CPU, and updated with atomic adds, since a program in
 * interrupt context can interrupt another one on the same CPU. A tool whose
 * recording programs cannot interrupt one another (all in task context,
 * e.g. syscall hooks) defines HIST_NO_NESTING before including this file:
 * plain adds then (about 13 ns less per value here), since the kernel runs
 * such programs with preemption off and never nests a program in itself;
 * on PREEMPT_RT kernels, where programs can be preempted, adds stay
 * atomic (the loader says which, see hist_preemptible). Keyed maps
 * are not preallocated: a histogram is 8 KiB per CPU, and most keys of a
 * large map are never used.
 */
#ifndef HIST_BPF_H
#define HIST_BPF_H

#include "hist_common.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} hist_gen SEC(".maps");

/* A histogram map keyed by a struct whose first member is __u32 gen. */
#define HIST_MAP(name, key_type, entries)                                    \
	struct {                                                             \
		__uint(type, BPF_MAP_TYPE_PERCPU_HASH);                      \
		__uint(map_flags, BPF_F_NO_PREALLOC);                        \
		__uint(max_entries, entries);                                \
		__type(key, key_type);                                       \
		__type(value, struct hist);                                  \
	} name SEC(".maps")

/*
 * The cheap form for unkeyed histograms: a per-CPU array holding
 * HIST_SLOTS(n) histograms, slot = generation * n + index (lib/hist.c reads
 * it with hist_drain_array). No key hashing, no insertion.
 */
#define HIST_ARRAY(name, n)                                                  \
	struct {                                                             \
		__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);                     \
		__uint(max_entries, 2 * (n));                                \
		__type(key, __u32);                                          \
		__type(value, struct hist);                                  \
	} name SEC(".maps")

/* Values not recorded because a keyed map was full (lib/hist.c reports
 * them with hist_dropped). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} hist_drops SEC(".maps");

static const struct hist hist_zero;

#ifdef HIST_NO_NESTING
/* The loader clears it unless programs can be preempted (PREEMPT_RT):
 * skel->rodata->hist_preemptible = hist_preemptible_kernel(). */
const volatile bool hist_preemptible = true;
#define hist_inc(p, v)                                                       \
	do {                                                                 \
		if (hist_preemptible)                                        \
			__sync_fetch_and_add(p, v);                          \
		else                                                         \
			*(p) += (v);                                         \
	} while (0)
#else
#define hist_inc(p, v) __sync_fetch_and_add(p, v)
#endif

static __always_inline __u32 hist_current_gen(void)
{
	__u32 zero = 0, *gen = bpf_map_lookup_elem(&hist_gen, &zero);

	return gen ? *gen : 0;
}

static __always_inline void hist_record(struct hist *h, __u64 v)
{
	__u64 idx = hist_bucket(v);

	/*
	 * idx < HIST_NBUCKETS already, but 6.1's verifier loses that bound;
	 * a mask it sees (in asm, so the compiler cannot drop it) keeps it.
	 */
	asm volatile("%0 &= %1" : "+r"(idx) : "i"(HIST_STORAGE - 1));
	/* min and max are best effort under nesting; the rest is exact */
	if (!h->count || v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
	hist_inc(&h->buckets[idx], 1);
	hist_inc(&h->sum, v);
	hist_inc(&h->count, 1);
}

/* Add value v to the histogram of key (whose gen the caller has set). */
static __always_inline void hist_add(void *map, void *key, __u64 v)
{
	struct hist *h = kit_map_lookup_or_init(map, key, &hist_zero);

	if (!h) {
		__u32 zero = 0;
		__u64 *drops = bpf_map_lookup_elem(&hist_drops, &zero);

		if (drops)
			__sync_fetch_and_add(drops, 1);
		return;
	}
	hist_record(h, v);
}

/* Add v to histogram idx (< n) of the current generation of an array. */
static __always_inline void hist_add_slot(void *map, __u32 n, __u32 idx,
					  __u64 v)
{
	__u32 slot = hist_current_gen() * n + idx;
	struct hist *h = bpf_map_lookup_elem(map, &slot);

	if (h)
		hist_record(h, v);
}

#endif /* HIST_BPF_H */
