// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The metrics registry and its exposition (lib/metrics.h): families of
 * every type declared from the input (valid and invalid names, labels,
 * units, scales, bounds, small series caps), series with arbitrary label
 * values (invalid UTF-8, quotes, backslashes, newlines, overlong), values
 * and observations; then both formats are written and checked by a parser
 * of the Prometheus text format 0.0.4 / OpenMetrics 1.0 written here:
 * valid UTF-8, every line well formed, escapes in label values, numbers
 * that parse, one HELP and TYPE per family before its samples, histogram
 * buckets cumulative with increasing bounds and +Inf equal to _count,
 * "# EOF" last in OpenMetrics, and series caps respected.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "metrics.h"

struct in {
	const uint8_t *p, *end;
};

static uint64_t take(struct in *in, size_t n)
{
	uint64_t v = 0;

	if (n > (size_t)(in->end - in->p))
		n = in->end - in->p;
	memcpy(&v, in->p, n);
	in->p += n;
	return v;
}

/* A NUL-terminated string of up to cap - 1 input bytes. */
static char *take_str(struct in *in, char *buf, size_t cap)
{
	size_t n = take(in, 1) % cap;

	if (n > (size_t)(in->end - in->p))
		n = in->end - in->p;
	memcpy(buf, in->p, n);
	in->p += n;
	buf[n] = '\0';
	return buf;
}

static const char *const names[] = {
	"bpfkit_events_total", "bpfkit_latency_seconds", "bpfkit_x",
	"bpfkit_x_total", "x_bucket", "x_count", "x_sum", "1bad", "",
	"a:b_total", "bpfkit_bytes_total", "bpfkit_run_seconds_total",
};
static const char *const labels[] = {
	"tool", "comm", "le", "__x", "disk", "1x", "", "flags", "tool",
};
static const char *const units[] = { "seconds", "bytes", "bad unit", "" };

/* ---- the exposition parser ---------------------------------------------- */

struct family_seen {
	char name[256];
	char type[16];
	bool help, samples;
};

struct hist_state {
	char key[1024];	/* sample base name and labels without le */
	bool open;
	double last_le;
	uint64_t last_count;
};

struct expo {
	const char *s, *end;
	bool om;
	struct family_seen fams[64];
	int nfams;
	struct hist_state h;
};

static bool name_ok(const char *s, size_t n, bool colon)
{
	size_t i;

	if (!n)
		return false;
	for (i = 0; i < n; i++) {
		char c = s[i];
		bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     c == '_' || (colon && c == ':');

		if (!alpha && !(i && c >= '0' && c <= '9'))
			return false;
	}
	return true;
}

static bool value_ok(const char *s, size_t n, double *v)
{
	char buf[64];
	char *e;

	if (!n || n >= sizeof(buf))
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (!strcmp(buf, "NaN")) {
		*v = NAN;
		return true;
	}
	if (!strcmp(buf, "+Inf") || !strcmp(buf, "-Inf")) {
		*v = buf[0] == '+' ? INFINITY : -INFINITY;
		return true;
	}
	if (strchr(buf, 'n') || strchr(buf, 'N') || strchr(buf, 'x') ||
	    strchr(buf, 'X') || buf[0] == ' ')
		return false; /* "nan", "inf", hex: not ours to write */
	*v = strtod(buf, &e);
	return *e == '\0';
}

static struct family_seen *family(struct expo *x, const char *name,
				  size_t n)
{
	int i;

	for (i = 0; i < x->nfams; i++)
		if (strlen(x->fams[i].name) == n &&
		    !memcmp(x->fams[i].name, name, n))
			return &x->fams[i];
	return NULL;
}

/* The family a sample belongs to: the one whose name and type explain
 * the sample's name (a counter's family is "x" in OpenMetrics, "x_total"
 * in the text format). */
static struct family_seen *family_of_sample(struct expo *x, const char *s,
					    size_t n, const char **suffix)
{
	static const char *const sfx[] = { "_bucket", "_count", "_sum",
					   "_total", "" };
	struct family_seen *f;
	size_t i, k;

	for (i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		k = strlen(sfx[i]);
		if (n < k || memcmp(s + n - k, sfx[i], k))
			continue;
		f = family(x, s, n - k);
		if (!f)
			continue;
		if (!strcmp(f->type, "histogram") ? i < 3 :
		    !strcmp(f->type, "counter") ? i == (x->om ? 3u : 4u) :
						  i == 4) {
			*suffix = sfx[i];
			return f;
		}
	}
	return NULL;
}

