/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Oracles shared by the fuzz targets, written independently of the code
 * under test: a UTF-8 validator, a strict JSON (RFC 8259) validator that
 * can also decode one string, and FUZZ_CHECK, which aborts (a crash that
 * libFuzzer saves as an artifact) with the reason.
 */
#ifndef FUZZ_CHECK_H
#define FUZZ_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(cond, ...)                                               \
	do {                                                                \
		if (!(cond)) {                                              \
			fprintf(stderr, "%s:%d: check failed: %s: ",        \
				__FILE__, __LINE__, #cond);                 \
			fprintf(stderr, __VA_ARGS__);                       \
			fputc('\n', stderr);                                \
			abort();                                            \
		}                                                           \
	} while (0)

/*
 * One UTF-8 sequence at s: its length and code point, or 0 when it is not
 * valid (overlong, surrogate, above U+10FFFF, truncated, stray byte).
 * Table-free on purpose: a different construction from lib/escape.c.
 */
static inline size_t oracle_utf8(const unsigned char *s, size_t len,
				 uint32_t *cp)
{
	size_t n, i;
	uint32_t c;

	if (len == 0)
		return 0;
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0)
		n = 2, c = s[0] & 0x1f;
	else if ((s[0] & 0xf0) == 0xe0)
		n = 3, c = s[0] & 0x0f;
	else if ((s[0] & 0xf8) == 0xf0)
		n = 4, c = s[0] & 0x07;
	else
		return 0;
	if (len < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if ((n == 2 && c < 0x80) || (n == 3 && c < 0x800) ||
	    (n == 4 && c < 0x10000) || c > 0x10ffff ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

static inline bool oracle_valid_utf8(const char *p, size_t len)
{
	const unsigned char *s = (const unsigned char *)p;
	size_t i = 0, n;
	uint32_t cp;

	while (i < len) {
		n = oracle_utf8(s + i, len - i, &cp);
		if (!n)
			return false;
		i += n;
	}
	return true;
}

/* Code points a terminal acts on even though they are valid UTF-8. */
static inline bool oracle_dangerous(uint32_t cp)
{
	return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) ||
	       cp == 0x200e || cp == 0x200f ||
	       (cp >= 0x2028 && cp <= 0x202e) ||
	       (cp >= 0x2066 && cp <= 0x2069) || cp == 0xfeff;
}

static inline size_t oracle_put_utf8(uint32_t cp, unsigned char *out)
{
	if (cp < 0x80) {
		out[0] = cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = 0xc0 | cp >> 6;
		out[1] = 0x80 | (cp & 0x3f);
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = 0xe0 | cp >> 12;
		out[1] = 0x80 | (cp >> 6 & 0x3f);
		out[2] = 0x80 | (cp & 0x3f);
		return 3;
	}
	out[0] = 0xf0 | cp >> 18;
	out[1] = 0x80 | (cp >> 12 & 0x3f);
	out[2] = 0x80 | (cp >> 6 & 0x3f);
	out[3] = 0x80 | (cp & 0x3f);
	return 4;
}

/* ---- strict JSON --------------------------------------------------------- */

struct jv {
	const char *s, *end;
	int depth;
	/* Where the last string decoded to (if dec is set), and its size. */
	unsigned char *dec;
	size_t dec_len, dec_cap;
};

static inline void jv_ws(struct jv *v)
{
	while (v->s < v->end && (*v->s == ' ' || *v->s == '\t' ||
				 *v->s == '\n' || *v->s == '\r'))
		v->s++;
}

static inline int jv_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static inline void jv_emit(struct jv *v, const unsigned char *b, size_t n)
{
	if (!v->dec)
		return;
	if (v->dec_len + n <= v->dec_cap)
		memcpy(v->dec + v->dec_len, b, n);
	v->dec_len += n;
}

/* A string; lone surrogates are refused (valid JSON, invalid Unicode,
 * and never what a correct escaper writes). */
static inline bool jv_string(struct jv *v)
{
	v->dec_len = 0;
	if (v->s >= v->end || *v->s != '"')
		return false;
	v->s++;
	while (v->s < v->end) {
		unsigned char c = *v->s;
		unsigned char buf[4];
		uint32_t cp;
		size_t n;
		int i, h;

		if (c == '"') {
			v->s++;
			return true;
		}
		if (c < 0x20)
			return false;
		if (c != '\\') {
			n = oracle_utf8((const unsigned char *)v->s,
					v->end - v->s, &cp);
			if (!n)
				return false;
			jv_emit(v, (const unsigned char *)v->s, n);
			v->s += n;
			continue;
		}
		if (++v->s >= v->end)
			return false;
		switch (*v->s++) {
		case '"': buf[0] = '"'; break;
		case '\\': buf[0] = '\\'; break;
		case '/': buf[0] = '/'; break;
		case 'b': buf[0] = '\b'; break;
		case 'f': buf[0] = '\f'; break;
		case 'n': buf[0] = '\n'; break;
		case 'r': buf[0] = '\r'; break;
		case 't': buf[0] = '\t'; break;
		case 'u':
			if (v->end - v->s < 4)
				return false;
			for (cp = 0, i = 0; i < 4; i++) {
				h = jv_hex(v->s[i]);
				if (h < 0)
					return false;
				cp = cp << 4 | h;
			}
			v->s += 4;
			if (cp >= 0xd800 && cp <= 0xdbff) {
				uint32_t lo = 0;

				if (v->end - v->s < 6 || v->s[0] != '\\' ||
				    v->s[1] != 'u')
					return false;
				for (i = 2; i < 6; i++) {
					h = jv_hex(v->s[i]);
					if (h < 0)
						return false;
					lo = lo << 4 | h;
				}
				if (lo < 0xdc00 || lo > 0xdfff)
					return false;
				v->s += 6;
				cp = 0x10000 + ((cp - 0xd800) << 10) +
				     (lo - 0xdc00);
			} else if (cp >= 0xdc00 && cp <= 0xdfff) {
				return false;
			}
			jv_emit(v, buf, oracle_put_utf8(cp, buf));
			continue;
		default:
			return false;
		}
		jv_emit(v, buf, 1);
	}
	return false;
}

static inline bool jv_digits(struct jv *v)
{
	const char *start = v->s;

	while (v->s < v->end && *v->s >= '0' && *v->s <= '9')
		v->s++;
	return v->s > start;
}

static inline bool jv_number(struct jv *v)
{
	if (v->s < v->end && *v->s == '-')
		v->s++;
	if (v->s < v->end && *v->s == '0')
		v->s++;
	else if (v->s >= v->end || *v->s < '1' || *v->s > '9' ||
		 !jv_digits(v))
		return false;
	if (v->s < v->end && *v->s == '.') {
		v->s++;
		if (!jv_digits(v))
			return false;
	}
	if (v->s < v->end && (*v->s == 'e' || *v->s == 'E')) {
		v->s++;
		if (v->s < v->end && (*v->s == '+' || *v->s == '-'))
			v->s++;
		if (!jv_digits(v))
			return false;
	}
	return true;
}

static inline bool jv_lit(struct jv *v, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t)(v->end - v->s) < n || memcmp(v->s, lit, n))
		return false;
	v->s += n;
	return true;
}

