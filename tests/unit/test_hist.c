// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Unit tests of the histogram math against values computed here. */
#include <math.h>
#include <stdlib.h>

#include "hist.h"
#include "unit.h"

static uint64_t rng_state = 88172645463325252ULL;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* floor(log2(v)) the slow, obvious way. */
static unsigned int slow_log2(uint64_t v)
{
	unsigned int r = 0;

	while (v >>= 1)
		r++;
	return r;
}

static void test_buckets(void)
{
	unsigned int i, bad = 0;
	uint64_t v;

	CHECK(hist_bucket(0) == 0 && hist_bucket(15) == 15);
	CHECK(hist_bucket(16) == 16 && hist_bucket(31) == 31);
	CHECK(hist_bucket(32) == 32 && hist_bucket(33) == 32);
	CHECK(hist_bucket(34) == 33 && hist_bucket(63) == 47);
	CHECK(hist_bucket(64) == 48 && hist_bucket(67) == 48);
	CHECK(hist_bucket(~0ULL) == HIST_NBUCKETS - 1);
	CHECK(hist_bucket(1ULL << 48) == HIST_NBUCKETS - 1);
	CHECK(hist_bucket((1ULL << 48) - 1) == HIST_NBUCKETS - 1);
	/* contiguous, increasing, at most 1/16 wide */
	for (i = 0; i + 1 < HIST_NBUCKETS; i++) {
		uint64_t lo = hist_bucket_lower(i), hi = hist_bucket_upper(i);

		if (hi != hist_bucket_lower(i + 1) || hi <= lo ||
		    (lo >= 16 && (hi - lo) * 16 > lo))
			bad++;
	}
	CHECK(bad == 0);
	/* every value lands in the bucket whose bounds hold it */
	for (i = 0; i < 200000; i++) {
		v = rnd() >> (rnd() % 64);
		unsigned int b = hist_bucket(v);

		if (v < hist_bucket_lower(b) ||
		    (b < HIST_NBUCKETS - 1 && v >= hist_bucket_upper(b)))
			bad++;
		if (v && hist_log2(v) != slow_log2(v))
			bad++;
	}
	CHECK(bad == 0);
	CHECK(hist_log2_slot(0) == 0 && hist_log2_slot(1) == 0);
	CHECK(hist_log2_slot(2) == 1 && hist_log2_slot(3) == 1);
	CHECK(hist_log2_slot(1023) == 9 && hist_log2_slot(1024) == 10);
}

