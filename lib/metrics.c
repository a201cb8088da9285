// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The metrics registry and its exposition (pure code), then serving it:
 * /metrics over HTTP with libmicrohttpd, run inside the tool's own epoll
 * loop (one thread: no locking against the event handler), and the
 * --metrics-file written atomically for node_exporter's textfile collector.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <microhttpd.h>

#include "escape.h"
#include "hist.h"
#include "kit_priv.h"
#include "metrics.h"

struct kit_series {
	struct kit_family *fam;
	char **values;		/* one per label, sanitised */
	uint64_t hash;
	bool overflow;
	uint64_t count;		/* counter value; histogram count */
	double gauge;
	uint64_t sum;		/* histogram */
	uint64_t *buckets;	/* histogram: nbounds + 1, not cumulative */
	/* Snapshot families: what survives the reset before each update
	 * (data drained from the kernel, which no later read will see). The
	 * value written is the sum of both parts. */
	uint64_t kept_count, kept_sum;
	uint64_t *kept_buckets;
};

struct kit_family {
	struct kit_family *next;
	char *name;		/* as written in samples, "x_total" */
	char *base;		/* OpenMetrics family name, "x" */
	char *help;
	char *unit;
	enum kit_metric_type type;
	char *labels[KIT_METRICS_MAX_LABELS];
	size_t nlabels;
	unsigned int scale;
	uint64_t *bounds;
	size_t nbounds;
	size_t max_series;
	bool snapshot;
	struct kit_series **series; /* in creation order */
	size_t nseries, series_cap;
	struct kit_series **table;  /* open addressing, by hash */
	size_t table_size;
	struct kit_series *overflow;
};

struct metrics_srv;

struct kit_metrics {
	struct kit_family *first, *last;
	struct metrics_srv *srv;
};

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (!p) {
		fputs("out of memory\n", stderr);
		abort();
	}
	return p;
}

static char *xstrdup(const char *s)
{
	char *p = strdup(s);

	if (!p) {
		fputs("out of memory\n", stderr);
		abort();
	}
	return p;
}

/* ---- the registry ------------------------------------------------------ */

struct kit_metrics *kit_metrics_new(void)
{
	return xcalloc(1, sizeof(struct kit_metrics));
}

static void series_free(struct kit_series *s)
{
	size_t i;

	for (i = 0; i < s->fam->nlabels; i++)
		free(s->values[i]);
	free(s->values);
	free(s->buckets);
	free(s->kept_buckets);
	free(s);
}

static void family_free(struct kit_family *f)
{
	size_t i;

	for (i = 0; i < f->nseries; i++)
		series_free(f->series[i]);
	for (i = 0; i < f->nlabels; i++)
		free(f->labels[i]);
	free(f->series);
	free(f->table);
	free(f->bounds);
	free(f->name);
	free(f->base);
	free(f->help);
	free(f->unit);
	free(f);
}

void kit_metrics_free(struct kit_metrics *m)
{
	struct kit_family *f, *next;

	if (!m)
		return;
	for (f = m->first; f; f = next) {
		next = f->next;
		family_free(f);
	}
	free(m);
}

static bool name_char(char c, bool first, bool colon)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_')
		return true;
	if (c == ':')
		return colon;
	return !first && c >= '0' && c <= '9';
}

static bool valid_name(const char *s, bool colon)
{
	size_t i;

	if (!s || !*s)
		return false;
	for (i = 0; s[i]; i++)
		if (!name_char(s[i], i == 0, colon))
			return false;
	return true;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && !strcmp(s + n - k, suffix);
}

static bool valid_desc(const struct kit_metric_desc *d, size_t *nlabels)
{
	size_t i, j, n = 0;

	if (!valid_name(d->name, true) || !d->help || d->scale > 18 ||
	    d->type > KIT_HISTOGRAM)
		return false;
	if (d->type == KIT_COUNTER && !ends_with(d->name, "_total"))
		return false;
	/* Names the other types' samples use would collide. */
	if (d->type != KIT_COUNTER &&
	    (ends_with(d->name, "_total") || ends_with(d->name, "_bucket") ||
	     ends_with(d->name, "_count") || ends_with(d->name, "_sum")))
		return false;
	if (d->unit) {
		char suffix[64];
		size_t len = strlen(d->name);

		if (!valid_name(d->unit, false) ||
		    strlen(d->unit) + 2 > sizeof(suffix))
			return false;
		snprintf(suffix, sizeof(suffix), "_%s", d->unit);
		if (d->type == KIT_COUNTER)
			len -= strlen("_total");
		if (len < strlen(suffix) ||
		    strncmp(d->name + len - strlen(suffix), suffix,
			    strlen(suffix)))
			return false;
	}
	while (n < KIT_METRICS_MAX_LABELS && d->labels[n])
		n++;
	if (n == KIT_METRICS_MAX_LABELS && d->labels[n])
		return false;
	for (i = 0; i < n; i++) {
		if (!valid_name(d->labels[i], false) ||
		    !strncmp(d->labels[i], "__", 2))
			return false;
		if (d->type == KIT_HISTOGRAM && !strcmp(d->labels[i], "le"))
			return false;
		for (j = 0; j < i; j++)
			if (!strcmp(d->labels[i], d->labels[j]))
				return false;
	}
	if (d->type == KIT_HISTOGRAM) {
		if (d->nbounds > KIT_METRICS_MAX_BOUNDS ||
		    (d->nbounds && !d->bounds))
			return false;
		for (i = 1; i < d->nbounds; i++)
			if (d->bounds[i] <= d->bounds[i - 1])
				return false;
	} else if (d->nbounds) {
		return false;
	}
	*nlabels = n;
	return true;
}