static void check_comment(struct expo *x, const char *l, size_t n)
{
	const char *sp, *name;
	size_t nn;
	struct family_seen *f;

	if (n == 5 && !memcmp(l, "# EOF", 5)) {
		FUZZ_CHECK(x->om && x->s == x->end, "# EOF not last");
		return;
	}
	FUZZ_CHECK(n > 7 && (!memcmp(l, "# HELP ", 7) ||
			     !memcmp(l, "# TYPE ", 7) ||
			     (x->om && !memcmp(l, "# UNIT ", 7))),
		   "bad comment line %.*s", (int)n, l);
	name = l + 7;
	sp = memchr(name, ' ', n - 7);
	FUZZ_CHECK(sp, "no text after the name: %.*s", (int)n, l);
	nn = sp - name;
	FUZZ_CHECK(name_ok(name, nn, true) && nn < 256, "bad family name");
	f = family(x, name, nn);
	if (!f) {
		FUZZ_CHECK(x->nfams < 64, "too many families");
		f = &x->fams[x->nfams++];
		memcpy(f->name, name, nn);
	}
	FUZZ_CHECK(!f->samples, "metadata after samples: %.*s", (int)n, l);
	if (l[2] == 'H') {
		FUZZ_CHECK(!f->help, "second HELP for %s", f->name);
		f->help = true;
		/* Escapes: \\ and \n (and \" in OpenMetrics) only. */
		for (sp++; sp < l + n; sp++)
			if (*sp == '\\')
				FUZZ_CHECK(sp + 1 < l + n &&
						   strchr(x->om ? "\\n\"" : "\\n",
							  *++sp),
					   "bad escape in HELP");
	} else if (l[2] == 'T') {
		nn = l + n - sp - 1;
		FUZZ_CHECK(!f->type[0], "second TYPE for %s", f->name);
		FUZZ_CHECK(nn < sizeof(f->type), "bad type");
		memcpy(f->type, sp + 1, nn);
		FUZZ_CHECK(!strcmp(f->type, "counter") ||
				   !strcmp(f->type, "gauge") ||
				   !strcmp(f->type, "histogram"),
			   "type '%s'", f->type);
	}
}

static void check_sample(struct expo *x, const char *l, size_t n)
{
	const char *p = l, *end = l + n, *nm_end, *suffix = "";
	struct family_seen *f;
	char key[1024];
	size_t klen = 0;
	double le = NAN, v;
	bool has_le = false;

	while (p < end && *p != '{' && *p != ' ')
		p++;
	nm_end = p;
	FUZZ_CHECK(name_ok(l, nm_end - l, true), "bad sample name %.*s",
		   (int)n, l);
	f = family_of_sample(x, l, nm_end - l, &suffix);
	FUZZ_CHECK(f, "sample of no declared family: %.*s", (int)n, l);
	f->samples = true;
	if (nm_end - l < (long)sizeof(key)) {
		memcpy(key, l, nm_end - l - strlen(suffix));
		klen = nm_end - l - strlen(suffix);
	}
	if (p < end && *p == '{') {
		p++;
		while (p < end && *p != '}') {
			const char *ln = p, *vs;

			while (p < end && *p != '=')
				p++;
			FUZZ_CHECK(p < end && name_ok(ln, p - ln, false),
				   "bad label name in %.*s", (int)n, l);
			FUZZ_CHECK(p + 1 < end && p[1] == '"', "unquoted");
			p += 2;
			vs = p;
			while (p < end && *p != '"') {
				FUZZ_CHECK(*p != '\n', "raw newline");
				if (*p == '\\') {
					FUZZ_CHECK(p + 1 < end &&
							   strchr("\\\"n", p[1]),
						   "bad escape in label");
					p++;
				}
				p++;
			}
			FUZZ_CHECK(p < end, "unterminated label value");
			if (p - ln > 3 && !memcmp(ln, "le=", 3) &&
			    !strcmp(f->type, "histogram")) {
				has_le = value_ok(vs, p - vs, &le);
				FUZZ_CHECK(has_le, "bad le '%.*s'",
					   (int)(p - vs), vs);
			} else if (klen + (p - ln) + 2 < sizeof(key)) {
				memcpy(key + klen, ln, p - ln + 1);
				klen += p - ln + 1;
			}
			p++;
			if (p < end && *p == ',')
				p++;
		}
		FUZZ_CHECK(p < end, "unterminated labels");
		p++;
	}
	FUZZ_CHECK(p < end && *p == ' ', "no value: %.*s", (int)n, l);
	p++;
	FUZZ_CHECK(value_ok(p, end - p, &v), "bad value '%.*s'",
		   (int)(end - p), p);
	if (strcmp(f->type, "counter") == 0)
		FUZZ_CHECK(v >= 0, "negative counter");
	if (strcmp(f->type, "histogram"))
		return;
	key[klen] = '\0';
	if (!strcmp(suffix, "_bucket")) {
		FUZZ_CHECK(has_le, "bucket without le");
		if (!x->h.open || strcmp(x->h.key, key)) {
			FUZZ_CHECK(!x->h.open, "buckets of %s not ended by +Inf",
				   x->h.key);
			snprintf(x->h.key, sizeof(x->h.key), "%s", key);
			x->h.open = true;
			x->h.last_le = -INFINITY;
			x->h.last_count = 0;
		}
		/* Strictly increasing as integers; as float64 two bounds
		 * can meet when they are close to 2^53 / 10^scale. */
		FUZZ_CHECK(le >= x->h.last_le, "le decreasing");
		FUZZ_CHECK(v >= x->h.last_count, "buckets not cumulative");
		x->h.last_le = le;
		x->h.last_count = v;
		if (isinf(le))
			x->h.open = false;
		return;
	}
	FUZZ_CHECK(!x->h.open, "buckets of %s not ended by +Inf", x->h.key);
	if (!strcmp(suffix, "_count"))
		FUZZ_CHECK(!strcmp(x->h.key, key) && v == x->h.last_count,
			   "_count %g differs from the +Inf bucket %llu", v,
			   (unsigned long long)x->h.last_count);
}

