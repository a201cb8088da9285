// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * bpfcount: print how many BPF programs and BPF links the kernel holds, as
 * "progs N links M". The kernel-matrix guests run it before and after each
 * tool to prove the tool left nothing attached. Talks to bpf(2) directly so
 * that it links statically with nothing but libc.
 */
#include <errno.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Count the ids the kernel hands out for one kind of object. */
static int count_ids(int cmd, long *count)
{
	union bpf_attr attr;
	__u32 id = 0;

	*count = 0;
	for (;;) {
		memset(&attr, 0, sizeof(attr));
		attr.start_id = id;
		if (syscall(__NR_bpf, cmd, &attr, sizeof(attr)) < 0)
			return errno == ENOENT ? 0 : -errno;
		id = attr.next_id;
		(*count)++;
	}
}

int main(void)
{
	long progs, links;
	int err;

	err = count_ids(BPF_PROG_GET_NEXT_ID, &progs);
	if (err) {
		fprintf(stderr, "bpfcount: BPF_PROG_GET_NEXT_ID: %s\n",
			strerror(-err));
		return 1;
	}
	err = count_ids(BPF_LINK_GET_NEXT_ID, &links);
	if (err) {
		fprintf(stderr, "bpfcount: BPF_LINK_GET_NEXT_ID: %s\n",
			strerror(-err));
		return 1;
	}
	printf("progs %ld links %ld\n", progs, links);
	return 0;
}
