// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <stdio.h>
#include <string.h>

#include "parse.h"

int kit_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out,
		  const char **why)
{
	static char range[64];
	uint64_t v = 0;
	const char *p;

	if (!s || !*s) {
		*why = "empty value";
		return -1;
	}
	for (p = s; *p; p++) {
		unsigned d = (unsigned char)*p - '0';

		if (d > 9) {
			*why = *p == '-' ? "negative numbers are not allowed"
					 : "not a number";
			return -1;
		}
		if (v > (UINT64_MAX - d) / 10) {
			*why = "number too large";
			return -1;
		}
		v = v * 10 + d;
	}
	if (v < min || v > max) {
		snprintf(range, sizeof(range), "out of range %llu..%llu",
			 (unsigned long long)min, (unsigned long long)max);
		*why = range;
		return -1;
	}
	*out = v;
	return 0;
}

int kit_parse_seconds(const char *s, uint64_t *ns, const char **why)
{
	const uint64_t max_sec = 10ULL * 365 * 24 * 3600;
	char whole[32];
	const char *dot = s ? strchr(s, '.') : NULL;
	uint64_t sec, frac = 0, scale = 100000000;
	size_t n;

	if (!s || !*s) {
		*why = "empty value";
		return -1;
	}
	n = dot ? (size_t)(dot - s) : strlen(s);
	if (n == 0 || n >= sizeof(whole)) {
		*why = n ? "number too large" : "not a number";
		return -1;
	}
	memcpy(whole, s, n);
	whole[n] = '\0';
	if (kit_parse_u64(whole, 0, max_sec, &sec, why))
		return -1;
	if (dot) {
		const char *p = dot + 1;

		if (!*p) {
			*why = "not a number";
			return -1;
		}
		for (; *p; p++) {
			if (*p < '0' || *p > '9') {
				*why = "not a number";
				return -1;
			}
			frac += (uint64_t)(*p - '0') * scale;
			scale /= 10;
		}
	}
	if (sec == 0 && frac == 0) {
		*why = "must be greater than zero";
		return -1;
	}
	*ns = sec * 1000000000ULL + frac;
	return 0;
}

int kit_parse_u64_list(const char *s, uint64_t min, uint64_t max,
		       uint64_t *out, size_t cap, size_t *n, const char **why)
{
	char item[32];

	if (!s || !*s) {
		*why = "empty list";
		return -1;
	}
	for (;;) {
		const char *comma = strchr(s, ',');
		size_t len = comma ? (size_t)(comma - s) : strlen(s);

		if (len == 0) {
			*why = "empty item in list";
			return -1;
		}
		if (len >= sizeof(item)) {
			*why = "number too large";
			return -1;
		}
		memcpy(item, s, len);
		item[len] = '\0';
		if (*n >= cap) {
			*why = "too many items in list";
			return -1;
		}
		if (kit_parse_u64(item, min, max, &out[*n], why))
			return -1;
		(*n)++;
		if (!comma)
			return 0;
		s = comma + 1;
	}
}