static inline bool jv_value(struct jv *v);

static inline bool jv_container(struct jv *v, char open, char close)
{
	bool first = true;

	if (++v->depth > 256)
		return false;
	v->s++; /* open */
	(void)open;
	for (;;) {
		jv_ws(v);
		if (v->s < v->end && *v->s == close && first) {
			v->s++;
			break;
		}
		if (close == '}') {
			if (!jv_string(v))
				return false;
			jv_ws(v);
			if (v->s >= v->end || *v->s++ != ':')
				return false;
		}
		if (!jv_value(v))
			return false;
		jv_ws(v);
		if (v->s >= v->end)
			return false;
		if (*v->s == ',') {
			v->s++;
			first = false;
			jv_ws(v);
			if (v->s < v->end && *v->s == close)
				return false; /* trailing comma */
			continue;
		}
		if (*v->s++ != close)
			return false;
		break;
	}
	v->depth--;
	return true;
}

static inline bool jv_value(struct jv *v)
{
	jv_ws(v);
	if (v->s >= v->end)
		return false;
	switch (*v->s) {
	case '{':
		return jv_container(v, '{', '}');
	case '[':
		return jv_container(v, '[', ']');
	case '"':
		return jv_string(v);
	case 't':
		return jv_lit(v, "true");
	case 'f':
		return jv_lit(v, "false");
	case 'n':
		return jv_lit(v, "null");
	default:
		return jv_number(v);
	}
}

/* Is [s, s+len) exactly one JSON value (surrounding space allowed)? */
static inline bool oracle_json(const char *s, size_t len)
{
	struct jv v = { .s = s, .end = s + len };

	if (!oracle_valid_utf8(s, len) || !jv_value(&v))
		return false;
	jv_ws(&v);
	return v.s == v.end;
}

/* Decode one JSON string literal (with its quotes) into out (cap bytes);
 * returns the decoded length, or -1 if it is not exactly one string. */
static inline long oracle_json_string(const char *s, size_t len,
				      unsigned char *out, size_t cap)
{
	struct jv v = { .s = s, .end = s + len, .dec = out, .dec_cap = cap };

	if (!jv_string(&v) || v.s != v.end || v.dec_len > cap)
		return -1;
	return (long)v.dec_len;
}

#endif /* FUZZ_CHECK_H */