static bool same_desc(const struct kit_family *f,
		      const struct kit_metric_desc *d, size_t nlabels)
{
	size_t i;

	if (f->type != d->type || f->nlabels != nlabels ||
	    f->scale != d->scale || f->nbounds != d->nbounds ||
	    f->snapshot != d->snapshot)
		return false;
	for (i = 0; i < nlabels; i++)
		if (strcmp(f->labels[i], d->labels[i]))
			return false;
	return f->nbounds == 0 ||
	       !memcmp(f->bounds, d->bounds, f->nbounds * sizeof(*f->bounds));
}

static struct kit_series *series_new(struct kit_family *f)
{
	struct kit_series *s = xcalloc(1, sizeof(*s));

	s->fam = f;
	s->values = xcalloc(f->nlabels, sizeof(char *));
	if (f->type == KIT_HISTOGRAM) {
		s->buckets = xcalloc(f->nbounds + 1, sizeof(uint64_t));
		s->kept_buckets = xcalloc(f->nbounds + 1, sizeof(uint64_t));
	}
	if (f->nseries == f->series_cap) {
		f->series_cap = f->series_cap ? 2 * f->series_cap : 8;
		f->series = realloc(f->series,
				    f->series_cap * sizeof(*f->series));
		if (!f->series) {
			fputs("out of memory\n", stderr);
			abort();
		}
	}
	f->series[f->nseries++] = s;
	return s;
}

struct kit_family *kit_metrics_family(struct kit_metrics *m,
				      const struct kit_metric_desc *d)
{
	struct kit_family *f;
	size_t nlabels, i;

	if (!m || !d || !valid_desc(d, &nlabels)) {
		errno = EINVAL;
		return NULL;
	}
	for (f = m->first; f; f = f->next) {
		size_t n = strlen(d->name);

		if (!strcmp(f->name, d->name)) {
			if (same_desc(f, d, nlabels))
				return f;
			errno = EEXIST;
			return NULL;
		}
		/* a counter x_total is OpenMetrics family x: no other x */
		if ((d->type == KIT_COUNTER && n > 6 &&
		     strlen(f->base) == n - 6 &&
		     !strncmp(f->base, d->name, n - 6)) ||
		    !strcmp(f->base, d->name)) {
			errno = EEXIST;
			return NULL;
		}
	}
	f = xcalloc(1, sizeof(*f));
	f->name = xstrdup(d->name);
	f->base = xstrdup(d->name);
	if (d->type == KIT_COUNTER)
		f->base[strlen(f->base) - strlen("_total")] = '\0';
	f->help = xstrdup(d->help);
	f->unit = d->unit ? xstrdup(d->unit) : NULL;
	f->type = d->type;
	f->nlabels = nlabels;
	for (i = 0; i < nlabels; i++)
		f->labels[i] = xstrdup(d->labels[i]);
	f->scale = d->scale;
	f->nbounds = d->nbounds;
	if (d->nbounds) {
		f->bounds = xcalloc(d->nbounds, sizeof(*f->bounds));
		memcpy(f->bounds, d->bounds, d->nbounds * sizeof(*f->bounds));
	}
	f->max_series = d->max_series ? d->max_series :
					KIT_METRICS_MAX_SERIES;
	f->snapshot = d->snapshot;
	if (nlabels) {
		/* Load factor at most 1/2 with the cap reached. */
		f->table_size = 16;
		while (f->table_size < 2 * f->max_series)
			f->table_size *= 2;
		f->table = xcalloc(f->table_size, sizeof(*f->table));
	} else {
		series_new(f); /* the one series: shown from the start */
	}
	if (m->last)
		m->last->next = f;
	else
		m->first = f;
	m->last = f;
	return f;
}

/*
 * A label value as we keep it: valid UTF-8 (invalid bytes become U+FFFD),
 * at most KIT_METRICS_MAX_VALUE bytes, cut between characters.
 */
static size_t sanitize(const char *in, char *out, size_t outlen)
{
	static const char replacement[] = "\xef\xbf\xbd";
	const unsigned char *s = (const unsigned char *)in;
	size_t len = strlen(in), i = 0, o = 0;

	while (i < len) {
		unsigned int cp;
		size_t n = kit_utf8_decode(s + i, len - i, &cp);
		const char *src = n ? in + i : replacement;
		size_t k = n ? n : 3;

		if (o + k >= outlen)
			break;
		memcpy(out + o, src, k);
		o += k;
		i += n ? n : 1;
	}
	out[o] = '\0';
	return o;
}

static uint64_t hash_values(char values[][KIT_METRICS_MAX_VALUE + 1],
			    size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
	size_t i;
	const char *p;

	for (i = 0; i < n; i++) {
		for (p = values[i]; *p; p++)
			h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
		h = (h ^ 0xff) * 0x100000001b3ULL; /* no UTF-8 has 0xff */
	}
	return h;
}

static bool series_matches(const struct kit_series *s,
			   char values[][KIT_METRICS_MAX_VALUE + 1], size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(s->values[i], values[i]))
			return false;
	return true;
}

struct kit_series *kit_series(struct kit_family *f,
			      const char *const *values)
{
	char clean[KIT_METRICS_MAX_LABELS][KIT_METRICS_MAX_VALUE + 1];
	struct kit_series *s;
	uint64_t h;
	size_t i, slot, mask;

	if (!f->nlabels)
		return f->series[0];
	for (i = 0; i < f->nlabels; i++)
		sanitize(values && values[i] ? values[i] : "", clean[i],
			 sizeof(clean[i]));
	h = hash_values(clean, f->nlabels);
	mask = f->table_size - 1;
	for (slot = h & mask; (s = f->table[slot]); slot = (slot + 1) & mask)
		if (s->hash == h && series_matches(s, clean, f->nlabels))
			return s;
	if (f->nseries - (f->overflow ? 1 : 0) >= f->max_series) {
		if (!f->overflow) {
			f->overflow = series_new(f);
			f->overflow->overflow = true;
			for (i = 0; i < f->nlabels; i++)
				f->overflow->values[i] =
					xstrdup(KIT_METRICS_OVERFLOW);
		}
		return f->overflow;
	}
	s = series_new(f);
	s->hash = h;
	for (i = 0; i < f->nlabels; i++)
		s->values[i] = xstrdup(clean[i]);
	f->table[slot] = s;
	return s;
}