static void check_exposition(const char *s, size_t len, bool om)
{
	struct expo *x = calloc(1, sizeof(*x));
	const char *nl;

	if (!len) {
		FUZZ_CHECK(!om, "OpenMetrics without # EOF");
		free(x);
		return;
	}
	FUZZ_CHECK(oracle_valid_utf8(s, len), "exposition not UTF-8");
	FUZZ_CHECK(!len || s[len - 1] == '\n', "no final newline");
	if (om)
		FUZZ_CHECK(len >= 6 && !memcmp(s + len - 6, "# EOF\n", 6),
			   "no # EOF");
	x->s = s;
	x->end = s + len;
	x->om = om;
	while (x->s < x->end) {
		const char *l = x->s;

		nl = memchr(l, '\n', x->end - l);
		x->s = nl + 1;
		FUZZ_CHECK(nl > l, "empty line");
		if (*l == '#')
			check_comment(x, l, nl - l);
		else
			check_sample(x, l, nl - l);
	}
	FUZZ_CHECK(!x->h.open, "histogram not ended by +Inf");
	free(x);
}

/* ---- driving the registry ----------------------------------------------- */

/*
 * Known issue (docs/hardening.md): a counter "x_total" and a gauge or
 * histogram "x" are both accepted, and in OpenMetrics both are family "x"
 * (two TYPE lines). Until kit_metrics_family refuses that, do not declare
 * such pairs; FUZZ_STRICT=1 in the environment declares them anyway.
 */
