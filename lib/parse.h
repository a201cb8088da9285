/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Strict parsing of command-line numbers and lists. Pure code. */
#ifndef KIT_PARSE_H
#define KIT_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Parse a whole string as an unsigned decimal number in [min, max]: no sign,
 * no leading or trailing garbage or space, no overflow. On error returns -1
 * and sets *why to a short reason ("not a number", "out of range ...").
 */
int kit_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out,
		  const char **why);

/* Seconds with an optional fraction ("1.5"), to nanoseconds, > 0. */
int kit_parse_seconds(const char *s, uint64_t *ns, const char **why);

/*
 * A comma-separated list of numbers in [min, max], appended to out[] (at
 * most cap entries, *n counts them). Empty items are errors.
 */
int kit_parse_u64_list(const char *s, uint64_t min, uint64_t max,
		       uint64_t *out, size_t cap, size_t *n, const char **why);

#endif /* KIT_PARSE_H */
