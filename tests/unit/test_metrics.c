// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Unit tests of the metrics registry, its exposition and negotiation. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "hist.h"
#include "metrics.h"
#include "unit.h"

/* The exposition of m, as a string the caller frees. */
static char *expo(struct kit_metrics *m, enum kit_expo_format fmt)
{
	struct strbuf sb = {};
	char *s;

	kit_metrics_write(m, &sb, fmt);
	s = strdup(sb_str(&sb));
	sb_free(&sb);
	return s;
}

static void test_declare(void)
{
	struct kit_metrics *m = kit_metrics_new();
	static const uint64_t up[] = { 1, 2, 3 }, down[] = { 1, 3, 2 };
	struct kit_family *f, *g;

	f = kit_metrics_family(m, &(struct kit_metric_desc){
		.name = "x_total", .help = "h", .labels = { "a" } });
	CHECK(f != NULL);
	/* The same description again: the same family. */
	g = kit_metrics_family(m, &(struct kit_metric_desc){
		.name = "x_total", .help = "h", .labels = { "a" } });
	CHECK(g == f);
	/* The same name, described otherwise. */
	errno = 0;
	CHECK(!kit_metrics_family(m, &(struct kit_metric_desc){
		.name = "x_total", .help = "h", .labels = { "b" } }));
	CHECK(errno == EEXIST);

#define BAD(...)                                                            \
	do {                                                                 \
		errno = 0;                                                   \
		CHECK(!kit_metrics_family(m, &(struct kit_metric_desc){      \
			__VA_ARGS__ }));                                     \
		CHECK(errno == EINVAL);                                      \
	} while (0)
	BAD(.name = "no_suffix", .help = "counter without _total");
	BAD(.name = "9starts_with_digit_total", .help = "h");
	BAD(.name = "has-dash_total", .help = "h");
	BAD(.name = "", .help = "h");
	BAD(.name = "ok_total");			/* no help */
	BAD(.name = "g_total", .help = "h", .type = KIT_GAUGE);
	BAD(.name = "h_count", .help = "h", .type = KIT_HISTOGRAM);
	BAD(.name = "l_total", .help = "h", .labels = { "__reserved" });
	BAD(.name = "l_total", .help = "h", .labels = { "a", "a" });
	BAD(.name = "l_total", .help = "h", .labels = { "bad-name" });
	BAD(.name = "l_total", .help = "h", .labels = { "has:colon" });
	BAD(.name = "h_seconds", .help = "h", .type = KIT_HISTOGRAM,
	    .labels = { "le" });
	BAD(.name = "h_seconds", .help = "h", .type = KIT_HISTOGRAM,
	    .bounds = down, .nbounds = 3);
	BAD(.name = "c_total", .help = "h", .bounds = up, .nbounds = 3);
	BAD(.name = "lat_bytes", .help = "h", .type = KIT_GAUGE,
	    .unit = "seconds");
	BAD(.name = "run_total", .help = "h", .unit = "seconds");
	BAD(.name = "s_total", .help = "h", .scale = 19);
#undef BAD
	CHECK(kit_metrics_family(m, &(struct kit_metric_desc){
		.name = "run_seconds_total", .help = "h",
		.unit = "seconds" }) != NULL);
	CHECK(kit_metrics_family(m, &(struct kit_metric_desc){
		.name = "ns:colon_ok", .help = "h", .type = KIT_GAUGE }) !=
	      NULL);
	kit_metrics_free(m);
}

