/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * User side of the TCP tools' shared code: formatting addresses and
 * endpoints, TCP state names, and parsing port lists and address prefixes
 * into the filters bpf/net.bpf.h applies. Pure code.
 */
#ifndef KIT_NET_H
#define KIT_NET_H

#include <stddef.h>
#include <stdint.h>

#include "net_common.h"

/* Room for any address, and for "[address]:port". */
#define NET_ADDR_LEN	 46
#define NET_ENDPOINT_LEN 56

/* "10.0.0.1", "fd00::1", "::ffff:10.0.0.1"; "?" for an unknown family. */
const char *net_addr_str(unsigned int family, const unsigned char *addr,
			 char *buf, size_t len);

/* "10.0.0.1:80", "[fd00::1]:80". */
const char *net_endpoint_str(unsigned int family, const unsigned char *addr,
			     unsigned int port, char *buf, size_t len);

/* 4 or 6, 0 for an unknown family. */
int net_ip_version(unsigned int family);

/* The kernel's TCP state names without "TCP_": "ESTABLISHED", "SYN_SENT";
 * "UNKNOWN" for a value out of range. */
const char *net_tcp_state_str(int state);

/*
 * Add the ports of a list like "80,443,8000-8100" (1 to 65535) to a port
 * set of NET_PORT_WORDS words. Returns 0, or -1 with a short reason.
 */
int net_parse_ports(const char *s, uint64_t *bits, const char **why);

/* Parse "ADDR" or "ADDR/LEN" (IPv4 or IPv6). Returns 0, or -1 with a
 * short reason. */
int net_parse_prefix(const char *s, struct net_prefix *p, const char **why);

#endif /* KIT_NET_H */