bool kit_series_is_overflow(const struct kit_series *s)
{
	return s->overflow;
}

size_t kit_family_nseries(const struct kit_family *f)
{
	return f->nseries;
}

void kit_counter_add(struct kit_series *s, uint64_t v)
{
	s->count += v;
}

void kit_counter_set(struct kit_series *s, uint64_t v)
{
	s->count = v;
}

uint64_t kit_counter_value(const struct kit_series *s)
{
	return s->count + s->kept_count;
}

void kit_gauge_set(struct kit_series *s, double v)
{
	s->gauge = v;
}

/* The first bound >= v; nbounds: above them all ("+Inf"). */
static size_t bucket_of(const struct kit_family *f, uint64_t v)
{
	size_t lo = 0, hi = f->nbounds;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (f->bounds[mid] < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void kit_hist_observe(struct kit_series *s, uint64_t v)
{
	if (s->fam->type != KIT_HISTOGRAM)
		return;
	s->buckets[bucket_of(s->fam, v)]++;
	s->count++;
	s->sum += v;
}

void kit_hist_add(struct kit_series *s, const uint64_t *counts, size_t n,
		  uint64_t sum)
{
	size_t i;

	if (s->fam->type != KIT_HISTOGRAM)
		return;
	if (n > s->fam->nbounds + 1)
		n = s->fam->nbounds + 1;
	for (i = 0; i < n; i++) {
		s->buckets[i] += counts[i];
		s->count += counts[i];
	}
	s->sum += sum;
}

static void add_hist(const struct kit_family *f, uint64_t *buckets,
		     uint64_t *count, uint64_t *sum, const struct hist *h)
{
	unsigned int i;

	/* A bucket [lower, upper) has only values below upper: it counts
	 * under the first bound >= upper. Counts from the buckets, so that
	 * +Inf is always _count even if h was read mid-update. */
	for (i = 0; i < HIST_NBUCKETS; i++) {
		uint64_t c = h->buckets[i], up = hist_bucket_upper(i);

		if (!c)
			continue;
		buckets[up == ~0ULL ? f->nbounds : bucket_of(f, up)] += c;
		*count += c;
	}
	*sum += h->sum;
}

void kit_hist_add_hist(struct kit_series *s, const struct hist *h)
{
	if (s->fam->type == KIT_HISTOGRAM)
		add_hist(s->fam, s->buckets, &s->count, &s->sum, h);
}

void kit_hist_keep_hist(struct kit_series *s, const struct hist *h)
{
	if (s->fam->type == KIT_HISTOGRAM)
		add_hist(s->fam, s->kept_buckets, &s->kept_count,
			 &s->kept_sum, h);
}

size_t kit_metrics_hist_bounds(uint64_t *bounds, size_t max, uint64_t lo,
			       uint64_t hi, unsigned int sub_bits)
{
	size_t n = 0;
	unsigned int i;

	if (sub_bits > HIST_SUB_BITS)
		sub_bits = HIST_SUB_BITS;
	/* Every bucket's upper bound is the next one's lower bound. */
	for (i = 1; i < HIST_NBUCKETS && n < max; i++) {
		uint64_t b = hist_bucket_lower(i);
		unsigned int p = hist_log2(b);

		if (b < lo || b > hi)
			continue;
		/* On the coarser grid: at most sub_bits bits below the top */
		if (p > sub_bits && (b & ((1ULL << (p - sub_bits)) - 1)))
			continue;
		bounds[n++] = b;
	}
	return n;
}

unsigned int kit_metrics_hist_scale(const struct hist_unit *unit)
{
	unsigned int scale = 0;
	uint64_t per_s;

	if (!unit->ns)
		return 0;
	for (per_s = 1000000000ULL / unit->ns; per_s > 1; per_s /= 10)
		scale++;
	return scale;
}

int kit_metrics_hist_peek(struct bpf_map *map,
			  int (*fn)(const void *key, const struct hist *h,
				    void *ctx),
			  void *ctx)
{
	size_t ksz = bpf_map__key_size(map);
	int ncpu = libbpf_num_possible_cpus(), fd = bpf_map__fd(map);
	char *key = xcalloc(1, ksz), *next = xcalloc(1, ksz);
	struct hist *vals = xcalloc(ncpu > 0 ? ncpu : 1, sizeof(*vals));
	struct hist *sum = xcalloc(1, sizeof(*sum));
	void *prev = NULL;
	int n = 0, err = ncpu > 0 ? 0 : -1, i;

	while (!err && !bpf_map_get_next_key(fd, prev, next)) {
		memcpy(key, next, ksz);
		prev = key;
		if (bpf_map_lookup_elem(fd, key, vals))
			continue; /* deleted meanwhile */
		hist_clear(sum);
		for (i = 0; i < ncpu; i++)
			hist_merge(sum, &vals[i]);
		if (fn(key, sum, ctx) < 0)
			err = -1;
		n++;
	}
	free(key);
	free(next);
	free(vals);
	free(sum);
	return err ? -1 : n;
}

int kit_metrics_hist_peek_array(struct bpf_map *map, uint32_t n,
				int (*fn)(const void *key,
					  const struct hist *h, void *ctx),
				void *ctx)
{
	int ncpu = libbpf_num_possible_cpus(), fd = bpf_map__fd(map);
	uint32_t slots = bpf_map__max_entries(map), k, slot;
	struct hist *vals = xcalloc(ncpu > 0 ? ncpu : 1, sizeof(*vals));
	struct hist *sum = xcalloc(1, sizeof(*sum));
	int err = ncpu > 0 ? 0 : -1, i;

	/* Both generations of each index: slots k, n + k, ... */
	for (k = 0; !err && k < n; k++) {
		hist_clear(sum);
		for (slot = k; slot < slots; slot += n) {
			if (bpf_map_lookup_elem(fd, &slot, vals)) {
				err = -1;
				break;
			}
			for (i = 0; i < ncpu; i++)
				hist_merge(sum, &vals[i]);
		}
		if (!err && sum->count && fn(&k, sum, ctx) < 0)
			err = -1;
	}
	free(vals);
	free(sum);
	return err;
}

void kit_metrics_reset_snapshots(struct kit_metrics *m)
{
	struct kit_family *f;
	size_t i;

	for (f = m->first; f; f = f->next) {
		if (!f->snapshot)
			continue;
		for (i = 0; i < f->nseries; i++) {
			struct kit_series *s = f->series[i];

			s->count = s->sum = 0;
			s->gauge = 0;
			if (s->buckets)
				memset(s->buckets, 0,
				       (f->nbounds + 1) * sizeof(uint64_t));
		}
	}
}

size_t kit_metrics_log2_bounds(uint64_t *bounds, size_t nslots,
			       bool top_open)
{
	size_t i, n = top_open && nslots ? nslots - 1 : nslots;

	if (n > 63)
		n = 63;
	for (i = 0; i < n; i++)
		bounds[i] = 1ULL << (i + 1);
	return n;
}

/* ---- exposition -------------------------------------------------------- */

/* v * 10^-scale, exactly: "0.000002048", "3", "1.5". */
static void put_scaled(struct strbuf *sb, uint64_t v, unsigned int scale)
{
	uint64_t div = 1, frac;
	char digits[20];
	int i, n;

	for (i = 0; i < (int)scale; i++)
		div *= 10;
	sb_u64(sb, v / div);
	frac = v % div;
	if (!frac)
		return;
	for (i = scale - 1; i >= 0; i--, frac /= 10)
		digits[i] = '0' + frac % 10;
	for (n = scale; digits[n - 1] == '0'; n--)
		;
	sb_putc(sb, '.');
	sb_put(sb, digits, n);
}

/* The shortest decimal that reads back as the same double. */
static void put_double(struct strbuf *sb, double v)
{
	char buf[40];
	int prec;

	if (isnan(v)) {
		sb_puts(sb, "NaN");
		return;
	}
	if (isinf(v)) {
		sb_puts(sb, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	for (prec = 1; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	sb_puts(sb, buf);
}

/* HELP text: backslash and newline escaped; OpenMetrics also '"'. */
static void put_help(struct strbuf *sb, const char *s, bool om)
{
	for (; *s; s++) {
		if (*s == '\\')
			sb_puts(sb, "\\\\");
		else if (*s == '\n')
			sb_puts(sb, "\\n");
		else if (*s == '"' && om)
			sb_puts(sb, "\\\"");
		else
			sb_putc(sb, *s);
	}
}

static void put_label_value(struct strbuf *sb, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			sb_puts(sb, "\\\\");
		else if (*s == '"')
			sb_puts(sb, "\\\"");
		else if (*s == '\n')
			sb_puts(sb, "\\n");
		else
			sb_putc(sb, *s);
	}
}

/* name{labels[,le="..."]} */
static void put_sample_name(struct strbuf *sb, const struct kit_series *s,
			    const char *suffix, const char *le)
{
	const struct kit_family *f = s->fam;
	size_t i;

	sb_puts(sb, f->type == KIT_COUNTER ? f->base : f->name);
	sb_puts(sb, suffix);
	if (!f->nlabels && !le)
		return;
	sb_putc(sb, '{');
	for (i = 0; i < f->nlabels; i++) {
		if (i)
			sb_putc(sb, ',');
		sb_puts(sb, f->labels[i]);
		sb_puts(sb, "=\"");
		put_label_value(sb, s->values[i]);
		sb_putc(sb, '"');
	}
	if (le) {
		if (f->nlabels)
			sb_putc(sb, ',');
		sb_puts(sb, "le=\"");
		sb_puts(sb, le);
		sb_putc(sb, '"');
	}
	sb_putc(sb, '}');
}

static void write_histogram(struct strbuf *sb, const struct kit_series *s)
{
	const struct kit_family *f = s->fam;
	uint64_t count = s->count + s->kept_count;
	struct strbuf le = {};
	uint64_t cum = 0;
	size_t i;

	for (i = 0; i < f->nbounds; i++) {
		cum += s->buckets[i] + s->kept_buckets[i];
		sb_reset(&le);
		put_scaled(&le, f->bounds[i], f->scale);
		put_sample_name(sb, s, "_bucket", sb_str(&le));
		sb_putc(sb, ' ');
		sb_u64(sb, cum);
		sb_putc(sb, '\n');
	}
	put_sample_name(sb, s, "_bucket", "+Inf");
	sb_putc(sb, ' ');
	sb_u64(sb, count);
	sb_putc(sb, '\n');
	put_sample_name(sb, s, "_sum", NULL);
	sb_putc(sb, ' ');
	put_scaled(sb, s->sum + s->kept_sum, f->scale);
	sb_putc(sb, '\n');
	put_sample_name(sb, s, "_count", NULL);
	sb_putc(sb, ' ');
	sb_u64(sb, count);
	sb_putc(sb, '\n');
	sb_free(&le);
}

static void write_family(struct strbuf *sb, const struct kit_family *f,
			 bool om)
{
	static const char *const types[] = { "counter", "gauge", "histogram" };
	/* The text format names a counter by its samples, OpenMetrics by
	 * its family. */
	const char *name = om ? f->base : f->name;
	size_t i;

	if (om) {
		sb_printf(sb, "# TYPE %s %s\n", name, types[f->type]);
		if (f->unit)
			sb_printf(sb, "# UNIT %s %s\n", name, f->unit);
	}
	sb_printf(sb, "# HELP %s ", name);
	put_help(sb, f->help, om);
	sb_putc(sb, '\n');
	if (!om)
		sb_printf(sb, "# TYPE %s %s\n", name, types[f->type]);
	for (i = 0; i < f->nseries; i++) {
		const struct kit_series *s = f->series[i];

		switch (f->type) {
		case KIT_COUNTER:
			put_sample_name(sb, s, "_total", NULL);
			sb_putc(sb, ' ');
			put_scaled(sb, s->count + s->kept_count, f->scale);
			sb_putc(sb, '\n');
			break;
		case KIT_GAUGE:
			put_sample_name(sb, s, "", NULL);
			sb_putc(sb, ' ');
			put_double(sb, s->gauge);
			sb_putc(sb, '\n');
			break;
		case KIT_HISTOGRAM:
			write_histogram(sb, s);
			break;
		}
	}
}

void kit_metrics_write(struct kit_metrics *m, struct strbuf *sb,
		       enum kit_expo_format fmt)
{
	const struct kit_family *f;
	bool om = fmt == KIT_EXPO_OPENMETRICS;

	for (f = m->first; f; f = f->next)
		write_family(sb, f, om);
	if (om)
		sb_puts(sb, "# EOF\n");
}

/* ---- content negotiation ----------------------------------------------- */

#define CT_TEXT "text/plain; version=0.0.4; charset=utf-8"
#define CT_OM "application/openmetrics-text; version=1.0.0; charset=utf-8"
#define CT_OM_001 "application/openmetrics-text; version=0.0.1; charset=utf-8"

static const char *skip_ws(const char *s, const char *end)
{
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	return s;
}

static size_t trim_len(const char *s, size_t n)
{
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	return n;
}

static bool token_is(const char *s, size_t n, const char *want)
{
	return n == strlen(want) && !strncasecmp(s, want, n);
}

/* One media range "type/sub; k=v; q=0.5": what it is and its q. */
struct media_range {
	const char *type;
	size_t type_len;
	const char *version;	/* NULL: no version parameter */
	size_t version_len;
	double q;
};

static void parse_range(const char *s, const char *end,
			struct media_range *r)
{
	const char *semi;

	memset(r, 0, sizeof(*r));
	r->q = 1;
	s = skip_ws(s, end);
	semi = memchr(s, ';', end - s);
	r->type = s;
	r->type_len = trim_len(s, (semi ? semi : end) - s);
	while (semi) {
		const char *p = skip_ws(semi + 1, end), *eq, *v;
		size_t klen, vlen;

		semi = memchr(p, ';', end - p);
		eq = memchr(p, '=', (semi ? semi : end) - p);
		if (!eq)
			continue;
		klen = trim_len(p, eq - p);
		v = skip_ws(eq + 1, semi ? semi : end);
		vlen = trim_len(v, (semi ? semi : end) - v);
		if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"')
			v++, vlen -= 2;
		if (token_is(p, klen, "q")) {
			char buf[16];
			char *e;

			if (vlen < sizeof(buf)) {
				memcpy(buf, v, vlen);
				buf[vlen] = '\0';
				r->q = strtod(buf, &e);
				if (e == buf || *e || !(r->q >= 0))
					r->q = 0;
				if (r->q > 1)
					r->q = 1;
			}
		} else if (token_is(p, klen, "version")) {
			r->version = v;
			r->version_len = vlen;
		}
	}
}

enum kit_expo_format kit_metrics_negotiate(const char *accept,
					   const char **content_type)
{
	double om_q = 0, text_q = 0, any_q = 0;
	const char *om_ct = CT_OM;
	const char *s = accept, *end;

	*content_type = CT_TEXT;
	if (!accept)
		return KIT_EXPO_TEXT;
	end = accept + strlen(accept);
	while (s < end) {
		const char *comma = memchr(s, ',', end - s);
		const char *stop = comma ? comma : end;
		struct media_range r;

		parse_range(s, stop, &r);
		s = comma ? comma + 1 : end;
		if (token_is(r.type, r.type_len,
			     "application/openmetrics-text")) {
			bool v1 = !r.version ||
				  token_is(r.version, r.version_len, "1.0.0");
			bool v001 = r.version && token_is(r.version,
							  r.version_len,
							  "0.0.1");

			if ((v1 || v001) && r.q > om_q) {
				om_q = r.q;
				om_ct = v1 ? CT_OM : CT_OM_001;
			} else if (v1 && r.q == om_q) {
				om_ct = CT_OM;
			}
		} else if (token_is(r.type, r.type_len, "text/plain")) {
			if ((!r.version ||
			     token_is(r.version, r.version_len, "0.0.4")) &&
			    r.q > text_q)
				text_q = r.q;
		} else if (token_is(r.type, r.type_len, "*/*") ||
			   token_is(r.type, r.type_len, "text/*")) {
			if (r.q > any_q)
				any_q = r.q;
		}
	}
	if (!text_q)
		text_q = any_q;
	if (om_q > 0 && om_q >= text_q) {
		*content_type = om_ct;
		return KIT_EXPO_OPENMETRICS;
	}
	return KIT_EXPO_TEXT;
}

/* ---- serving ----------------------------------------------------------- */

#define FILE_PERIOD_NS	 (5 * 1000000000ULL) /* without an interval */
#define HTTP_TIMEOUT_S	 10
#define HTTP_MAX_CONNS	 16

struct metrics_srv {
	struct kit *kit;
	int listen_fd;
	char url[160];
	struct MHD_Daemon *mhd;
	const char *file;
	uint64_t file_period_ns, next_file_ns;
	bool file_failing;	/* reported; quiet until it works again */
	bool update_failing;	/* the same for the tool's callback */
	bool started;
	int stats_fd;		/* holds BPF_STATS_RUN_TIME on */
	uint64_t *percpu;
	int ncpus;
	struct kit_family *events, *lost, *run_seconds, *runs, *attach;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

int kit_metrics_parse_addr(const char *s, char *host, size_t hostlen,
			   char *port, size_t portlen, const char **why)
{
	const char *colon, *h = s;
	size_t hlen, i;
	char *end;
	long p;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':') {
			*why = "expected [IPV6]:PORT";
			return -1;
		}
		h = s + 1;
		hlen = close - h;
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon) {
			*why = "expected ADDR:PORT (or :PORT for every "
			       "address)";
			return -1;
		}
		hlen = colon - s;
		if (memchr(s, ':', hlen)) {
			*why = "an IPv6 address goes in brackets: [ADDR]:PORT";
			return -1;
		}
	}
	if (hlen >= hostlen) {
		*why = "address too long";
		return -1;
	}
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	for (i = 1; colon[i]; i++)
		if (colon[i] < '0' || colon[i] > '9')
			break;
	errno = 0;
	p = strtol(colon + 1, &end, 10);
	if (i == 1 || colon[i] || errno || p > 65535 ||
	    strlen(colon + 1) >= portlen) {
		*why = "the port must be a number from 0 to 65535";
		return -1;
	}
	snprintf(port, portlen, "%ld", p);
	return 0;
}

/* Bind and listen now, so that a bad address is a usage error. */
static void bind_metrics(struct metrics_srv *srv, const char *arg)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_PASSIVE | AI_NUMERICSERV,
	}, *res = NULL, *ai;
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	char host[128], port[8], nhost[NI_MAXHOST], nport[NI_MAXSERV];
	const char *why;
	int fd = -1, err = 0, one = 1, rc;

	if (kit_metrics_parse_addr(arg, host, sizeof(host), port, sizeof(port),
				   &why))
		kit_usage_error("invalid --metrics '%s': %s", arg, why);
	rc = getaddrinfo(*host ? host : NULL, port, &hints, &res);
	if (rc)
		kit_usage_error("invalid --metrics '%s': %s", arg,
				gai_strerror(rc));
	/* ":PORT": prefer the IPv6 wildcard, which also takes IPv4. */
	for (ai = res; ai; ai = ai->ai_next) {
		if (!*host && ai->ai_family != AF_INET6 && ai->ai_next)
			continue;
		fd = socket(ai->ai_family,
			    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			err = errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ai->ai_family == AF_INET6 && !*host) {
			int zero = 0;

			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero,
				   sizeof(zero));
		}
		if (!bind(fd, ai->ai_addr, ai->ai_addrlen) && !listen(fd, 16))
			break;
		err = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		kit_usage_error("cannot listen on --metrics %s: %s", arg,
				strerror(err ? err : EADDRNOTAVAIL));
	srv->listen_fd = fd;
	if (getsockname(fd, (struct sockaddr *)&ss, &sslen) ||
	    getnameinfo((struct sockaddr *)&ss, sslen, nhost, sizeof(nhost),
			nport, sizeof(nport), NI_NUMERICHOST | NI_NUMERICSERV))
		snprintf(srv->url, sizeof(srv->url), "%s", arg);
	else
		snprintf(srv->url, sizeof(srv->url),
			 ss.ss_family == AF_INET6 ? "http://[%s]:%s/metrics" :
						    "http://%s:%s/metrics",
			 nhost, nport);
}