static void test_text_and_openmetrics(void)
{
	struct kit_metrics *m = kit_metrics_new();
	struct kit_family *c, *g, *h, *t;
	static const uint64_t bounds[] = { 1000, 2048, 1000000000 };
	const char *ab[] = { "x", "y" };
	char *s;

	c = kit_metrics_family(m, &(struct kit_metric_desc){
		.name = "t_opens_total", .help = "Opens, \"quoted\" \\ n\nl.",
		.labels = { "comm", "result" } });
	g = kit_metrics_family(m, &(struct kit_metric_desc){
		.name = "t_ratio", .help = "A gauge.", .type = KIT_GAUGE });
	h = kit_metrics_family(m, &(struct kit_metric_desc){
		.name = "t_latency_seconds", .help = "Latency.",
		.type = KIT_HISTOGRAM, .unit = "seconds",
		.labels = { "op" }, .scale = 9,
		.bounds = bounds, .nbounds = 3 });
	t = kit_metrics_family(m, &(struct kit_metric_desc){
		.name = "t_run_seconds_total", .help = "Run time.",
		.unit = "seconds", .scale = 9 });
	CHECK(c && g && h && t);
	kit_counter_add(kit_series(c, ab), 2);
	kit_counter_add(kit_series(c, ab), 3);
	kit_counter_add(kit_series(c, (const char *[]){ "q\"b\\s\nn", "ok" }),
			1);
	kit_gauge_set(kit_series(g, NULL), 0.1);
	kit_hist_observe(kit_series(h, (const char *[]){ "read" }), 1000);
	kit_hist_observe(kit_series(h, (const char *[]){ "read" }), 1001);
	kit_hist_observe(kit_series(h, (const char *[]){ "read" }), 2048);
	kit_hist_observe(kit_series(h, (const char *[]){ "read" }),
			 5000000000ULL);
	kit_counter_set(kit_series(t, NULL), 1500000000ULL);

	s = expo(m, KIT_EXPO_TEXT);
	CHECK_STR(s,
		"# HELP t_opens_total Opens, \"quoted\" \\\\ n\\nl.\n"
		"# TYPE t_opens_total counter\n"
		"t_opens_total{comm=\"x\",result=\"y\"} 5\n"
		"t_opens_total{comm=\"q\\\"b\\\\s\\nn\",result=\"ok\"} 1\n"
		"# HELP t_ratio A gauge.\n"
		"# TYPE t_ratio gauge\n"
		"t_ratio 0.1\n"
		"# HELP t_latency_seconds Latency.\n"
		"# TYPE t_latency_seconds histogram\n"
		"t_latency_seconds_bucket{op=\"read\",le=\"0.000001\"} 1\n"
		"t_latency_seconds_bucket{op=\"read\",le=\"0.000002048\"} 3\n"
		"t_latency_seconds_bucket{op=\"read\",le=\"1\"} 3\n"
		"t_latency_seconds_bucket{op=\"read\",le=\"+Inf\"} 4\n"
		"t_latency_seconds_sum{op=\"read\"} 5.000004049\n"
		"t_latency_seconds_count{op=\"read\"} 4\n"
		"# HELP t_run_seconds_total Run time.\n"
		"# TYPE t_run_seconds_total counter\n"
		"t_run_seconds_total 1.5\n");
	free(s);

	s = expo(m, KIT_EXPO_OPENMETRICS);
	CHECK_STR(s,
		"# TYPE t_opens counter\n"
		"# HELP t_opens Opens, \\\"quoted\\\" \\\\ n\\nl.\n"
		"t_opens_total{comm=\"x\",result=\"y\"} 5\n"
		"t_opens_total{comm=\"q\\\"b\\\\s\\nn\",result=\"ok\"} 1\n"
		"# TYPE t_ratio gauge\n"
		"# HELP t_ratio A gauge.\n"
		"t_ratio 0.1\n"
		"# TYPE t_latency_seconds histogram\n"
		"# UNIT t_latency_seconds seconds\n"
		"# HELP t_latency_seconds Latency.\n"
		"t_latency_seconds_bucket{op=\"read\",le=\"0.000001\"} 1\n"
		"t_latency_seconds_bucket{op=\"read\",le=\"0.000002048\"} 3\n"
		"t_latency_seconds_bucket{op=\"read\",le=\"1\"} 3\n"
		"t_latency_seconds_bucket{op=\"read\",le=\"+Inf\"} 4\n"
		"t_latency_seconds_sum{op=\"read\"} 5.000004049\n"
		"t_latency_seconds_count{op=\"read\"} 4\n"
		"# TYPE t_run_seconds counter\n"
		"# UNIT t_run_seconds seconds\n"
		"# HELP t_run_seconds Run time.\n"
		"t_run_seconds_total 1.5\n"
		"# EOF\n");
	free(s);
	kit_metrics_free(m);
}

