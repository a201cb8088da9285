// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * What reaches the metrics code from outside: the HTTP Accept header of any
 * client that can connect (kit_metrics_negotiate), and the --metrics
 * ADDR:PORT argument (kit_metrics_parse_addr). Byte 0 picks which.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "check.h"
#include "metrics.h"

static void fuzz_accept(const char *accept)
{
	const char *ct = NULL;
	enum kit_expo_format fmt = kit_metrics_negotiate(accept, &ct);

	FUZZ_CHECK(fmt == KIT_EXPO_TEXT || fmt == KIT_EXPO_OPENMETRICS,
		   "format %d", fmt);
	FUZZ_CHECK(ct, "no content type");
	if (fmt == KIT_EXPO_TEXT) {
		FUZZ_CHECK(!strcmp(ct, "text/plain; version=0.0.4; "
				       "charset=utf-8"),
			   "text with content type '%s'", ct);
		return;
	}
	FUZZ_CHECK(!strncmp(ct, "application/openmetrics-text; version=", 38),
		   "OpenMetrics with content type '%s'", ct);
	/* Only a client that asked for it gets OpenMetrics. */
	FUZZ_CHECK(strcasestr(accept, "application/openmetrics-text"),
		   "OpenMetrics for '%s'", accept);
}

static void fuzz_addr(const char *s, size_t hostlen, size_t portlen)
{
	char host[300], port[300];
	const char *why = NULL;
	char *end;
	long p;

	memset(host, 'X', sizeof(host));
	memset(port, 'X', sizeof(port));
	if (kit_metrics_parse_addr(s, host, hostlen, port, portlen, &why)) {
		FUZZ_CHECK(why && *why && !strchr(why, '\n'), "reason");
		return;
	}
	FUZZ_CHECK(memchr(host, '\0', hostlen), "host not terminated");
	FUZZ_CHECK(memchr(port, '\0', portlen), "port not terminated");
	/* Buffers are 300 bytes and the lengths given at most 299. */
	FUZZ_CHECK(host[hostlen] == 'X', "wrote past the host buffer");
	FUZZ_CHECK(port[portlen] == 'X', "wrote past the port buffer");
	p = strtol(port, &end, 10);
	FUZZ_CHECK(*port && !*end && p >= 0 && p <= 65535, "port '%s'", port);
	/* A v6 address only in brackets; the host is a prefix of s. */
	if (s[0] == '[')
		FUZZ_CHECK(!strncmp(s + 1, host, strlen(host)) &&
				   s[strlen(host) + 1] == ']',
			   "host '%s' of '%s'", host, s);
	else
		FUZZ_CHECK(!strchr(host, ':') &&
				   !strncmp(s, host, strlen(host)) &&
				   s[strlen(host)] == ':',
			   "host '%s' of '%s'", host, s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if (size < 3)
		return 0;
	s = malloc(size - 2);
	memcpy(s, data + 3, size - 3);
	s[size - 3] = '\0';
	if (data[0] & 1)
		fuzz_accept(s);
	else
		fuzz_addr(s, 1 + data[1] % 299, 1 + data[2] % 299);
	free(s);
	return 0;
}
