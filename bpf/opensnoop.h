/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* opensnoop: the event shared by bpf/opensnoop.bpf.c and tools/opensnoop.c */
#ifndef OPENSNOOP_H
#define OPENSNOOP_H

#define OPENSNOOP_PATH_MAX 256

enum open_syscall {
	OPEN_SYS_OPEN,
	OPEN_SYS_OPENAT,
	OPEN_SYS_OPENAT2,
};

struct open_event {
	unsigned long long ts;	/* bpf_ktime_get_ns() at syscall exit */
	unsigned int pid;	/* tgid */
	unsigned int tid;
	unsigned int uid;
	int ret;		/* fd, or -errno */
	int dfd;		/* directory fd (AT_FDCWD for open) */
	int flags;
	unsigned int mode;
	unsigned short path_len; /* bytes read, with the NUL; 0: unreadable */
	unsigned char syscall;	/* enum open_syscall */
	unsigned char truncated; /* the name is longer than path[] */
	char comm[16];
	char path[OPENSNOOP_PATH_MAX];
};

#endif /* OPENSNOOP_H */