static void test_gauge_values(void)
{
	struct kit_metrics *m = kit_metrics_new();
	struct kit_family *g = kit_metrics_family(m, &(struct kit_metric_desc){
		.name = "g", .help = "h", .type = KIT_GAUGE });
	static const struct {
		double v;
		const char *want;
	} cases[] = {
		{ 0, "g 0\n" },		  { 1, "g 1\n" },
		{ -2.5, "g -2.5\n" },	  { 0.1, "g 0.1\n" },
		{ 1e21, "g 1e+21\n" },
		{ 1.0 / 3, "g 0.3333333333333333\n" },
		{ NAN, "g NaN\n" },	  { INFINITY, "g +Inf\n" },
		{ -INFINITY, "g -Inf\n" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct strbuf sb = {};
		const char *s, *nl;

		kit_gauge_set(kit_series(g, NULL), cases[i].v);
		kit_metrics_write(m, &sb, KIT_EXPO_TEXT);
		s = sb_str(&sb);
		/* the sample line follows "# HELP" and "# TYPE" */
		nl = strchr(strchr(s, '\n') + 1, '\n') + 1;
		CHECK_STR(nl, cases[i].want);
		sb_free(&sb);
	}
	kit_metrics_free(m);
}

static void test_cap_and_overflow(void)
{
	struct kit_metrics *m = kit_metrics_new();
	struct kit_family *f = kit_metrics_family(m, &(struct kit_metric_desc){
		.name = "capped_total", .help = "h", .labels = { "k", "v" },
		.max_series = 3 });
	struct kit_family *d = kit_metrics_family(m, &(struct kit_metric_desc){
		.name = "default_total", .help = "h", .labels = { "k" } });
	struct kit_series *s[6], *o;
	char name[32];
	const char *v[2];
	int i;

	for (i = 0; i < 6; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		v[0] = name;
		v[1] = "x";
		s[i] = kit_series(f, v);
		kit_counter_add(s[i], 1);
	}
	CHECK(s[0] != s[1] && s[1] != s[2] && s[0] != s[2]);
	CHECK(!kit_series_is_overflow(s[2]));
	CHECK(kit_series_is_overflow(s[3]));
	CHECK(s[3] == s[4] && s[4] == s[5]);
	CHECK(kit_counter_value(s[3]) == 3);
	CHECK(kit_family_nseries(f) == 4); /* the cap, and the overflow */
	/* A series made before the cap stays reachable and its own. */
	v[0] = "n1";
	CHECK(kit_series(f, v) == s[1]);
	o = s[3];
	{
		struct strbuf sb = {};

		kit_metrics_write(m, &sb, KIT_EXPO_TEXT);
		CHECK(strstr(sb_str(&sb),
			     "capped_total{k=\"other\",v=\"other\"} 3\n"));
		sb_free(&sb);
	}
	(void)o;
	/* The default cap. */
	for (i = 0; i < KIT_METRICS_MAX_SERIES + 50; i++) {
		snprintf(name, sizeof(name), "k%d", i);
		v[0] = name;
		kit_counter_add(kit_series(d, v), 1);
	}
	CHECK(kit_family_nseries(d) == KIT_METRICS_MAX_SERIES + 1);
	v[0] = "k999999";
	CHECK(kit_series_is_overflow(kit_series(d, v)));
	CHECK(kit_counter_value(kit_series(d, v)) == 50);
	kit_metrics_free(m);
}

static void test_label_values_sanitised(void)
{
	struct kit_metrics *m = kit_metrics_new();
	struct kit_family *f = kit_metrics_family(m, &(struct kit_metric_desc){
		.name = "s_total", .help = "h", .labels = { "v" } });
	char longv[400];
	struct strbuf sb = {};
	const char *s, *p, *q;

	/* Invalid UTF-8 becomes U+FFFD; valid multi-byte passes. */
	kit_counter_add(kit_series(f, (const char *[]){ "bad\xff\xc3" }), 1);
	kit_counter_add(kit_series(f, (const char *[]){ "caf\xc3\xa9" }), 1);
	/* Two values that differ only past the cap are one series. */
	memset(longv, 'a', sizeof(longv) - 1);
	longv[sizeof(longv) - 1] = '\0';
	kit_counter_add(kit_series(f, (const char *[]){ longv }), 1);
	longv[300] = 'b';
	kit_counter_add(kit_series(f, (const char *[]){ longv }), 1);
	/* The cut falls between characters: 127 'a' then a 2-byte one. */
	memset(longv, 'c', 127);
	strcpy(longv + 127, "\xc3\xa9tail");
	kit_counter_add(kit_series(f, (const char *[]){ longv }), 1);
	/* A missing value is empty. */
	kit_counter_add(kit_series(f, (const char *[]){ NULL }), 1);
	kit_metrics_write(m, &sb, KIT_EXPO_TEXT);
	s = sb_str(&sb);
	CHECK(strstr(s, "s_total{v=\"bad\xef\xbf\xbd\xef\xbf\xbd\"} 1\n"));
	CHECK(strstr(s, "s_total{v=\"caf\xc3\xa9\"} 1\n"));
	p = strstr(s, "s_total{v=\"aaaa");
	CHECK(p && (q = strchr(p + 11, '"')) && q - (p + 11) == 128 &&
	      !strncmp(q, "\"} 2\n", 5));
	p = strstr(s, "s_total{v=\"cccc");
	CHECK(p && (q = strchr(p + 11, '"')) && q - (p + 11) == 127);
	CHECK(strstr(s, "s_total{v=\"\"} 1\n"));
	CHECK(kit_family_nseries(f) == 5);
	sb_free(&sb);
	kit_metrics_free(m);
}

/* Sum of the cumulative buckets' structure, from the exposition text. */
static void test_histograms(void)
{
	struct kit_metrics *m = kit_metrics_new();
	uint64_t bounds[64];
	size_t n = kit_metrics_log2_bounds(bounds, 4, true);
	struct kit_family *h;
	struct kit_series *s;
	struct strbuf sb = {};
	static const uint64_t counts[] = { 5, 0, 2, 7 }; /* log2 slots */

	CHECK(n == 3 && bounds[0] == 2 && bounds[1] == 4 && bounds[2] == 8);
	CHECK(kit_metrics_log2_bounds(bounds, 4, false) == 4 &&
	      bounds[3] == 16);
	CHECK(kit_metrics_log2_bounds(bounds, 64, false) == 63 &&
	      bounds[62] == 1ULL << 63);
	n = kit_metrics_log2_bounds(bounds, 4, true);
	h = kit_metrics_family(m, &(struct kit_metric_desc){
		.name = "l_seconds", .help = "h", .type = KIT_HISTOGRAM,
		.unit = "seconds", .scale = 6, .bounds = bounds,
		.nbounds = n, .snapshot = true });
	s = kit_series(h, NULL);
	/* slot i of a log2 histogram holds [2^i, 2^(i+1)): bound 2^(i+1) */
	kit_hist_add(s, counts, 4, 123456789);
	kit_metrics_write(m, &sb, KIT_EXPO_TEXT);
	CHECK(strstr(sb_str(&sb),
		     "l_seconds_bucket{le=\"0.000002\"} 5\n"
		     "l_seconds_bucket{le=\"0.000004\"} 5\n"
		     "l_seconds_bucket{le=\"0.000008\"} 7\n"
		     "l_seconds_bucket{le=\"+Inf\"} 14\n"
		     "l_seconds_sum 123.456789\n"
		     "l_seconds_count 14\n"));
	sb_free(&sb);
	/* Observations land in the first bucket whose bound >= v. */
	kit_metrics_reset_snapshots(m);
	kit_hist_observe(s, 0);
	kit_hist_observe(s, 2);
	kit_hist_observe(s, 3);
	kit_hist_observe(s, 8);
	kit_hist_observe(s, 9);
	kit_metrics_write(m, &sb, KIT_EXPO_TEXT);
	CHECK(strstr(sb_str(&sb),
		     "l_seconds_bucket{le=\"0.000002\"} 2\n"
		     "l_seconds_bucket{le=\"0.000004\"} 3\n"
		     "l_seconds_bucket{le=\"0.000008\"} 4\n"
		     "l_seconds_bucket{le=\"+Inf\"} 5\n"
		     "l_seconds_sum 0.000022\n"
		     "l_seconds_count 5\n"));
	sb_free(&sb);
	/* Too many counts: the extra ones are ignored, not overrun. */
	kit_metrics_reset_snapshots(m);
	kit_hist_add(s, (const uint64_t[]){ 1, 1, 1, 1, 99, 99 }, 6, 0);
	kit_metrics_write(m, &sb, KIT_EXPO_TEXT);
	CHECK(strstr(sb_str(&sb), "l_seconds_count 4\n"));
	sb_free(&sb);
	kit_metrics_free(m);
}

static void test_snapshot_reset_keeps_others(void)
{
	struct kit_metrics *m = kit_metrics_new();
	struct kit_family *acc = kit_metrics_family(
		m, &(struct kit_metric_desc){ .name = "acc_total",
					       .help = "h",
					       .labels = { "k" } });
	struct kit_family *snap = kit_metrics_family(
		m, &(struct kit_metric_desc){ .name = "snap_total",
					       .help = "h",
					       .labels = { "k" },
					       .snapshot = true });
	const char *v[] = { "a" };

	kit_counter_add(kit_series(acc, v), 4);
	kit_counter_add(kit_series(snap, v), 4);
	kit_metrics_reset_snapshots(m);
	CHECK(kit_counter_value(kit_series(acc, v)) == 4);
	CHECK(kit_counter_value(kit_series(snap, v)) == 0);
	CHECK(kit_family_nseries(snap) == 1); /* the series stays */
	kit_metrics_free(m);
}

static void test_hist_bounds(void)
{
	static const uint64_t want4[] = { 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14,
					  16, 20, 24, 28, 32, 40, 48, 56, 64 };
	uint64_t b[800];
	size_t n, i;

	n = kit_metrics_hist_bounds(b, 800, 1, 64, 2);
	CHECK(n == sizeof(want4) / sizeof(want4[0]));
	for (i = 0; i < n && i < sizeof(want4) / sizeof(want4[0]); i++)
		CHECK(b[i] == want4[i]);
	/* Full resolution: every boundary of lib/hist.h. */
	n = kit_metrics_hist_bounds(b, 800, 16, 64, 4);
	CHECK(n == 16 + 16 + 1 && b[0] == 16 && b[15] == 31 && b[16] == 32 &&
	      b[17] == 34 && b[32] == 64);
	/* Each bound is one of lib/hist.h's bucket boundaries. */
	n = kit_metrics_hist_bounds(b, 800, 1, 1ULL << 40, 2);
	for (i = 0; i < n; i++)
		CHECK(hist_bucket_lower(hist_bucket(b[i])) == b[i]);
	CHECK(b[n - 1] == 1ULL << 40);
	/* max is respected */
	CHECK(kit_metrics_hist_bounds(b, 5, 1, 1000, 2) == 5 && b[4] == 5);
	CHECK(kit_metrics_hist_scale(&HIST_NSECS) == 9);
	CHECK(kit_metrics_hist_scale(&HIST_USECS) == 6);
	CHECK(kit_metrics_hist_scale(&HIST_MSECS) == 3);
	CHECK(kit_metrics_hist_scale(&HIST_BYTES) == 0);
}

static void record(struct hist *h, uint64_t v)
{
	if (!h->count || v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
	h->buckets[hist_bucket(v)]++;
	h->count++;
	h->sum += v;
}

static void test_hist_into_family(void)
{
	static struct hist h, h2;
	struct kit_metrics *m = kit_metrics_new();
	uint64_t b[64];
	size_t n = kit_metrics_hist_bounds(b, 64, 4, 128, 2);
	struct kit_family *f;
	struct kit_series *s;
	struct strbuf sb = {};

	/* 4 5 6 7 8 10 12 14 16 20 24 28 32 40 48 56 64 80 96 112 128 */
	CHECK(n == 21);
	f = kit_metrics_family(m, &(struct kit_metric_desc){
		.name = "h_seconds", .help = "h", .type = KIT_HISTOGRAM,
		.unit = "seconds", .scale = kit_metrics_hist_scale(&HIST_USECS),
		.bounds = b, .nbounds = n, .snapshot = true });
	s = kit_series(f, NULL);
	/* A bucket [lower, upper) counts under the first bound >= upper: 0
	 * and 3 under 4, 4 (in [4,5)) under 5, 9 under 10, 10 under 12, 100
	 * (in [96,104)) under 112; 1000 and 2^50 above the last bound. */
	record(&h, 0);
	record(&h, 3);
	record(&h, 9);
	record(&h, 10);
	record(&h, 100);
	record(&h, 1000);
	record(&h, 1ULL << 50);
	kit_hist_keep_hist(s, &h);
	record(&h2, 4);
	kit_hist_add_hist(s, &h2);
	kit_metrics_write(m, &sb, KIT_EXPO_TEXT);
	CHECK(strstr(sb_str(&sb), "h_seconds_bucket{le=\"0.000004\"} 2\n"
				  "h_seconds_bucket{le=\"0.000005\"} 3\n"));
	CHECK(strstr(sb_str(&sb), "h_seconds_bucket{le=\"0.000008\"} 3\n"
				  "h_seconds_bucket{le=\"0.00001\"} 4\n"
				  "h_seconds_bucket{le=\"0.000012\"} 5\n"));
	CHECK(strstr(sb_str(&sb), "h_seconds_bucket{le=\"0.000096\"} 5\n"
				  "h_seconds_bucket{le=\"0.000112\"} 6\n"
				  "h_seconds_bucket{le=\"0.000128\"} 6\n"
				  "h_seconds_bucket{le=\"+Inf\"} 8\n"
				  "h_seconds_sum 1125899906.84375\n"
				  "h_seconds_count 8\n"));
	sb_free(&sb);
	/* An update resets what was added, keeps what was kept. */
	kit_metrics_reset_snapshots(m);
	kit_metrics_write(m, &sb, KIT_EXPO_TEXT);
	CHECK(strstr(sb_str(&sb), "h_seconds_bucket{le=\"0.000004\"} 2\n"));
	CHECK(strstr(sb_str(&sb), "h_seconds_count 7\n"));
	sb_free(&sb);
	kit_metrics_free(m);
}

static void test_negotiate(void)
{
	static const char *const prom242 =
		"application/openmetrics-text;version=1.0.0,application/"
		"openmetrics-text;version=0.0.1;q=0.75,text/plain;"
		"version=0.0.4;q=0.5,*/*;q=0.1";
	static const struct {
		const char *accept;
		enum kit_expo_format want;
		const char *ctype_has;
	} cases[] = {
		{ NULL, KIT_EXPO_TEXT, "version=0.0.4" },
		{ "", KIT_EXPO_TEXT, "version=0.0.4" },
		{ "*/*", KIT_EXPO_TEXT, "text/plain" },
		{ "text/plain", KIT_EXPO_TEXT, "text/plain" },
		{ "text/plain;version=0.0.4", KIT_EXPO_TEXT, "text/plain" },
		{ prom242, KIT_EXPO_OPENMETRICS, "version=1.0.0" },
		{ "application/openmetrics-text", KIT_EXPO_OPENMETRICS,
		  "version=1.0.0" },
		{ "Application/OpenMetrics-Text ; Version = \"1.0.0\"",
		  KIT_EXPO_OPENMETRICS, "version=1.0.0" },
		{ "application/openmetrics-text;version=0.0.1",
		  KIT_EXPO_OPENMETRICS, "version=0.0.1" },
		{ "application/openmetrics-text;version=2.0.0", KIT_EXPO_TEXT,
		  "text/plain" },
		{ "application/openmetrics-text;q=0", KIT_EXPO_TEXT,
		  "text/plain" },
		{ "application/openmetrics-text;q=0.3,text/plain;q=0.5",
		  KIT_EXPO_TEXT, "text/plain" },
		{ "text/plain;q=0.5,application/openmetrics-text;q=0.5",
		  KIT_EXPO_OPENMETRICS, "openmetrics" },
		{ "application/openmetrics-text;q=0.2,*/*;q=0.1",
		  KIT_EXPO_OPENMETRICS, "openmetrics" },
		{ "application/openmetrics-text;q=bogus,text/plain",
		  KIT_EXPO_TEXT, "text/plain" },
		{ "application/json", KIT_EXPO_TEXT, "text/plain" },
		{ ",,;;,=", KIT_EXPO_TEXT, "text/plain" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *ct = NULL;
		enum kit_expo_format got =
			kit_metrics_negotiate(cases[i].accept, &ct);

		CHECK(got == cases[i].want);
		CHECK(ct && strstr(ct, cases[i].ctype_has));
		CHECK(ct && strstr(ct, "charset=utf-8"));
		if (got != cases[i].want)
			fprintf(stderr, "  accept: %s\n", cases[i].accept);
	}
}

static void test_parse_addr(void)
{
	char host[64], port[8];
	const char *why;

	CHECK(kit_metrics_parse_addr("127.0.0.1:9435", host, sizeof(host),
				     port, sizeof(port), &why) == 0);
	CHECK_STR(host, "127.0.0.1");
	CHECK_STR(port, "9435");
	CHECK(kit_metrics_parse_addr(":0", host, sizeof(host), port,
				     sizeof(port), &why) == 0);
	CHECK_STR(host, "");
	CHECK_STR(port, "0");
	CHECK(kit_metrics_parse_addr("[::1]:80", host, sizeof(host), port,
				     sizeof(port), &why) == 0);
	CHECK_STR(host, "::1");
	CHECK(kit_metrics_parse_addr("localhost:65535", host, sizeof(host),
				     port, sizeof(port), &why) == 0);
	CHECK_STR(host, "localhost");
	CHECK(kit_metrics_parse_addr("9435", host, sizeof(host), port,
				     sizeof(port), &why) == -1);
	CHECK(kit_metrics_parse_addr("host:", host, sizeof(host), port,
				     sizeof(port), &why) == -1);
	CHECK(kit_metrics_parse_addr("host:65536", host, sizeof(host), port,
				     sizeof(port), &why) == -1);
	CHECK(kit_metrics_parse_addr("host:-1", host, sizeof(host), port,
				     sizeof(port), &why) == -1);
	CHECK(kit_metrics_parse_addr("host:80x", host, sizeof(host), port,
				     sizeof(port), &why) == -1);
	CHECK(kit_metrics_parse_addr("::1:80", host, sizeof(host), port,
				     sizeof(port), &why) == -1);
	CHECK(kit_metrics_parse_addr("[::1]80", host, sizeof(host), port,
				     sizeof(port), &why) == -1);
	CHECK(kit_metrics_parse_addr("host:00000000080", host, sizeof(host),
				     port, sizeof(port), &why) == -1);
}

int main(void)
{
	test_declare();
	test_text_and_openmetrics();
	test_gauge_values();
	test_cap_and_overflow();
	test_label_values_sanitised();
	test_histograms();
	test_snapshot_reset_keeps_others();
	test_hist_bounds();
	test_hist_into_family();
	test_negotiate();
	test_parse_addr();
	return unit_report("test_metrics");
}
