// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* 1-byte read(2) from /dev/zero, ITERATIONS times: prints ns per read. */
#include <fcntl.h>
#include <unistd.h>
#include "loadgen.h"

int main(int argc, char **argv)
{
	unsigned long long n, pause = 0, i, t0;
	char c;
	int fd;

	if (argc < 2 || argc > 3 || parse_u64(argv[1], &n) ||
	    (argc > 2 && parse_u64(argv[2], &pause)))
		usage_exit(argv[0], "");

	fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		perror("/dev/zero");
		return 1;
	}
	t0 = now_ns();
	for (i = 0; i < n; i++) {
		if (read(fd, &c, 1) != 1) {
			perror("read");
			return 1;
		}
		pause_us(pause);
	}
	report("read 1 byte", n, now_ns() - t0);
	close(fd);
	return 0;
}
