// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * kit_escape_text and kit_escape_json on arbitrary bytes (a file name or a
 * comm is whatever a process chose). Checked:
 *  text: no control byte, valid UTF-8, no code point a terminal acts on,
 *        and it unescapes back to exactly the input; clean UTF-8 passes
 *        through unchanged;
 *  JSON: a valid JSON string (strict parser), no raw C1 or bidi control,
 *        that decodes to the input with each invalid byte as U+FFFD.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "escape.h"

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static void check_text(const uint8_t *in, size_t len)
{
	struct strbuf sb = {};
	unsigned char *back = malloc(len + 1);
	size_t i = 0, n = 0, k;
	bool clean = oracle_valid_utf8((const char *)in, len);
	const unsigned char *o;
	uint32_t cp;

	kit_escape_text(&sb, (const char *)in, len);
	o = (const unsigned char *)sb.buf;
	FUZZ_CHECK(oracle_valid_utf8(sb.buf, sb.len), "invalid UTF-8 out");
	while (i < sb.len) {
		k = oracle_utf8(o + i, sb.len - i, &cp);
		FUZZ_CHECK(!oracle_dangerous(cp), "U+%04X at %zu passed raw",
			   cp, i);
		if (o[i] != '\\') {
			FUZZ_CHECK(n + k <= len, "output longer than input");
			memcpy(back + n, o + i, k);
			n += k;
			i += k;
			continue;
		}
		FUZZ_CHECK(i + 1 < sb.len, "lone backslash at the end");
		FUZZ_CHECK(n < len, "output longer than input");
		switch (o[i + 1]) {
		case '\\': back[n++] = '\\'; i += 2; break;
		case 'n': back[n++] = '\n'; i += 2; break;
		case 't': back[n++] = '\t'; i += 2; break;
		case 'r': back[n++] = '\r'; i += 2; break;
		case 'x':
			FUZZ_CHECK(i + 3 < sb.len && hexval(o[i + 2]) >= 0 &&
					   hexval(o[i + 3]) >= 0,
				   "bad \\x escape at %zu", i);
			back[n++] = hexval(o[i + 2]) << 4 | hexval(o[i + 3]);
			i += 4;
			break;
		default:
			FUZZ_CHECK(0, "unknown escape \\%c", o[i + 1]);
		}
	}
	FUZZ_CHECK(n == len && !memcmp(back, in, len),
		   "does not unescape to the input");
	/* Nothing to escape: the output is the input. */
	for (i = 0; clean && i < len; i += k) {
		k = oracle_utf8(in + i, len - i, &cp);
		clean = !oracle_dangerous(cp) && cp != '\\';
	}
	if (clean)
		FUZZ_CHECK(sb.len == len && (!len || !memcmp(sb.buf, in, len)),
			   "clean input was changed");
	free(back);
	sb_free(&sb);
}

static void check_json(const uint8_t *in, size_t len)
{
	struct strbuf sb = {};
	unsigned char *want = malloc(3 * len + 1), *got;
	size_t i = 0, n = 0, k;
	long dec;
	uint32_t cp;

	/* The oracle's idea of the result: invalid bytes become U+FFFD. */
	while (i < len) {
		k = oracle_utf8(in + i, len - i, &cp);
		if (k) {
			memcpy(want + n, in + i, k);
			n += k;
			i += k;
		} else {
			memcpy(want + n, "\xef\xbf\xbd", 3);
			n += 3;
			i++;
		}
	}
	sb_putc(&sb, '"');
	kit_escape_json(&sb, (const char *)in, len);
	sb_putc(&sb, '"');
	got = malloc(3 * len + 1);
	dec = oracle_json_string(sb.buf, sb.len, got, 3 * len + 1);
	FUZZ_CHECK(dec >= 0, "not a valid JSON string: %.*s", (int)sb.len,
		   sb.buf);
	FUZZ_CHECK((size_t)dec == n && !memcmp(got, want, n),
		   "decodes to something else (%ld bytes, want %zu)", dec, n);
	for (i = 0; i < sb.len; i += k) {
		k = oracle_utf8((const unsigned char *)sb.buf + i, sb.len - i,
				&cp);
		FUZZ_CHECK(k && !oracle_dangerous(cp), "raw U+%04X in JSON",
			   cp);
	}
	free(got);
	free(want);
	sb_free(&sb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_text(data, size);
	check_json(data, size);
	return 0;
}
