// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Unit tests of the common library's pure code. */
#include <stdint.h>
#include <stdlib.h>

#include "escape.h"
#include "json.h"
#include "output.h"
#include "parse.h"
#include "unit.h"

static void test_parse_u64(void)
{
	const char *why;
	uint64_t v;

	CHECK(kit_parse_u64("0", 0, 10, &v, &why) == 0 && v == 0);
	CHECK(kit_parse_u64("4194304", 1, 4194304, &v, &why) == 0 &&
	      v == 4194304);
	CHECK(kit_parse_u64("18446744073709551615", 0, UINT64_MAX, &v,
			    &why) == 0 && v == UINT64_MAX);
	CHECK(kit_parse_u64("18446744073709551616", 0, UINT64_MAX, &v,
			    &why) == -1);
	CHECK_STR(why, "number too large");
	CHECK(kit_parse_u64("-1", 0, 10, &v, &why) == -1);
	CHECK_STR(why, "negative numbers are not allowed");
	CHECK(kit_parse_u64("12x", 0, 100, &v, &why) == -1);
	CHECK_STR(why, "not a number");
	CHECK(kit_parse_u64(" 1", 0, 100, &v, &why) == -1);
	CHECK(kit_parse_u64("1 ", 0, 100, &v, &why) == -1);
	CHECK(kit_parse_u64("+1", 0, 100, &v, &why) == -1);
	CHECK(kit_parse_u64("0x10", 0, 100, &v, &why) == -1);
	CHECK(kit_parse_u64("", 0, 100, &v, &why) == -1);
	CHECK_STR(why, "empty value");
	CHECK(kit_parse_u64("11", 0, 10, &v, &why) == -1);
	CHECK_STR(why, "out of range 0..10");
	CHECK(kit_parse_u64("0", 1, 10, &v, &why) == -1);
}

static void test_parse_seconds(void)
{
	const char *why;
	uint64_t ns;

	CHECK(kit_parse_seconds("1", &ns, &why) == 0 && ns == 1000000000ULL);
	CHECK(kit_parse_seconds("1.5", &ns, &why) == 0 && ns == 1500000000ULL);
	CHECK(kit_parse_seconds("0.001", &ns, &why) == 0 && ns == 1000000);
	CHECK(kit_parse_seconds("0.0000000015", &ns, &why) == 0 && ns == 1);
	CHECK(kit_parse_seconds("0", &ns, &why) == -1);
	CHECK_STR(why, "must be greater than zero");
	CHECK(kit_parse_seconds("0.0", &ns, &why) == -1);
	CHECK(kit_parse_seconds("1.", &ns, &why) == -1);
	CHECK(kit_parse_seconds(".5", &ns, &why) == -1);
	CHECK(kit_parse_seconds("1.5s", &ns, &why) == -1);
	CHECK(kit_parse_seconds("-1", &ns, &why) == -1);
	CHECK(kit_parse_seconds("1e3", &ns, &why) == -1);
	CHECK(kit_parse_seconds("99999999999999999999", &ns, &why) == -1);
	CHECK(kit_parse_seconds("315360001", &ns, &why) == -1);
}

static void test_parse_list(void)
{
	const char *why;
	uint64_t v[4];
	size_t n = 0;

	CHECK(kit_parse_u64_list("1,2,3", 1, 10, v, 4, &n, &why) == 0 &&
	      n == 3 && v[0] == 1 && v[2] == 3);
	n = 0;
	CHECK(kit_parse_u64_list("1,,2", 1, 10, v, 4, &n, &why) == -1);
	CHECK_STR(why, "empty item in list");
	n = 0;
	CHECK(kit_parse_u64_list("1,", 1, 10, v, 4, &n, &why) == -1);
	n = 0;
	CHECK(kit_parse_u64_list("1,2,3,4,5", 1, 10, v, 4, &n, &why) == -1);
	CHECK_STR(why, "too many items in list");
	n = 0;
	CHECK(kit_parse_u64_list("1,x", 1, 10, v, 4, &n, &why) == -1);
	n = 0;
	CHECK(kit_parse_u64_list("", 1, 10, v, 4, &n, &why) == -1);
}

static const char *esc_text(const char *s, size_t len)
{
	static struct strbuf sb;

	sb_reset(&sb);
	kit_escape_text(&sb, s, len);
	return sb_str(&sb);
}

static const char *esc_json(const char *s, size_t len)
{
	static struct strbuf sb;

	sb_reset(&sb);
	kit_escape_json(&sb, s, len);
	return sb_str(&sb);
}

#define T(s) esc_text(s, sizeof(s) - 1)
#define J(s) esc_json(s, sizeof(s) - 1)

