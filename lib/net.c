// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"
#include "parse.h"

const char *net_addr_str(unsigned int family, const unsigned char *addr,
			 char *buf, size_t len)
{
	int af = family == NET_AF_INET ? AF_INET :
		 family == NET_AF_INET6 ? AF_INET6 : -1;

	if (af < 0 || !inet_ntop(af, addr, buf, len))
		snprintf(buf, len, "?");
	return buf;
}

const char *net_endpoint_str(unsigned int family, const unsigned char *addr,
			     unsigned int port, char *buf, size_t len)
{
	char a[NET_ADDR_LEN];

	net_addr_str(family, addr, a, sizeof(a));
	if (family == NET_AF_INET6)
		snprintf(buf, len, "[%s]:%u", a, port);
	else
		snprintf(buf, len, "%s:%u", a, port);
	return buf;
}

int net_ip_version(unsigned int family)
{
	return family == NET_AF_INET ? 4 : family == NET_AF_INET6 ? 6 : 0;
}

const char *net_tcp_state_str(int state)
{
	/* include/net/tcp_states.h */
	static const char *const names[] = {
		[1] = "ESTABLISHED", [2] = "SYN_SENT",	 [3] = "SYN_RECV",
		[4] = "FIN_WAIT1",   [5] = "FIN_WAIT2",	 [6] = "TIME_WAIT",
		[7] = "CLOSE",	     [8] = "CLOSE_WAIT", [9] = "LAST_ACK",
		[10] = "LISTEN",     [11] = "CLOSING",	 [12] = "NEW_SYN_RECV",
		[13] = "BOUND_INACTIVE",
	};

	if (state <= 0 || state >= (int)(sizeof(names) / sizeof(names[0])) ||
	    !names[state])
		return "UNKNOWN";
	return names[state];
}

/* One item of a port list: "PORT" or "FIRST-LAST". */
static int parse_port_item(const char *item, uint64_t *bits,
			   const char **why)
{
	char lo[16], *dash = strchr(item, '-');
	uint64_t first, last, p;

	if (!dash) {
		if (kit_parse_u64(item, 1, 65535, &first, why))
			return -1;
		last = first;
	} else {
		if ((size_t)(dash - item) >= sizeof(lo)) {
			*why = "number too large";
			return -1;
		}
		memcpy(lo, item, dash - item);
		lo[dash - item] = '\0';
		if (kit_parse_u64(lo, 1, 65535, &first, why) ||
		    kit_parse_u64(dash + 1, 1, 65535, &last, why))
			return -1;
		if (first > last) {
			*why = "range ends before it starts";
			return -1;
		}
	}
	for (p = first; p <= last; p++)
		bits[p >> 6] |= 1ULL << (p & 63);
	return 0;
}

int net_parse_ports(const char *s, uint64_t *bits, const char **why)
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
			*why = "item too long";
			return -1;
		}
		memcpy(item, s, len);
		item[len] = '\0';
		if (parse_port_item(item, bits, why))
			return -1;
		if (!comma)
			return 0;
		s = comma + 1;
	}
}

int net_parse_prefix(const char *s, struct net_prefix *p, const char **why)
{
	char addr[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	unsigned int bits, i;
	uint64_t len;

	memset(p, 0, sizeof(*p));
	if (alen == 0 || alen >= sizeof(addr)) {
		*why = "not an IPv4 or IPv6 address";
		return -1;
	}
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, p->addr) == 1) {
		p->family = NET_AF_INET;
		bits = 32;
	} else if (inet_pton(AF_INET6, addr, p->addr) == 1) {
		p->family = NET_AF_INET6;
		bits = 128;
	} else {
		*why = "not an IPv4 or IPv6 address";
		return -1;
	}
	len = bits;
	if (slash && kit_parse_u64(slash + 1, 0, bits, &len, why))
		return -1;
	p->len = len;
	for (i = 0; i < bits / 8; i++) {
		unsigned int left = len > i * 8 ? len - i * 8 : 0;

		p->mask[i] = left >= 8 ? 0xff : (0xff << (8 - left)) & 0xff;
		p->addr[i] &= p->mask[i];
	}
	return 0;
}
