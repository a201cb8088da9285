// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* openat(2) + close(2) of one file, ITERATIONS times: prints ns per pair. */
#include <fcntl.h>
#include <unistd.h>
#include "loadgen.h"

int main(int argc, char **argv)
{
	const char *path = argc > 2 ? argv[2] : "/dev/null";
	unsigned long long n, pause = 0, i, t0;
	int fd;

	if (argc < 2 || argc > 4 || parse_u64(argv[1], &n) ||
	    (argc > 3 && parse_u64(argv[3], &pause)))
		usage_exit(argv[0], "[PATH] ");

	t0 = now_ns();
	for (i = 0; i < n; i++) {
		fd = openat(AT_FDCWD, path, O_RDONLY);
		if (fd < 0) {
			perror(path);
			return 1;
		}
		close(fd);
		pause_us(pause);
	}
	report("openat+close", n, now_ns() - t0);
	return 0;
}