/* A temporary file next to path: "DIR/.BASE.XXXXXX". */
static int temp_beside(const char *path, char *tmp, size_t len)
{
	const char *slash = strrchr(path, '/');
	int n;

	if (slash)
		n = snprintf(tmp, len, "%.*s/.%s.XXXXXX", (int)(slash - path),
			     path, slash + 1);
	else
		n = snprintf(tmp, len, ".%s.XXXXXX", path);
	if (n < 0 || (size_t)n >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return mkostemp(tmp, O_CLOEXEC);
}

static void check_metrics_file(const char *path)
{
	char tmp[4096];
	struct stat st;
	int fd;

	if (!*path || path[strlen(path) - 1] == '/' ||
	    (!stat(path, &st) && S_ISDIR(st.st_mode)))
		kit_usage_error("invalid --metrics-file '%s': not a file name",
				path);
	fd = temp_beside(path, tmp, sizeof(tmp));
	if (fd < 0)
		kit_usage_error("cannot write --metrics-file %s: %s", path,
				strerror(errno));
	close(fd);
	unlink(tmp);
}

void kit_metrics_open(struct kit *kit)
{
	struct metrics_srv *srv;

	if (!kit->opts.metrics_addr && !kit->opts.metrics_file)
		return;
	srv = xcalloc(1, sizeof(*srv));
	srv->kit = kit;
	srv->listen_fd = srv->stats_fd = -1;
	if (kit->opts.metrics_addr)
		bind_metrics(srv, kit->opts.metrics_addr);
	if (kit->opts.metrics_file) {
		check_metrics_file(kit->opts.metrics_file);
		srv->file = kit->opts.metrics_file;
	}
	kit->metrics = kit_metrics_new();
	kit->metrics->srv = srv;
}

/* ---- the library's own metrics ----------------------------------------- */

static void declare_health(struct kit *kit, struct metrics_srv *srv)
{
	struct kit_metrics *m = kit->metrics;
	struct kit_priv *p = kit->priv;
	const char *v[3] = { kit->tool->name };
	int i;

	if (kit->tool->event) {
		srv->events = kit_metrics_family(m, &(struct kit_metric_desc){
			.name = "bpfkit_events_total",
			.help = "Events read from the kernel and handled.",
			.labels = { "tool" },
		});
		srv->lost = kit_metrics_family(m, &(struct kit_metric_desc){
			.name = "bpfkit_events_lost_total",
			.help = "Events the kernel dropped because the ring "
				"buffer was full.",
			.labels = { "tool" },
		});
	}
	if (srv->stats_fd >= 0) {
		srv->run_seconds = kit_metrics_family(
			m, &(struct kit_metric_desc){
				.name = "bpfkit_bpf_program_run_seconds_total",
				.help = "Time the tool's BPF programs ran in "
					"the kernel (BPF_ENABLE_STATS).",
				.unit = "seconds",
				.labels = { "tool", "program" },
				.scale = 9,
			});
		srv->runs = kit_metrics_family(m, &(struct kit_metric_desc){
			.name = "bpfkit_bpf_program_runs_total",
			.help = "Times the tool's BPF programs ran "
				"(BPF_ENABLE_STATS).",
			.labels = { "tool", "program" },
		});
	}
	srv->attach = kit_metrics_family(m, &(struct kit_metric_desc){
		.name = "bpfkit_attach_info",
		.help = "The attach mechanism used for each hook (value 1).",
		.type = KIT_GAUGE,
		.labels = { "tool", "hook", "mechanism" },
	});
	for (i = 0; srv->attach && i < p->nhooks; i++) {
		if (p->chosen[i] < 0)
			continue;
		v[1] = p->hooks[i]->name;
		v[2] = kit_mech_name(p->hooks[i]->alts[p->chosen[i]].mech);
		kit_gauge_set(kit_series(srv->attach, v), 1);
	}
}

static uint64_t read_lost(struct kit *kit, struct metrics_srv *srv)
{
	struct bpf_map *map = kit_map(kit, "kit_stats");
	uint32_t key = KIT_STAT_LOST;
	uint64_t sum = 0;
	int i;

	if (!map || !srv->percpu ||
	    bpf_map_lookup_elem(bpf_map__fd(map), &key, srv->percpu))
		return kit->lost;
	for (i = 0; i < srv->ncpus; i++)
		sum += srv->percpu[i];
	return sum;
}

static void update_health(struct kit *kit, struct metrics_srv *srv)
{
	const char *v[2] = { kit->tool->name };
	struct bpf_program *prog;

	if (srv->events)
		kit_counter_set(kit_series(srv->events, v), kit->events);
	if (srv->lost)
		kit_counter_set(kit_series(srv->lost, v), read_lost(kit, srv));
	if (!srv->run_seconds || !srv->runs || !kit->obj)
		return;
	bpf_object__for_each_program(prog, kit->obj) {
		struct bpf_prog_info info = {};
		uint32_t len = sizeof(info);
		int fd = bpf_program__fd(prog);

		if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
			continue;
		v[1] = bpf_program__name(prog);
		kit_counter_set(kit_series(srv->run_seconds, v),
				info.run_time_ns);
		kit_counter_set(kit_series(srv->runs, v), info.run_cnt);
	}
}

/* Bring every value up to date: ours, then the tool's. */
static int update(struct kit *kit)
{
	struct metrics_srv *srv = kit->metrics->srv;

	kit_metrics_reset_snapshots(kit->metrics);
	update_health(kit, srv);
	if (kit->tool->metrics &&
	    kit->tool->metrics(kit, kit->skel, kit->metrics) < 0) {
		if (!srv->update_failing)
			kit_error("reading the metrics from the kernel failed");
		srv->update_failing = true;
		return -1;
	}
	srv->update_failing = false;
	return 0;
}

/* ---- HTTP -------------------------------------------------------------- */

static enum MHD_Result respond(struct MHD_Connection *conn,
			       unsigned int status, const char *ctype,
			       struct strbuf *body)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	/* MHD takes the buffer and frees it. */
	resp = MHD_create_response_from_buffer(body->len, body->buf,
					       MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		sb_free(body);
		return MHD_NO;
	}
	body->buf = NULL;
	body->len = body->cap = 0;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
					"GET, HEAD");
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version, const char *upload,
				  size_t *upload_size, void **req)
{
	struct kit *kit = cls;
	struct strbuf body = {};
	const char *ctype = "text/plain; charset=utf-8";
	enum kit_expo_format fmt;

	if (strcmp(method, MHD_HTTP_METHOD_GET) &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD)) {
		sb_puts(&body, "only GET and HEAD\n");
		return respond(conn, MHD_HTTP_METHOD_NOT_ALLOWED, ctype, &body);
	}
	if (!strcmp(url, "/")) {
		sb_printf(&body, "bpfkit %s: metrics at /metrics\n",
			  kit->tool->name);
		return respond(conn, MHD_HTTP_OK, ctype, &body);
	}
	if (strcmp(url, "/metrics")) {
		sb_puts(&body, "not found: the metrics are at /metrics\n");
		return respond(conn, MHD_HTTP_NOT_FOUND, ctype, &body);
	}
	if (update(kit)) {
		sb_puts(&body, "reading the metrics failed\n");
		return respond(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, ctype,
			       &body);
	}
	fmt = kit_metrics_negotiate(
		MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
					    MHD_HTTP_HEADER_ACCEPT),
		&ctype);
	kit_metrics_write(kit->metrics, &body, fmt);
	return respond(conn, MHD_HTTP_OK, ctype, &body);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = '\0';
	kit_verbose("metrics server: %s", buf);
}

