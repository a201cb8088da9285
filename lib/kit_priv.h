/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Internals of the common library shared by lib/kit.c and lib/attach.c. */
#ifndef KIT_PRIV_H
#define KIT_PRIV_H

#include "kit.h"

#define KIT_MAX_HOOKS 32
#define KIT_MAX_LINKS 64

/* lib/cgroup.c */
struct kit_cgroup {
	uint64_t id;
	bool v2;
	int hierarchy;		/* v1: hierarchy id from /proc/cgroups */
	char controller[32];
};
int kit_cgroup_resolve(const char *path, struct kit_cgroup *cg,
		       char *err, size_t errlen);
/* v1: add the processes of the cgroup and its descendants to map_fd. */
int kit_cgroup_seed(const char *path, int map_fd);

struct kit_priv {
	struct kit_cgroup cg;		/* --cgroup, resolved */
	bool has_cg;
	/* Hooks in use: the tool's, then the library's own. */
	const struct kit_hook *hooks[KIT_MAX_HOOKS];
	int nhooks;
	int chosen[KIT_MAX_HOOKS];	/* index into alts, -1: skipped */
	unsigned int failed[KIT_MAX_HOOKS]; /* alts that failed to load or
					     * attach, one bit each */
	char why[KIT_MAX_HOOKS][KIT_MAX_ALTS][80];
	struct bpf_link *links[KIT_MAX_LINKS];
	int nlinks;
	struct ring_buffer *rb;
	int epfd, sigfd, timerfd;
	int pidfds[KIT_MAX_TARGET_PIDS];
	int go_fd;			/* releases the -- COMMAND child */
	int child_status;
	bool child_done;
	uint64_t deadline_ns;		/* -d: CLOCK_MONOTONIC */
	uint64_t *percpu;		/* scratch for per-CPU lookups */
	int ncpus;
};

/* lib/attach.c */
void kit_attach_init(struct kit *kit);
int kit_open_load_attach(struct kit *kit);
void kit_detach(struct kit *kit);
int kit_libbpf_print(enum libbpf_print_level level, const char *fmt,
		     va_list ap);


extern int kit_verbosity;
extern const char *kit_progname;

#endif /* KIT_PRIV_H */