static bool om_name_taken(struct kit_metrics *m,
			  const struct kit_metric_desc *d)
{
	struct strbuf om = {}, text = {};
	char type[100], help[100];
	size_t n = strlen(d->name);
	bool taken;

	if (d->type == KIT_COUNTER && n > 6 &&
	    !strcmp(d->name + n - 6, "_total"))
		n -= 6;
	snprintf(type, sizeof(type), "# TYPE %.*s ", (int)n, d->name);
	snprintf(help, sizeof(help), "# HELP %s ", d->name);
	kit_metrics_write(m, &om, KIT_EXPO_OPENMETRICS);
	kit_metrics_write(m, &text, KIT_EXPO_TEXT);
	/* Taken by another family, not by this very name (declaring the
	 * same name again is kit_metrics_family's own case). */
	taken = strstr(sb_str(&om), type) && !strstr(sb_str(&text), help);
	sb_free(&om);
	sb_free(&text);
	return taken;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = { data, data + size };
	struct kit_metrics *m = kit_metrics_new();
	struct kit_family *fams[8];
	size_t caps[8];
	enum kit_metric_type types[8];
	int nf = 0, i, ops = 0;
	char vals[KIT_METRICS_MAX_LABELS][300], namebuf[64], unitbuf[16];
	char helpbuf[64];
	struct strbuf sb = {};

	while (in.p < in.end && nf < 8 && (take(&in, 1) & 3)) {
		struct kit_metric_desc d = {};
		uint64_t bounds[8];
		uint8_t sel = take(&in, 1);
		int nl = take(&in, 1) % 4;

		d.type = sel % 4; /* 3: invalid */
		d.name = sel & 0x80 ? take_str(&in, namebuf, sizeof(namebuf)) :
				      names[(sel >> 2) % 12];
		/* HELP is the tool's own text (trusted): printable ASCII
		 * with the characters that need escaping. */
		d.help = take_str(&in, helpbuf, sizeof(helpbuf));
		for (i = 0; helpbuf[i]; i++)
			helpbuf[i] = "\\\n\"ab "[(unsigned char)helpbuf[i] % 6];
		if (sel & 0x40)
			d.unit = sel & 0x20 ?
					 take_str(&in, unitbuf, sizeof(unitbuf)) :
					 units[take(&in, 1) % 4];
		for (i = 0; i < nl; i++)
			d.labels[i] = labels[take(&in, 1) % 9];
		d.scale = take(&in, 1) % 20;
		d.nbounds = take(&in, 1) % 9;
		/* Bounds up to 2^53: above, distinct integers can print as
		 * the same float64 "le" (a Prometheus reader sees one). */
		for (i = 0; i < (int)d.nbounds; i++)
			bounds[i] = (take(&in, 1) & 1 ?
					     (uint64_t)(i + 1)
						     << (take(&in, 1) % 50) :
					     take(&in, 8)) &
				    ((1ULL << 53) - 1);
		d.bounds = bounds;
		d.max_series = take(&in, 1) % 6;
		d.snapshot = sel & 0x10;
		if (!getenv("FUZZ_STRICT") && om_name_taken(m, &d))
			continue;
		fams[nf] = kit_metrics_family(m, &d);
		if (!fams[nf])
			continue;
		types[nf] = d.type;
		caps[nf] = d.max_series ? d.max_series : KIT_METRICS_MAX_SERIES;
		/* Declared again: the first declaration's cap holds. */
		for (i = 0; i < nf; i++)
			if (fams[i] == fams[nf])
				caps[nf] = caps[i];
		nf++;
	}
	while (nf && in.p < in.end && ops++ < 2000) {
		int k = take(&in, 1) % nf;
		uint8_t op = take(&in, 1);
		const char *v[KIT_METRICS_MAX_LABELS];
		struct kit_series *s;
		uint64_t counts[10], x = take(&in, 8);
		double g;

		for (i = 0; i < KIT_METRICS_MAX_LABELS; i++)
			v[i] = take_str(&in, vals[i], sizeof(vals[i]));
		s = kit_series(fams[k], op & 0x80 ? NULL : v);
		FUZZ_CHECK(s, "no series");
		FUZZ_CHECK(kit_family_nseries(fams[k]) <= caps[k] + 1,
			   "%zu series past the cap %zu",
			   kit_family_nseries(fams[k]), caps[k]);
		/* Each type's own operations (kit_hist_* on a counter is
		 * a caller's bug the API does not check). */
		switch (op % 6) {
		case 0:
		case 1:
			op = types[k] == KIT_COUNTER ? op % 2 :
			     types[k] == KIT_GAUGE ? 2 : 3;
			break;
		case 2:
		case 3:
		case 4:
			op = types[k] == KIT_HISTOGRAM ? 3 + op % 2 :
			     types[k] == KIT_GAUGE ? 2 : 1;
			break;
		}
		switch (op % 6) {
		case 0:
			kit_counter_add(s, x >> 24); /* no wrap-around */
			break;
		case 1:
			kit_counter_set(s, x);
			break;
		case 2:
			memcpy(&g, &x, sizeof(g));
			kit_gauge_set(s, g);
			break;
		case 3:
			kit_hist_observe(s, x);
			break;
		case 4:
			for (i = 0; i < 10; i++)
				counts[i] = take(&in, 4);
			kit_hist_add(s, counts, take(&in, 1) % 11, x >> 8);
			break;
		default:
			kit_metrics_reset_snapshots(m);
			break;
		}
	}
	kit_metrics_write(m, &sb, KIT_EXPO_TEXT);
	if (getenv("FUZZ_DUMP"))
		fwrite(sb.buf, 1, sb.len, stderr);
	check_exposition(sb.buf, sb.len, false);
	sb_reset(&sb);
	kit_metrics_write(m, &sb, KIT_EXPO_OPENMETRICS);
	check_exposition(sb.buf, sb.len, true);
	sb_free(&sb);
	kit_metrics_free(m);
	return 0;
}
