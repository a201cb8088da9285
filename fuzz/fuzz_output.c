// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The output model (lib/output.h) the tools print every event through:
 * rows of typed columns, in text and in NDJSON, with untrusted strings,
 * truncation marks, errno values, times and doubles from the input, and
 * columns shown or hidden. Checked per row: JSON is exactly one line that
 * is one strict JSON object; text is exactly one line of valid UTF-8 with
 * no control byte.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "output.h"

enum { C_U64, C_S64, C_DBL, C_STR, C_TRUNC, C_CSTR, C_DEC, C_ERRNO,
       C_TIME, C_CLOCK, NCOLS };

static const struct kit_col cols[NCOLS] = {
	[C_U64] = { "u", "U", 6 },
	[C_S64] = { "s", "S", 7, KIT_COL_LEFT },
	[C_DBL] = { "d", "D", 8, KIT_COL_HIDDEN },
	[C_STR] = { "comm", "COMM", 16, KIT_COL_LEFT },
	[C_TRUNC] = { "path", "PATH", 0, KIT_COL_LEFT },
	[C_CSTR] = { "kind", "KIND", 4, KIT_COL_TEXT_ONLY },
	[C_DEC] = { "flags", "FLAGS", 8 },
	[C_ERRNO] = { "err", "ERR", 3 },
	[C_TIME] = { "time", "TIME(s)", 12, KIT_COL_HIDDEN | KIT_COL_LEFT },
	[C_CLOCK] = { "clock", "CLOCK", 8, KIT_COL_JSON_ONLY },
};

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

static size_t take_str(struct in *in, char *buf, size_t cap)
{
	size_t n = take(in, 2) % cap;

	if (n > (size_t)(in->end - in->p))
		n = in->end - in->p;
	memcpy(buf, in->p, n);
	in->p += n;
	return n;
}

static void check_line(enum kit_format fmt, const char *s, size_t len)
{
	size_t i;

	FUZZ_CHECK(len > 0 && s[len - 1] == '\n', "row not ended by newline");
	FUZZ_CHECK(!memchr(s, '\n', len - 1), "newline inside a row");
	if (fmt == KIT_FMT_JSON) {
		FUZZ_CHECK(s[0] == '{' && oracle_json(s, len - 1),
			   "invalid JSON row: %.*s", (int)len, s);
		return;
	}
	FUZZ_CHECK(oracle_valid_utf8(s, len), "invalid UTF-8 in text row");
	for (i = 0; i + 1 < len; i++)
		FUZZ_CHECK((unsigned char)s[i] >= 0x20 && s[i] != 0x7f,
			   "control byte 0x%02x in text row",
			   (unsigned char)s[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = { data, data + size };
	enum kit_format fmt = take(&in, 1) & 1 ? KIT_FMT_JSON : KIT_FMT_TEXT;
	struct kit_out o;
	char *mem = NULL;
	size_t memlen = 0, done = 0;
	uint64_t show = take(&in, 2);
	FILE *f = open_memstream(&mem, &memlen);
	char a[300], b[300];
	int c, rows = 0;

	if (!f)
		return 0;
	kit_out_init(&o, f, fmt, cols, NCOLS);
	for (c = 0; c < NCOLS; c++)
		if (show & (1u << (c + 1)))
			kit_out_show(&o, c, show & 1);
	kit_out_header(&o);
	fflush(f);
	if (memlen)
		check_line(fmt, mem, memlen);
	done = memlen;
	while (in.p < in.end && rows++ < 64) {
		size_t na = take_str(&in, a, sizeof(a));
		size_t nb = take_str(&in, b, sizeof(b));
		uint64_t v = take(&in, 8), bits = take(&in, 8);
		/* Kernel times: nanoseconds since boot, far below 2^62. */
		uint64_t kt = take(&in, 8) & ((1ULL << 62) - 1);
		double d;

		memcpy(&d, &bits, sizeof(d));
		kit_row_begin(&o);
		kit_col_u64(&o, C_U64, v);
		kit_col_s64(&o, C_S64, (int64_t)v);
		kit_col_double(&o, C_DBL, d, v % 12);
		kit_col_str(&o, C_STR, a, na);
		kit_col_str_trunc(&o, C_TRUNC, b, nb, v & 1);
		kit_col_cstr(&o, C_CSTR, v & 2 ? "open" : NULL);
		kit_col_decoded(&o, C_DEC, v, "O_RDONLY|O_CLOEXEC");
		kit_col_errno(&o, C_ERRNO, (int)(v >> 32));
		kit_col_time(&o, C_TIME, kt, KIT_TIME_ELAPSED);
		kit_col_time(&o, C_CLOCK, kt, KIT_TIME_CLOCK);
		FUZZ_CHECK(kit_row_end(&o) == 0, "row_end failed");
		FUZZ_CHECK(kit_out_flush(&o) == 0, "flush failed");
		check_line(fmt, mem + done, memlen - done);
		done = memlen;
	}
	kit_out_free(&o);
	fclose(f);
	free(mem);
	return 0;
}