static void test_escape(void)
{
	CHECK_STR(T("plain/path.txt"), "plain/path.txt");
	CHECK_STR(T("a\nb\tc\rd"), "a\\nb\\tc\\rd");
	CHECK_STR(T("back\\slash"), "back\\\\slash");
	CHECK_STR(T("\x1b[31mred"), "\\x1b[31mred");
	CHECK_STR(T("del\x7f"), "del\\x7f");
	CHECK_STR(T("bad\xff"), "bad\\xff");
	CHECK_STR(T("caf\xc3\xa9"), "caf\xc3\xa9");		/* é passes */
	CHECK_STR(T("\xe2\x82\xac"), "\xe2\x82\xac");		/* euro */
	CHECK_STR(T("\xf0\x9f\x98\x80"), "\xf0\x9f\x98\x80");	/* emoji */
	CHECK_STR(T("\xc2\x9b"), "\\xc2\\x9b");		/* C1 CSI */
	CHECK_STR(T("\xe2\x80\xae"), "\\xe2\\x80\\xae");	/* RLO */
	CHECK_STR(T("\xc0\xaf"), "\\xc0\\xaf");		/* overlong */
	CHECK_STR(T("\xed\xa0\x80"), "\\xed\\xa0\\x80");	/* surrogate */
	CHECK_STR(T("\xe2\x82"), "\\xe2\\x82");		/* cut short */
	CHECK_STR(T("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80"); /* >10FFFF */
	CHECK_STR(esc_text("nul\0after", 9), "nul\\x00after");

	CHECK_STR(J("plain"), "plain");
	CHECK_STR(J("q\"b\\"), "q\\\"b\\\\");
	CHECK_STR(J("a\nb\x01"), "a\\nb\\u0001");
	CHECK_STR(J("\x1b[0m"), "\\u001b[0m");
	CHECK_STR(J("bad\xff!"), "bad\\ufffd!");
	CHECK_STR(J("caf\xc3\xa9"), "caf\xc3\xa9");
	CHECK_STR(J("\xc2\x9b"), "\\u009b");
	CHECK_STR(J("\xe2\x80\xae"), "\\u202e");
	CHECK_STR(J("\x7f"), "\\u007f");
}

static void test_json_writer(void)
{
	struct strbuf sb = {};
	struct jw w;

	jw_init(&w, &sb);
	jw_obj_begin(&w);
	jw_kv_u64(&w, "a", 1);
	jw_kv_s64(&w, "b", -2);
	jw_kv_str(&w, "c", "x\"y");
	jw_key(&w, "d");
	jw_arr_begin(&w);
	jw_u64(&w, 1);
	jw_obj_begin(&w);
	jw_kv_bool(&w, "t", true);
	jw_obj_end(&w);
	jw_null(&w);
	jw_arr_end(&w);
	jw_kv_double(&w, "e", 0.5);
	jw_kv_double(&w, "f", 1.0 / 0.0);
	jw_key(&w, "g");
	jw_str(&w, NULL);
	jw_obj_end(&w);
	CHECK_STR(sb_str(&sb), "{\"a\":1,\"b\":-2,\"c\":\"x\\\"y\",\"d\":[1,"
			       "{\"t\":true},null],\"e\":0.5,\"f\":null,"
			       "\"g\":null}");
	sb_free(&sb);
}

enum { C_PID, C_COMM, C_ERR, C_HID, C_PATH, NC };

static const struct kit_col cols[NC] = {
	[C_PID] = { "pid", "PID", 6 },
	[C_COMM] = { "comm", "COMM", 8, KIT_COL_LEFT },
	[C_ERR] = { "err", "ERR", 3 },
	[C_HID] = { "hid", "HID", 3, KIT_COL_HIDDEN },
	[C_PATH] = { "path", "PATH", 0, KIT_COL_LEFT },
};

static const char *render(enum kit_format fmt, bool show_hidden)
{
	static char buf[1024];
	FILE *f = fmemopen(buf, sizeof(buf), "w");
	struct kit_out o;

	kit_out_init(&o, f, fmt, cols, NC);
	kit_out_show(&o, C_HID, show_hidden);
	kit_out_header(&o);
	kit_row_begin(&o);
	kit_col_u64(&o, C_PID, 42);
	kit_col_str(&o, C_COMM, "ab\ncd", 16);
	kit_col_errno(&o, C_ERR, 2);
	kit_col_s64(&o, C_HID, -1);
	kit_col_str_trunc(&o, C_PATH, "/long", 5, true);
	kit_row_end(&o);
	kit_out_flush(&o);
	fclose(f);
	kit_out_free(&o);
	return buf;
}

static void test_output(void)
{
	CHECK_STR(render(KIT_FMT_TEXT, false),
		  "   PID COMM     ERR PATH\n"
		  "    42 ab\\ncd     2 /long...\n");
	CHECK_STR(render(KIT_FMT_TEXT, true),
		  "   PID COMM     ERR HID PATH\n"
		  "    42 ab\\ncd     2  -1 /long...\n");
	CHECK_STR(render(KIT_FMT_JSON, false),
		  "{\"pid\":42,\"comm\":\"ab\\ncd\",\"err\":2,"
		  "\"err_name\":\"ENOENT\",\"hid\":-1,\"path\":\"/long\","
		  "\"path_truncated\":true}\n");
}

int main(void)
{
	test_parse_u64();
	test_parse_seconds();
	test_parse_list();
	test_escape();
	test_json_writer();
	test_output();
	return unit_report("test_lib");
}
