// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * kit_parse_u64, kit_parse_seconds and kit_parse_u64_list against an oracle
 * written from their documented contract (lib/parse.h).
 *
 * Input: byte 0 picks the function, bytes 1-16 give min and max, byte 17
 * the list capacity; the rest is the string.
 */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "parse.h"

#define MAX_SEC (10ULL * 365 * 24 * 3600)

/* A reason is a short, single-line, printable message. */
static void check_why(const char *why)
{
	size_t i;

	FUZZ_CHECK(why && *why, "no reason given");
	for (i = 0; why[i]; i++)
		FUZZ_CHECK(why[i] >= 0x20 && why[i] < 0x7f,
			   "unprintable reason '%s'", why);
	FUZZ_CHECK(i < 80, "reason too long '%s'", why);
}

/* Decimal digits only, no overflow: the value, or -1. */
static int oracle_u64(const char *s, size_t n, uint64_t *v)
{
	size_t i;

	if (!n)
		return -1;
	*v = 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (__builtin_mul_overflow(*v, 10, v) ||
		    __builtin_add_overflow(*v, (uint64_t)(s[i] - '0'), v))
			return -1;
	}
	return 0;
}

static void fuzz_u64(const char *s, uint64_t min, uint64_t max)
{
	const char *why = NULL;
	uint64_t got = 0xdeadbeef, want;
	bool ok = !oracle_u64(s, strlen(s), &want) && want >= min &&
		  want <= max;
	int rc = kit_parse_u64(s, min, max, &got, &why);

	FUZZ_CHECK(rc == 0 || rc == -1, "rc %d", rc);
	FUZZ_CHECK((rc == 0) == ok, "'%s' [%llu, %llu]: rc %d, oracle %d", s,
		   (unsigned long long)min, (unsigned long long)max, rc, ok);
	if (ok)
		FUZZ_CHECK(got == want, "'%s': %llu, want %llu", s,
			   (unsigned long long)got, (unsigned long long)want);
	else
		check_why(why);
}

static void fuzz_seconds(const char *s)
{
	const char *dot = strchr(s, '.'), *why = NULL;
	size_t whole_len = dot ? (size_t)(dot - s) : strlen(s), i;
	uint64_t sec, frac = 0, scale = 100000000, got = 0;
	bool ok = !oracle_u64(s, whole_len, &sec) && sec <= MAX_SEC;
	int rc;

	if (dot) {
		ok = ok && dot[1];
		for (i = 1; ok && dot[i]; i++) {
			ok = dot[i] >= '0' && dot[i] <= '9';
			frac += (uint64_t)(dot[i] - '0') * scale;
			scale /= 10;
		}
	}
	ok = ok && (sec || frac);
	rc = kit_parse_seconds(s, &got, &why);
	/* A whole part of 32 or more characters (leading zeros) is refused
	 * as too large; that is allowed, not required. */
	if (rc && ok && whole_len >= 32)
		return;
	FUZZ_CHECK((rc == 0) == ok, "'%s': rc %d, oracle %d", s, rc, ok);
	if (ok)
		FUZZ_CHECK(got == sec * 1000000000ULL + frac && got > 0,
			   "'%s': %llu ns", s, (unsigned long long)got);
	else
		check_why(why);
}

static void fuzz_list(const char *s, uint64_t min, uint64_t max, size_t cap)
{
	uint64_t got[256], want[256];
	const char *p = s, *why = NULL;
	size_t n = 0, nwant = 0, len;
	bool ok = *s != '\0', long_item = false;
	int rc;

	while (ok) {
		const char *comma = strchr(p, ',');

		len = comma ? (size_t)(comma - p) : strlen(p);
		long_item |= len >= 32;
		ok = len > 0 && nwant < cap &&
		     !oracle_u64(p, len, &want[nwant]) &&
		     want[nwant] >= min && want[nwant] <= max;
		if (ok)
			nwant++;
		if (!comma)
			break;
		p = comma + 1;
	}
	rc = kit_parse_u64_list(s, min, max, got, cap, &n, &why);
	if (rc && ok && long_item)
		return; /* as for seconds: long items may be refused */
	FUZZ_CHECK((rc == 0) == ok, "'%s' cap %zu: rc %d, oracle %d", s, cap,
		   rc, ok);
	FUZZ_CHECK(n <= cap, "%zu items past the capacity %zu", n, cap);
	if (!ok) {
		check_why(why);
		return;
	}
	FUZZ_CHECK(n == nwant, "'%s': %zu items, want %zu", s, n, nwant);
	FUZZ_CHECK(!memcmp(got, want, n * sizeof(*got)), "'%s': values", s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t min, max;
	char s[512];
	size_t n, cap;

	if (size < 18)
		return 0;
	memcpy(&min, data + 1, 8);
	memcpy(&max, data + 9, 8);
	/* Small bounds are the interesting ones: bias towards them. */
	if (data[0] & 0x10)
		min %= 1000;
	if (data[0] & 0x20)
		max %= 100000;
	cap = data[17] % 257;
	if (cap > 256)
		cap = 256;
	n = size - 18 < sizeof(s) - 1 ? size - 18 : sizeof(s) - 1;
	memcpy(s, data + 18, n);
	s[n] = '\0';
	switch (data[0] % 3) {
	case 0:
		fuzz_u64(s, min, max);
		break;
	case 1:
		fuzz_seconds(s);
		break;
	default:
		fuzz_list(s, min, max, cap);
		break;
	}
	return 0;
}
