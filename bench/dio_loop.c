// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * 4 KiB O_DIRECT reads from PATH (a file or a block device), ITERATIONS
 * times, walking the first MiB so every read is a block request that skips
 * the page cache. Prints ns per read.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <unistd.h>
#include "loadgen.h"

#define BLOCK  4096
#define BLOCKS 256

int main(int argc, char **argv)
{
	unsigned long long n, pause = 0, i, t0;
	off_t size, nblocks;
	void *buf;
	int fd;

	if (argc < 3 || argc > 4 || parse_u64(argv[1], &n) ||
	    (argc > 3 && parse_u64(argv[3], &pause)))
		usage_exit(argv[0], "PATH ");

	fd = open(argv[2], O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (fd < 0) {
		perror(argv[2]);
		return 1;
	}
	size = lseek(fd, 0, SEEK_END);
	nblocks = size / BLOCK < BLOCKS ? size / BLOCK : BLOCKS;
	if (nblocks < 1) {
		fprintf(stderr, "%s: smaller than %d bytes\n", argv[2], BLOCK);
		return 1;
	}
	if (posix_memalign(&buf, BLOCK, BLOCK)) {
		perror("posix_memalign");
		return 1;
	}
	t0 = now_ns();
	for (i = 0; i < n; i++) {
		if (pread(fd, buf, BLOCK, (off_t)(i % nblocks) * BLOCK) !=
		    BLOCK) {
			perror("pread O_DIRECT");
			return 1;
		}
		pause_us(pause);
	}
	report("4 KiB O_DIRECT read", n, now_ns() - t0);
	free(buf);
	close(fd);
	return 0;
}