static void add(struct hist *h, uint64_t v)
{
	if (!h->count || v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
	h->count++;
	h->sum += v;
	h->buckets[hist_bucket(v)]++;
}

static void test_percentiles(void)
{
	enum { N = 100000 };
	static uint64_t vals[N];
	static struct hist h, cpu[4], merged;
	const double qs[] = { 0.5, 0.9, 0.99, 0.999 };
	unsigned int i, bad = 0;

	for (i = 0; i < N; i++) {
		/* log-normal-ish latencies from 1 us to 100 ms, in ns */
		vals[i] = 1000 + (rnd() % 1000) * (1 + rnd() % 100) *
					 (1 + (rnd() % 1000 == 0) * 100);
		add(&h, vals[i]);
		add(&cpu[i % 4], vals[i]);
	}
	qsort(vals, N, sizeof(vals[0]), cmp_u64);
	for (i = 0; i < 4; i++) {
		double exact = vals[(size_t)(qs[i] * N) - 1];
		double got = hist_percentile(&h, qs[i]);

		if (fabs(got - exact) > exact / 16 + 1) {
			fprintf(stderr, "p%g: got %.0f, exact %.0f\n",
				qs[i] * 100, got, exact);
			bad++;
		}
	}
	CHECK(bad == 0);
	CHECK(hist_percentile(&h, 0) == vals[0]);
	CHECK(hist_percentile(&h, 1) == vals[N - 1]);
	/* merging per-CPU parts gives the whole */
	for (i = 0; i < 4; i++)
		hist_merge(&merged, &cpu[i]);
	CHECK(merged.count == h.count && merged.sum == h.sum);
	CHECK(merged.min == vals[0] && merged.max == vals[N - 1]);
	CHECK(memcmp(merged.buckets, h.buckets, sizeof(h.buckets)) == 0);
	/* an empty part changes nothing, min included */
	hist_clear(&cpu[0]);
	hist_merge(&merged, &cpu[0]);
	CHECK(merged.min == vals[0]);
	/* exact small values */
	hist_clear(&h);
	for (i = 0; i < 10; i++)
		add(&h, 5);
	CHECK(hist_percentile(&h, 0.5) == 5 && hist_percentile(&h, 0.99) == 5);
	hist_clear(&h);
	CHECK(hist_percentile(&h, 0.5) == 0);
}

static void test_outputs(void)
{
	static struct hist h;
	struct strbuf sb = {};
	struct jw w;

	add(&h, 0);
	add(&h, 1);
	add(&h, 3);
	add(&h, 3);
	add(&h, 1000);
	hist_print_log2(&sb, &h, &HIST_USECS);
	CHECK(strncmp(sb_str(&sb), "     usecs               : count    "
				   "distribution\n", 45) == 0);
	CHECK(strstr(sb_str(&sb), "         0 -> 1          : 2  ") != NULL);
	CHECK(strstr(sb_str(&sb), "         2 -> 3          : 2  ") != NULL);
	CHECK(strstr(sb_str(&sb), "       512 -> 1023       : 1  ") != NULL);
	CHECK(strstr(sb_str(&sb), "1024 ->") == NULL);
	sb_reset(&sb);
	hist_print_summary(&sb, &h, &HIST_USECS);
	CHECK_STR(sb_str(&sb), "count 5, avg 201.4, p50 3.0, p90 1000.0, "
			       "p99 1000.0, p99.9 1000.0, max 1000 usecs\n");
	sb_reset(&sb);
	jw_init(&w, &sb);
	jw_obj_begin(&w);
	hist_json(&w, &h, &HIST_USECS);
	jw_obj_end(&w);
	CHECK(strstr(sb_str(&sb), "\"count\":5,\"unit\":\"us\",\"sum\":1007,"
				  "\"sum_ns\":1007000") != NULL);
	CHECK(strstr(sb_str(&sb), "{\"lower\":3000,\"upper\":4000,"
				  "\"count\":2}") != NULL);
	CHECK(strstr(sb_str(&sb), "{\"lower\":992000,\"upper\":1024000,"
				  "\"count\":1}") != NULL);
	sb_free(&sb);
}

/* Linear interpolation inside one bucket, worked out by hand. */
static void test_interpolation(void)
{
	static struct hist h;
	double prev = -1, q;
	unsigned int i, bad = 0;

	/* [64, 68) holds 64..67: the 2nd of 4 values sits at 64 + 4 * 2/4 */
	for (i = 64; i < 68; i++)
		add(&h, i);
	CHECK(hist_bucket(64) == hist_bucket(67));
	CHECK(hist_percentile(&h, 0.5) == 66);
	CHECK(hist_percentile(&h, 0.25) == 65);
	/* never outside [min, max]: one value, any quantile */
	hist_clear(&h);
	for (i = 0; i < 100; i++)
		add(&h, 1000);
	CHECK(hist_percentile(&h, 0.01) == 1000);
	CHECK(hist_percentile(&h, 0.999) == 1000);
	/* monotonic in q */
	hist_clear(&h);
	for (i = 0; i < 5000; i++)
		add(&h, rnd() % 1000000);
	for (q = 0; q <= 1.0001; q += 0.001) {
		double v = hist_percentile(&h, q);

		if (v < prev || v < h.min || v > h.max)
			bad++;
		prev = v;
	}
	CHECK(bad == 0);
}

/* The last bucket is open; values past 2^32 widen the log2 table. */
static void test_large_values(void)
{
	static struct hist h;
	struct strbuf sb = {};
	struct jw w;

	add(&h, 1ULL << 50);
	add(&h, 5000000000ULL);
	CHECK(h.buckets[HIST_NBUCKETS - 1] == 1);
	jw_init(&w, &sb);
	jw_obj_begin(&w);
	hist_json(&w, &h, &HIST_NSECS);
	jw_obj_end(&w);
	CHECK(strstr(sb_str(&sb), "\"upper\":null,\"count\":1}") != NULL);
	/* JSON of a time in ms: bounds and *_ns in ns */
	sb_reset(&sb);
	hist_clear(&h);
	add(&h, 3);
	jw_init(&w, &sb);
	jw_obj_begin(&w);
	hist_json(&w, &h, &HIST_MSECS);
	jw_obj_end(&w);
	CHECK(strstr(sb_str(&sb), "\"max\":3,\"max_ns\":3000000") != NULL);
	CHECK(strstr(sb_str(&sb), "{\"lower\":3000000,\"upper\":4000000,")
	      != NULL);
	/* as BCC: 10-wide bounds up to slot 32 (2^33 - 1 has 10 digits),
	 * 20-wide from slot 33 */
	sb_reset(&sb);
	hist_clear(&h);
	add(&h, 5000000000ULL);
	hist_print_log2(&sb, &h, &HIST_NSECS);
	CHECK(strstr(sb_str(&sb), "\n4294967296 -> 8589934591 : 1  ") != NULL);
	sb_reset(&sb);
	add(&h, 1ULL << 33);
	hist_print_log2(&sb, &h, &HIST_NSECS);
	/* 15 + 29 wide: "nsecs" then 25 blanks; bounds 20 wide */
	CHECK(strncmp(sb_str(&sb),
		      "               nsecs                         "
		      ": count    distribution\n", 69) == 0);
	CHECK(strstr(sb_str(&sb), "\n          8589934592 -> "
				  "17179869183          : 1  ") != NULL);
	sb_free(&sb);
}

int main(void)
{
	test_buckets();
	test_percentiles();
	test_outputs();
	test_interpolation();
	test_large_values();
	return unit_report("test_hist");
}
