/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* A minimal unit-test harness: CHECK() records a failure and goes on. */
#ifndef UNIT_H
#define UNIT_H

#include <stdio.h>
#include <string.h>

static int unit_failures, unit_checks;

#define CHECK(cond)                                                          \
	do {                                                                 \
		unit_checks++;                                               \
		if (!(cond)) {                                               \
			unit_failures++;                                     \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, \
				__LINE__, #cond);                            \
		}                                                            \
	} while (0)

#define CHECK_STR(got, want)                                                 \
	do {                                                                 \
		const char *g_ = (got), *w_ = (want);                        \
		unit_checks++;                                               \
		if (strcmp(g_, w_)) {                                        \
			unit_failures++;                                     \
			fprintf(stderr, "%s:%d: got \"%s\", want \"%s\"\n",  \
				__FILE__, __LINE__, g_, w_);                 \
		}                                                            \
	} while (0)

static inline int unit_report(const char *name)
{
	printf("%s: %d checks, %d failed\n", name, unit_checks,
	       unit_failures);
	return unit_failures ? 1 : 0;
}

#endif /* UNIT_H */
