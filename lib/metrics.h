/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Metrics for Prometheus: a registry of metric families (counters, gauges,
 * histograms), each with a fixed list of label names and a capped number of
 * labelled series, written in the Prometheus text format 0.0.4 or in
 * OpenMetrics 1.0.
 *
 * Values are integers in a family-wide decimal scale: a family declared
 * with .scale = 9 takes nanoseconds and is written in seconds, exactly
 * ("0.000002048"), so that latencies measured in ns become the base unit
 * Prometheus wants without floating-point noise. Gauges are doubles.
 *
 * Cardinality: a family keeps at most .max_series series (default
 * KIT_METRICS_MAX_SERIES). Label values past the cap all go to one overflow
 * series whose every label is KIT_METRICS_OVERFLOW ("other"); a series,
 * once made, stays, so counters stay monotonic.
 *
 * The second half of this header is how the common library serves the
 * registry (--metrics ADDR:PORT over HTTP, --metrics-file PATH); tools
 * only use the first half, from kit->metrics.
 */
#ifndef KIT_METRICS_H
#define KIT_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strbuf.h"

#define KIT_METRICS_MAX_LABELS	 6
#define KIT_METRICS_MAX_SERIES	 1000
#define KIT_METRICS_MAX_VALUE	 128 /* bytes of a label value kept */
#define KIT_METRICS_MAX_BOUNDS	 512 /* histogram buckets, +Inf aside */
#define KIT_METRICS_OVERFLOW	 "other"

enum kit_metric_type {
	KIT_COUNTER,
	KIT_GAUGE,
	KIT_HISTOGRAM,
};

struct kit_metric_desc {
	/* Counters end in "_total"; a unit, if any, precedes it:
	 * "bpfkit_bpf_program_run_seconds_total". */
	const char *name;
	const char *help;
	enum kit_metric_type type;
	const char *unit;	/* OpenMetrics UNIT ("seconds"), or NULL */
	const char *labels[KIT_METRICS_MAX_LABELS + 1]; /* NULL-terminated */
	unsigned int scale;	/* values are in units of 10^-scale */
	/* Histograms: upper bounds, strictly increasing, in the value's
	 * units (10^-scale); "+Inf" is implied after the last. */
	const uint64_t *bounds;
	size_t nbounds;
	size_t max_series;	/* 0: KIT_METRICS_MAX_SERIES */
	/* Rebuilt from kernel state before every exposition: its values
	 * (not its series) are zeroed before the tool's metrics callback. */
	bool snapshot;
};

struct kit_metrics;
struct kit_family;
struct kit_series;

struct kit_metrics *kit_metrics_new(void);
void kit_metrics_free(struct kit_metrics *m);

/*
 * Declare a family, or get the one already declared under that name (the
 * description must then match). NULL with errno EINVAL for an invalid
 * name, label name, bound list or scale, or EEXIST for a mismatch.
 */
struct kit_family *kit_metrics_family(struct kit_metrics *m,
				      const struct kit_metric_desc *d);

/*
 * The series for these label values, in the order of the family's labels
 * (NULL for a family without labels). Values are C strings; invalid UTF-8
 * becomes U+FFFD and a value is cut at KIT_METRICS_MAX_VALUE bytes. A new
 * label set past the cap gets the overflow series.
 */
struct kit_series *kit_series(struct kit_family *f,
			      const char *const *values);
bool kit_series_is_overflow(const struct kit_series *s);
size_t kit_family_nseries(const struct kit_family *f);

/* Counters: add, or set (a counter the kernel keeps, read whole). */
void kit_counter_add(struct kit_series *s, uint64_t v);
void kit_counter_set(struct kit_series *s, uint64_t v);
uint64_t kit_counter_value(const struct kit_series *s);
void kit_gauge_set(struct kit_series *s, double v);
/* Histograms: one observation, or per-bucket counts: counts[i] for
 * bounds[i-1] < v <= bounds[i], counts[nbounds] above the last bound;
 * n may be smaller than nbounds + 1. sum: of the observations. */
void kit_hist_observe(struct kit_series *s, uint64_t v);
void kit_hist_add(struct kit_series *s, const uint64_t *counts, size_t n,
		  uint64_t sum);

/* Zero the values of the snapshot families (done before each update);
 * what was kept (kit_hist_keep_hist) stays. */
void kit_metrics_reset_snapshots(struct kit_metrics *m);

