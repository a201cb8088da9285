// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * TCP connect on loopback to a listener of our own, ITERATIONS times: socket,
 * connect, accept, close both ends. Prints ns per connection.
 *
 * One thread does both ends: on loopback the handshake completes inside
 * connect(), so accept() never waits and no scheduler noise gets in. The
 * server end closes first, so TIME_WAIT sits on the listener's side and the
 * client's ephemeral ports are free again at once.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include "loadgen.h"

static int listen_loopback(struct sockaddr_in *addr)
{
	socklen_t len = sizeof(*addr);
	int fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	addr->sin_family = AF_INET;
	addr->sin_port = 0;
	addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)addr, sizeof(*addr)) ||
	    listen(fd, 128) || getsockname(fd, (struct sockaddr *)addr, &len)) {
		close(fd);
		return -1;
	}
	return fd;
}

static int connect_once(int lfd, const struct sockaddr_in *addr)
{
	int cfd, sfd = -1, err = -1;
	char c;

	cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (cfd < 0)
		return -1;
	if (connect(cfd, (const struct sockaddr *)addr, sizeof(*addr)))
		goto out;
	sfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (sfd < 0)
		goto out;
	close(sfd);
	/* Wait for the server's FIN so the client end closes cleanly. */
	if (read(cfd, &c, 1) != 0)
		goto out;
	err = 0;
out:
	close(cfd);
	return err;
}

int main(int argc, char **argv)
{
	unsigned long long n, pause = 0, i, t0;
	struct sockaddr_in addr;
	int lfd;

	if (argc < 2 || argc > 3 || parse_u64(argv[1], &n) ||
	    (argc > 2 && parse_u64(argv[2], &pause)))
		usage_exit(argv[0], "");

	lfd = listen_loopback(&addr);
	if (lfd < 0) {
		perror("listen on 127.0.0.1");
		return 1;
	}
	t0 = now_ns();
	for (i = 0; i < n; i++) {
		if (connect_once(lfd, &addr)) {
			perror("connect 127.0.0.1");
			return 1;
		}
		pause_us(pause);
	}
	report("connect+accept+close", n, now_ns() - t0);
	close(lfd);
	return 0;
}