static int start_http(struct kit *kit, struct metrics_srv *srv, int epfd,
		      uint64_t tag)
{
	const union MHD_DaemonInfo *info;
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };

	srv->mhd = MHD_start_daemon(
		MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request,
		kit, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
		MHD_OPTION_LISTEN_SOCKET, srv->listen_fd,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned int)HTTP_MAX_CONNS,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)HTTP_TIMEOUT_S,
		MHD_OPTION_END);
	if (!srv->mhd) {
		kit_error("cannot start the metrics server on %s", srv->url);
		return -1;
	}
	srv->listen_fd = -1; /* the daemon's now */
	info = MHD_get_daemon_info(srv->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info || epoll_ctl(epfd, EPOLL_CTL_ADD, info->epoll_fd, &ev)) {
		kit_error("cannot poll the metrics server: %s",
			  strerror(errno));
		return -1;
	}
	fprintf(stderr, "%s: serving metrics at %s\n", kit_progname,
		srv->url);
	return 0;
}

int kit_metrics_start(struct kit *kit, int epfd, uint64_t tag)
{
	struct metrics_srv *srv;
	const char *env;

	if (!kit->metrics)
		return 0;
	srv = kit->metrics->srv;
	/* Run-time statistics cost every BPF program on the machine a
	 * little; we hold them on only while we run, and not at all with
	 * BPFKIT_BPF_STATS=0. */
	env = getenv("BPFKIT_BPF_STATS");
	if (env && !strcmp(env, "0")) {
		srv->stats_fd = -1;
	} else {
		srv->stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
		if (srv->stats_fd < 0)
			kit_error("WARNING: cannot enable BPF run-time "
				  "statistics (%s): no bpfkit_bpf_program_* "
				  "metrics", strerror(errno));
	}
	srv->ncpus = libbpf_num_possible_cpus();
	if (srv->ncpus > 0)
		srv->percpu = xcalloc(srv->ncpus, sizeof(uint64_t));
	declare_health(kit, srv);
	if (srv->listen_fd >= 0 && start_http(kit, srv, epfd, tag))
		return -1;
	srv->file_period_ns = kit->opts.interval_ns ? kit->opts.interval_ns :
						      FILE_PERIOD_NS;
	srv->next_file_ns = mono_ns() + srv->file_period_ns;
	srv->started = true;
	return 0;
}

