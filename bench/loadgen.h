/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Shared by the load generators: argument parsing, the clock, pacing and the
 * one result line the benchmark driver reads.
 *
 * Every generator takes ITERATIONS first and an optional PAUSE_US last. With
 * PAUSE_US > 0 it sleeps that long between operations: the driver uses that
 * as a slow prober that makes events while a tracer starts.
 */
#ifndef LOADGEN_H
#define LOADGEN_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* Strict: decimal digits only, no sign, no trailing garbage, no overflow. */
static inline int parse_u64(const char *s, unsigned long long *out)
{
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno || *end ? -1 : 0;
}

static inline unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static inline void pause_us(unsigned long long us)
{
	struct timespec ts = {us / 1000000, (us % 1000000) * 1000};

	if (us)
		nanosleep(&ts, NULL);
}

/* The driver parses the number before "ns/op"; keep this format stable. */
static inline void report(const char *what, unsigned long long n,
			  unsigned long long elapsed_ns)
{
	printf("%.1f ns/op (%llu x %s)\n", n ? (double)elapsed_ns / n : 0.0, n,
	       what);
}

static inline void usage_exit(const char *prog, const char *args)
{
	fprintf(stderr, "usage: %s ITERATIONS %s[PAUSE_US]\n", prog, args);
	exit(2);
}

#endif /* LOADGEN_H */
