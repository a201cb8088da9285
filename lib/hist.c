// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "hist.h"

const struct hist_unit HIST_NSECS = { "nsecs", "ns", 1 };
const struct hist_unit HIST_USECS = { "usecs", "us", 1000 };
const struct hist_unit HIST_MSECS = { "msecs", "ms", 1000000 };
const struct hist_unit HIST_BYTES = { "bytes", "bytes", 0 };

void hist_clear(struct hist *h)
{
	memset(h, 0, sizeof(*h));
}

void hist_merge(struct hist *dst, const struct hist *src)
{
	unsigned int i;

	if (!src->count)
		return;
	if (!dst->count || src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
	dst->count += src->count;
	dst->sum += src->sum;
	for (i = 0; i < HIST_NBUCKETS; i++)
		dst->buckets[i] += src->buckets[i];
}

static uint64_t total(const struct hist *h)
{
	uint64_t n = 0;
	unsigned int i;

	for (i = 0; i < HIST_NBUCKETS; i++)
		n += h->buckets[i];
	return n;
}

double hist_percentile(const struct hist *h, double q)
{
	uint64_t n = total(h), cum = 0;
	double rank, v;
	unsigned int i;

	if (!n)
		return 0;
	if (q <= 0)
		return h->min;
	if (q >= 1)
		return h->max;
	rank = q * n;
	for (i = 0; i < HIST_NBUCKETS; i++) {
		uint64_t c = h->buckets[i], lo, hi;

		if (!c || cum + c < rank) {
			cum += c;
			continue;
		}
		lo = hist_bucket_lower(i);
		hi = hist_bucket_upper(i);
		if (hi - lo <= 1) {
			v = lo;
		} else {
			if (hi == ~0ULL)
				hi = h->max + 1;
			v = lo + (double)(hi - lo) * (rank - cum) / c;
		}
		if (h->count && v < h->min)
			v = h->min;
		if (h->count && v > h->max)
			v = h->max;
		return v;
	}
	return h->max;
}

unsigned int hist_log2_slot(uint64_t v)
{
	return v ? hist_log2(v) : 0;
}

void hist_print_log2(struct strbuf *sb, const struct hist *h,
		     const struct hist_unit *unit)
{
	uint64_t slots[64] = { 0 }, max = 0;
	int i, last = -1, width = 40;
	unsigned int b;

	/* Buckets never straddle a power of two: a slot is whole buckets. */
	for (b = 0; b < HIST_NBUCKETS; b++)
		slots[hist_log2_slot(hist_bucket_lower(b))] += h->buckets[b];
	for (i = 0; i < 64; i++) {
		if (slots[i])
			last = i;
		if (slots[i] > max)
			max = slots[i];
	}
	/* BCC's layout: 10-wide bounds while they fit, 20 beyond 2^32 */
	sb_printf(sb, "%*s%-*s : count    distribution\n", last <= 32 ? 5 : 15,
		  "", last <= 32 ? 19 : 29, unit->name);
	for (i = 0; i <= last; i++) {
		uint64_t low = i ? 1ULL << i : 0;
		uint64_t high = i ? (1ULL << (i + 1)) - 1 : 1;
		int stars = max ? (int)(slots[i] * width / max) : 0;

		sb_printf(sb, "%*llu -> %-*llu : %-8llu |",
			  last <= 32 ? 10 : 20, (unsigned long long)low,
			  last <= 32 ? 10 : 20,
			  (unsigned long long)high,
			  (unsigned long long)slots[i]);
		sb_pad(sb, '*', stars);
		sb_pad(sb, ' ', width - stars);
		sb_puts(sb, "|\n");
	}
}

void hist_print_summary(struct strbuf *sb, const struct hist *h,
			const struct hist_unit *unit)
{
	double avg = h->count ? (double)h->sum / h->count : 0;

	sb_printf(sb,
		  "count %llu, avg %.1f, p50 %.1f, p90 %.1f, p99 %.1f, "
		  "p99.9 %.1f, max %llu %s\n",
		  (unsigned long long)h->count, avg, hist_percentile(h, 0.5),
		  hist_percentile(h, 0.9), hist_percentile(h, 0.99),
		  hist_percentile(h, 0.999),
		  (unsigned long long)(h->count ? h->max : 0), unit->name);
}

static void kv_value(struct jw *w, const char *key, double v,
		     const struct hist_unit *unit)
{
	char k[32];

	jw_kv_double(w, key, v);
	if (unit->ns > 1) {
		snprintf(k, sizeof(k), "%s_ns", key);
		jw_kv_double(w, k, v * unit->ns);
	}
}

void hist_json(struct jw *w, const struct hist *h,
	       const struct hist_unit *unit)
{
	uint64_t scale = unit->ns ? unit->ns : 1;
	unsigned int i;

	jw_kv_u64(w, "count", h->count);
	jw_kv_str(w, "unit", unit->json);
	kv_value(w, "sum", h->sum, unit);
	kv_value(w, "min", h->count ? h->min : 0, unit);
	kv_value(w, "max", h->count ? h->max : 0, unit);
	kv_value(w, "avg", h->count ? (double)h->sum / h->count : 0, unit);
	kv_value(w, "p50", hist_percentile(h, 0.5), unit);
	kv_value(w, "p90", hist_percentile(h, 0.9), unit);
	kv_value(w, "p99", hist_percentile(h, 0.99), unit);
	kv_value(w, "p99_9", hist_percentile(h, 0.999), unit);
	jw_key(w, "buckets");
	jw_arr_begin(w);
	for (i = 0; i < HIST_NBUCKETS; i++) {
		uint64_t up = hist_bucket_upper(i);

		if (!h->buckets[i])
			continue;
		jw_obj_begin(w);
		jw_kv_u64(w, "lower", hist_bucket_lower(i) * scale);
		jw_key(w, "upper");
		if (up == ~0ULL)
			jw_null(w);
		else
			jw_u64(w, up * scale);
		jw_kv_u64(w, "count", h->buckets[i]);
		jw_obj_end(w);
	}
	jw_arr_end(w);
}

/*
 * Wait until every BPF program running now has returned. Non-sleepable BPF
 * programs run inside RCU read-side sections, and the kernel waits for an
 * RCU grace period (synchronize_rcu) before it returns from an update of a
 * map-in-map (so that no program still uses the inner map it replaced):
 * one such update on a map of our own is the wait. The maps are made once
 * and kept for the life of the process.
 */
static int wait_for_programs(void)
{
	static int inner = -1, outer = -1;
	LIBBPF_OPTS(bpf_map_create_opts, opts);
	uint32_t zero = 0;

	if (inner < 0) {
		inner = bpf_map_create(BPF_MAP_TYPE_ARRAY, "hist_sync_in",
				       sizeof(uint32_t), sizeof(uint32_t), 1,
				       NULL);
		if (inner < 0)
			return -1;
	}
	if (outer < 0) {
		opts.inner_map_fd = inner;
		outer = bpf_map_create(BPF_MAP_TYPE_ARRAY_OF_MAPS, "hist_sync",
				       sizeof(uint32_t), sizeof(uint32_t), 1,
				       &opts);
		if (outer < 0)
			return -1;
	}
	return bpf_map_update_elem(outer, &zero, &inner, BPF_ANY);
}

int hist_flip(struct bpf_object *obj)
{
	struct bpf_map *map = bpf_object__find_map_by_name(obj, "hist_gen");
	uint32_t zero = 0, gen = 0, next;
	int fd;

	if (!map)
		return -1;
	fd = bpf_map__fd(map);
	if (bpf_map_lookup_elem(fd, &zero, &gen))
		return -1;
	next = gen ^ 1;
	if (bpf_map_update_elem(fd, &zero, &next, BPF_ANY))
		return -1;
	/*
	 * A program that read the old generation just before the flip may
	 * not have added its value yet: wait for it to return, so that the
	 * old generation is complete and nothing writes to it while it is
	 * read and cleared. Should the wait fail, a pause much longer than
	 * a program runs is the fallback.
	 */
	if (wait_for_programs())
		usleep(10000);
	return gen;
}

int hist_drain(struct bpf_map *map, uint32_t gen,
	       int (*fn)(const void *key, const struct hist *h, void *ctx),
	       void *ctx)
{
	size_t ksz = bpf_map__key_size(map);
	int ncpu = libbpf_num_possible_cpus(), fd = bpf_map__fd(map);
	char *key = calloc(1, ksz), *next = calloc(1, ksz), *prev = NULL;
	struct hist *vals = calloc(ncpu > 0 ? ncpu : 1, sizeof(*vals));
	struct hist *sum = calloc(1, sizeof(*sum));
	int n = 0, err = 0, i;

	if (!key || !next || !vals || !sum || ncpu <= 0) {
		err = -1;
		goto cleanup;
	}
	/* Deleting while walking: restart from the last key kept. */
	while (!bpf_map_get_next_key(fd, prev, next)) {
		uint32_t kgen;

		memcpy(&kgen, next, sizeof(kgen));
		if (kgen != gen) {
			memcpy(key, next, ksz);
			prev = key;
			continue;
		}
		if (bpf_map_lookup_elem(fd, next, vals) == 0) {
			hist_clear(sum);
			for (i = 0; i < ncpu; i++)
				hist_merge(sum, &vals[i]);
			if (fn && fn(next, sum, ctx) < 0) {
				err = -1;
				goto cleanup;
			}
			n++;
		}
		bpf_map_delete_elem(fd, next);
	}
cleanup:
	free(key);
	free(next);
	free(vals);
	free(sum);
	return err ? err : n;
}

int hist_drain_array(struct bpf_map *map, uint32_t gen, uint32_t n,
		     int (*fn)(const void *key, const struct hist *h,
			       void *ctx),
		     void *ctx)
{
	int ncpu = libbpf_num_possible_cpus(), fd = bpf_map__fd(map);
	struct hist *vals = calloc(ncpu > 0 ? ncpu : 1, sizeof(*vals));
	struct hist *sum = calloc(1, sizeof(*sum));
	int err = 0, i;
	uint32_t k;

	if (!vals || !sum || ncpu <= 0) {
		err = -1;
		goto cleanup;
	}
	for (k = 0; k < n; k++) {
		uint32_t slot = gen * n + k;

		if (bpf_map_lookup_elem(fd, &slot, vals)) {
			err = -1;
			goto cleanup;
		}
		hist_clear(sum);
		for (i = 0; i < ncpu; i++)
			hist_merge(sum, &vals[i]);
		memset(vals, 0, ncpu * sizeof(*vals));
		if (bpf_map_update_elem(fd, &slot, vals, BPF_ANY)) {
			err = -1;
			goto cleanup;
		}
		if (sum->count && fn && fn(&k, sum, ctx) < 0) {
			err = -1;
			goto cleanup;
		}
	}
cleanup:
	free(vals);
	free(sum);
	return err;
}

uint64_t hist_dropped(struct bpf_object *obj)
{
	struct bpf_map *map = bpf_object__find_map_by_name(obj, "hist_drops");
	int ncpu = libbpf_num_possible_cpus(), i;
	uint64_t *vals, n = 0;
	uint32_t zero = 0;

	if (!map || ncpu <= 0)
		return 0;
	vals = calloc(ncpu, sizeof(*vals));
	if (vals && !bpf_map_lookup_elem(bpf_map__fd(map), &zero, vals))
		for (i = 0; i < ncpu; i++)
			n += vals[i];
	free(vals);
	return n;
}

bool hist_preemptible_kernel(void)
{
	struct utsname u;

	/* The version string of a PREEMPT_RT kernel says so; when in
	 * doubt, the safe answer. */
	if (uname(&u))
		return true;
	return strstr(u.version, "PREEMPT_RT") != NULL;
}
