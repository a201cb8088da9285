// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The TCP tools' option parsers (lib/net.h): port lists ("80,443,8000-8100")
 * against an oracle of the documented syntax, and address prefixes
 * ("10.0.0.0/8", "fd00::/64") checked for consistency: a prefix length
 * within the family's bits, a mask of exactly that many leading ones, and
 * an address with nothing set past the mask that formats and parses back.
 * Byte 0 picks which; the rest is the argument.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "net.h"

static uint64_t got[NET_PORT_WORDS], want[NET_PORT_WORDS];

/* "N" or "A-B", decimal, 1..65535, A <= B. */
static bool oracle_num(const char *s, size_t n, unsigned long *v)
{
	size_t i;

	if (!n)
		return false;
	for (*v = 0, i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		*v = *v * 10 + (s[i] - '0');
		if (*v > 65535)
			*v = 65536; /* saturate: out of range either way */
	}
	return *v >= 1 && *v <= 65535;
}

static bool oracle_ports(const char *s)
{
	const char *p = s;

	if (!*s)
		return false;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		const char *dash = memchr(p, '-', n);
		unsigned long a, b, q;

		if (dash) {
			if (!oracle_num(p, dash - p, &a) ||
			    !oracle_num(dash + 1, n - (dash - p) - 1, &b) ||
			    a > b)
				return false;
		} else if (!oracle_num(p, n, &a)) {
			return false;
		} else {
			b = a;
		}
		for (q = a; q <= b; q++)
			want[q >> 6] |= 1ULL << (q & 63);
		if (!comma)
			return true;
		p = comma + 1;
	}
}

/* The longest item: long zero-padded numbers may be refused. */
static size_t longest_item(const char *s)
{
	size_t best = 0, n;

	for (;;) {
		const char *comma = strchr(s, ',');

		n = comma ? (size_t)(comma - s) : strlen(s);
		best = n > best ? n : best;
		if (!comma)
			return best;
		s = comma + 1;
	}
}

static void fuzz_ports(const char *s)
{
	const char *why = NULL;
	bool ok;
	int rc;

	memset(got, 0, sizeof(got));
	memset(want, 0, sizeof(want));
	ok = oracle_ports(s);
	rc = net_parse_ports(s, got, &why);
	if (rc) {
		FUZZ_CHECK(why && *why && !strchr(why, '\n'), "reason");
		FUZZ_CHECK(!ok || longest_item(s) >= 16, "'%s' refused: %s", s,
			   why);
		return;
	}
	FUZZ_CHECK(ok, "'%s' accepted", s);
	FUZZ_CHECK(!memcmp(got, want, sizeof(got)), "'%s': wrong ports", s);
}

static void fuzz_prefix(const char *s)
{
	struct net_prefix p;
	const char *why = NULL;
	char buf[NET_ADDR_LEN];
	unsigned char back[16];
	unsigned int bits, i;

	memset(&p, 0xa5, sizeof(p));
	if (net_parse_prefix(s, &p, &why)) {
		FUZZ_CHECK(why && *why && !strchr(why, '\n'), "reason");
		return;
	}
	FUZZ_CHECK(p.family == NET_AF_INET || p.family == NET_AF_INET6,
		   "family %u", p.family);
	bits = p.family == NET_AF_INET ? 32 : 128;
	FUZZ_CHECK(p.len <= bits, "length %u", p.len);
	if (!strchr(s, '/'))
		FUZZ_CHECK(p.len == bits, "no /LEN but length %u", p.len);
	for (i = 0; i < bits; i++) {
		bool in_mask = p.mask[i / 8] & (0x80 >> (i % 8));

		FUZZ_CHECK(in_mask == (i < p.len), "'%s': mask bit %u", s, i);
		if (!in_mask)
			FUZZ_CHECK(!(p.addr[i / 8] & (0x80 >> (i % 8))),
				   "'%s': address bit %u past the mask", s, i);
	}
	net_addr_str(p.family, p.addr, buf, sizeof(buf));
	FUZZ_CHECK(inet_pton(p.family == NET_AF_INET ? AF_INET : AF_INET6,
			     buf, back) == 1 &&
			   !memcmp(back, p.addr, bits / 8),
		   "'%s' formats as '%s'", s, buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[256];
	size_t n;

	if (size < 1)
		return 0;
	n = size - 1 < sizeof(s) - 1 ? size - 1 : sizeof(s) - 1;
	memcpy(s, data + 1, n);
	s[n] = '\0';
	if (data[0] & 1)
		fuzz_prefix(s);
	else
		fuzz_ports(s);
	return 0;
}