int kit_metrics_timeout(struct kit *kit, int timeout_ms)
{
	struct metrics_srv *srv;
	MHD_UNSIGNED_LONG_LONG t;
	uint64_t now;

	if (!kit->metrics || !kit->metrics->srv->started)
		return timeout_ms;
	srv = kit->metrics->srv;
	if (srv->mhd && MHD_get_timeout(srv->mhd, &t) == MHD_YES &&
	    (timeout_ms < 0 || t < (MHD_UNSIGNED_LONG_LONG)timeout_ms))
		timeout_ms = t;
	if (srv->file) {
		now = mono_ns();
		t = now >= srv->next_file_ns ?
			    0 :
			    (srv->next_file_ns - now + 999999) / 1000000;
		if (timeout_ms < 0 || t < (MHD_UNSIGNED_LONG_LONG)timeout_ms)
			timeout_ms = t;
	}
	return timeout_ms;
}

static int write_metrics_file(struct kit *kit, struct metrics_srv *srv)
{
	struct strbuf body = {};
	char tmp[4096];
	size_t off = 0;
	int fd, err = 0;

	if (update(kit))
		return -1;
	kit_metrics_write(kit->metrics, &body, KIT_EXPO_TEXT);
	fd = temp_beside(srv->file, tmp, sizeof(tmp));
	if (fd < 0) {
		err = errno;
		goto out;
	}
	while (off < body.len) {
		ssize_t n = write(fd, body.buf + off, body.len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? errno : EIO;
			break;
		}
		off += n;
	}
	/* Readable by a collector running as another user. */
	if (!err && fchmod(fd, 0644))
		err = errno;
	if (close(fd) && !err)
		err = errno;
	if (!err && rename(tmp, srv->file))
		err = errno;
	if (err)
		unlink(tmp);
out:
	sb_free(&body);
	if (err && !srv->file_failing)
		kit_error("cannot write --metrics-file %s: %s", srv->file,
			  strerror(err));
	srv->file_failing = err != 0;
	return err ? -1 : 0;
}

void kit_metrics_run(struct kit *kit)
{
	struct metrics_srv *srv;
	uint64_t now;

	if (!kit->metrics || !kit->metrics->srv->started)
		return;
	srv = kit->metrics->srv;
	if (srv->mhd)
		MHD_run(srv->mhd);
	if (srv->file && (now = mono_ns()) >= srv->next_file_ns) {
		write_metrics_file(kit, srv);
		while (srv->next_file_ns <= now)
			srv->next_file_ns += srv->file_period_ns;
	}
}

void kit_metrics_stop(struct kit *kit)
{
	struct metrics_srv *srv;

	if (!kit->metrics)
		return;
	srv = kit->metrics->srv;
	if (srv->file && srv->started)
		write_metrics_file(kit, srv);
	if (srv->mhd)
		MHD_stop_daemon(srv->mhd);
	if (srv->listen_fd >= 0)
		close(srv->listen_fd);
	if (srv->stats_fd >= 0)
		close(srv->stats_fd);
	free(srv->percpu);
	free(srv);
	kit_metrics_free(kit->metrics);
	kit->metrics = NULL;
}