/*
 * Histogram bounds for log2 slots: slot i holds [2^i, 2^(i+1)) (slot 0
 * also 0), so its upper bound is 2^(i+1). With top_open, the last slot
 * also takes everything above (the BPF side clamps): it has no finite
 * bound and becomes "+Inf". Returns the number of bounds written.
 */
size_t kit_metrics_log2_bounds(uint64_t *bounds, size_t nslots,
			       bool top_open);

/* ---- histograms of lib/hist.h (log-linear, aggregated in the kernel) -- */

struct hist;
struct hist_unit;
struct bpf_map;

/*
 * Bounds on lib/hist.h's bucket boundaries from lo to hi (in the
 * histogram's unit), keeping 2^sub_bits per power of two (at most
 * HIST_SUB: sub_bits 2 gives buckets at most 25% wide). Each bound is one
 * of lib/hist.h's upper bounds, so its buckets map exactly. Returns how
 * many were written (at most max).
 */
size_t kit_metrics_hist_bounds(uint64_t *bounds, size_t max, uint64_t lo,
			       uint64_t hi, unsigned int sub_bits);
/* The family scale for values in unit: 9 for ns, 6 for us, 0 for bytes. */
unsigned int kit_metrics_hist_scale(const struct hist_unit *unit);

/* Add a struct hist: each of its buckets [lower, upper) counts under the
 * first bound >= upper (values below it); _sum is its exact sum. */
void kit_hist_add_hist(struct kit_series *s, const struct hist *h);
/* The same into the part a snapshot family keeps across updates: for a
 * histogram drained from the kernel (hist_drain), that no later read of
 * the map will see again. */
void kit_hist_keep_hist(struct kit_series *s, const struct hist *h);

/*
 * Every entry of a per-CPU histogram map (both generations), its CPUs
 * merged, without deleting anything: fn as for hist_drain. With what
 * kit_hist_keep_hist kept at each drain, this gives cumulative histograms
 * however the tool's intervals drain the map. Returns the number of keys,
 * or -1.
 */
int kit_metrics_hist_peek(struct bpf_map *map,
			  int (*fn)(const void *key, const struct hist *h,
				    void *ctx),
			  void *ctx);

/* The same for the array form (hist_drain_array): every generation of
 * each index 0..n-1, merged; fn gets a __u32 index as its key. */
int kit_metrics_hist_peek_array(struct bpf_map *map, uint32_t n,
				int (*fn)(const void *key,
					  const struct hist *h, void *ctx),
				void *ctx);

enum kit_expo_format {
	KIT_EXPO_TEXT,		/* text/plain; version=0.0.4 */
	KIT_EXPO_OPENMETRICS,	/* application/openmetrics-text; 1.0.0 */
};

/*
 * The format to answer an HTTP Accept header with (NULL: none sent), and
 * the Content-Type to send. OpenMetrics only when the header asks for it
 * at least as strongly as for text/plain.
 */
enum kit_expo_format kit_metrics_negotiate(const char *accept,
					   const char **content_type);

/* Append the exposition of every family to sb. */
void kit_metrics_write(struct kit_metrics *m, struct strbuf *sb,
		       enum kit_expo_format fmt);

/* ---- serving: used by lib/kit.c ----------------------------------------- */

struct kit;

/* Parse "HOST:PORT", "[V6]:PORT" or ":PORT" (all addresses). 0 or -1 with
 * a reason. host gets "" for ":PORT". */
int kit_metrics_parse_addr(const char *s, char *host, size_t hostlen,
			   char *port, size_t portlen, const char **why);

/*
 * Before anything is loaded: make the registry and bind --metrics and
 * check --metrics-file's directory. An unusable address or path is a
 * usage error (exit 2). Nothing to do without either option.
 */
void kit_metrics_open(struct kit *kit);
/* After attach: the library's own families, BPF run-time statistics, and
 * the HTTP server's fd added to the event loop's epoll set with tag. */
int kit_metrics_start(struct kit *kit, int epfd, uint64_t tag);
/* The event loop's epoll timeout, shortened to what we need. */
int kit_metrics_timeout(struct kit *kit, int timeout_ms);
/* After every epoll_wait: serve requests, write the file when due. */
void kit_metrics_run(struct kit *kit);
/* Before detaching: write the file a last time (if the tool got as far as
 * running), stop serving, free everything. */
void kit_metrics_stop(struct kit *kit);

#endif /* KIT_METRICS_H */
