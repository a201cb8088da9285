// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Unit tests of lib/net.c: address formatting, port lists, prefixes. */
#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

#include "net.h"
#include "unit.h"

static int port_in(const uint64_t *bits, unsigned int port)
{
	return !!(bits[port >> 6] & (1ULL << (port & 63)));
}

static void test_addr_str(void)
{
	unsigned char a[16] = { 10, 1, 2, 3 }, b[16];
	char buf[NET_ENDPOINT_LEN];

	CHECK_STR(net_addr_str(NET_AF_INET, a, buf, sizeof(buf)), "10.1.2.3");
	CHECK_STR(net_endpoint_str(NET_AF_INET, a, 80, buf, sizeof(buf)),
		  "10.1.2.3:80");
	inet_pton(AF_INET6, "fd00::1", b);
	CHECK_STR(net_addr_str(NET_AF_INET6, b, buf, sizeof(buf)), "fd00::1");
	CHECK_STR(net_endpoint_str(NET_AF_INET6, b, 443, buf, sizeof(buf)),
		  "[fd00::1]:443");
	inet_pton(AF_INET6, "::ffff:10.1.2.3", b);
	CHECK_STR(net_addr_str(NET_AF_INET6, b, buf, sizeof(buf)),
		  "::ffff:10.1.2.3");
	CHECK_STR(net_addr_str(99, b, buf, sizeof(buf)), "?");
	/* the longest IPv6 endpoint fits */
	memset(b, 0xff, sizeof(b));
	CHECK_STR(net_endpoint_str(NET_AF_INET6, b, 65535, buf, sizeof(buf)),
		  "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
	CHECK(net_ip_version(NET_AF_INET) == 4);
	CHECK(net_ip_version(NET_AF_INET6) == 6);
	CHECK(net_ip_version(1) == 0);
}

static void test_state_str(void)
{
	CHECK_STR(net_tcp_state_str(1), "ESTABLISHED");
	CHECK_STR(net_tcp_state_str(2), "SYN_SENT");
	CHECK_STR(net_tcp_state_str(7), "CLOSE");
	CHECK_STR(net_tcp_state_str(12), "NEW_SYN_RECV");
	CHECK_STR(net_tcp_state_str(0), "UNKNOWN");
	CHECK_STR(net_tcp_state_str(99), "UNKNOWN");
	CHECK_STR(net_tcp_state_str(-1), "UNKNOWN");
}

static void test_ports(void)
{
	static uint64_t bits[NET_PORT_WORDS];
	const char *why = NULL;
	unsigned int p, n = 0;

	CHECK(net_parse_ports("80,443,8000-8002,65535", bits, &why) == 0);
	for (p = 0; p < 65536; p++)
		n += port_in(bits, p);
	CHECK(n == 6);
	CHECK(port_in(bits, 80) && port_in(bits, 443) && port_in(bits, 8001));
	CHECK(port_in(bits, 65535) && !port_in(bits, 8003) &&
	      !port_in(bits, 0));
	CHECK(net_parse_ports("1-65535", bits, &why) == 0);
	CHECK(port_in(bits, 1) && port_in(bits, 12345));

	memset(bits, 0, sizeof(bits));
	CHECK(net_parse_ports("0", bits, &why) == -1 && why);
	CHECK(net_parse_ports("65536", bits, &why) == -1);
	CHECK(net_parse_ports("", bits, &why) == -1);
	CHECK(net_parse_ports("80,", bits, &why) == -1);
	CHECK(net_parse_ports(",80", bits, &why) == -1);
	CHECK(net_parse_ports("10-5", bits, &why) == -1);
	CHECK(net_parse_ports("5-", bits, &why) == -1);
	CHECK(net_parse_ports("-5", bits, &why) == -1);
	CHECK(net_parse_ports("http", bits, &why) == -1);
	CHECK(net_parse_ports("+80", bits, &why) == -1);
	CHECK(net_parse_ports("12345678901234567890123456789012", bits,
			      &why) == -1);
}

static void test_prefix(void)
{
	struct net_prefix p;
	const char *why = NULL;
	unsigned char want[16];

	CHECK(net_parse_prefix("10.1.2.3", &p, &why) == 0);
	CHECK(p.family == NET_AF_INET && p.len == 32);
	CHECK(p.mask[0] == 0xff && p.mask[3] == 0xff && p.mask[4] == 0);

	CHECK(net_parse_prefix("10.1.2.3/12", &p, &why) == 0);
	CHECK(p.len == 12 && p.addr[0] == 10 && p.addr[1] == 0 &&
	      p.addr[2] == 0);
	CHECK(p.mask[0] == 0xff && p.mask[1] == 0xf0 && p.mask[2] == 0);

	CHECK(net_parse_prefix("fd00::1/8", &p, &why) == 0);
	CHECK(p.family == NET_AF_INET6 && p.len == 8);
	inet_pton(AF_INET6, "fd00::", want);
	CHECK(memcmp(p.addr, want, 16) == 0);
	CHECK(p.mask[0] == 0xff && p.mask[1] == 0);

	CHECK(net_parse_prefix("::/0", &p, &why) == 0);
	CHECK(p.len == 0 && p.mask[0] == 0);
	CHECK(net_parse_prefix("::1", &p, &why) == 0 && p.len == 128 &&
	      p.mask[15] == 0xff);

	CHECK(net_parse_prefix("10.0.0.0/33", &p, &why) == -1 && why);
	CHECK(net_parse_prefix("::/129", &p, &why) == -1);
	CHECK(net_parse_prefix("1.2.3", &p, &why) == -1);
	CHECK(net_parse_prefix("", &p, &why) == -1);
	CHECK(net_parse_prefix("/8", &p, &why) == -1);
	CHECK(net_parse_prefix("10.0.0.0/", &p, &why) == -1);
	CHECK(net_parse_prefix("10.0.0.0/x", &p, &why) == -1);
	CHECK(net_parse_prefix("example.com", &p, &why) == -1);
}

int main(void)
{
	test_addr_str();
	test_state_str();
	test_ports();
	test_prefix();
	return unit_report("test_net");
}
