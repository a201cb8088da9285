// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * floor: attach an empty BPF program to each hook given, print one line once
 * all are attached, and detach on SIGINT or SIGTERM.
 *
 *   floor HOOK...
 *
 *   HOOK = tracepoint:CATEGORY/NAME | raw_tp:NAME | tp_btf:NAME
 *
 * Each hook gets its own program, as in a tool: one skeleton instance per
 * hook, with only the program of that mechanism loaded.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "floor.skel.h"

enum mech { MECH_TP, MECH_RAW_TP, MECH_TP_BTF };

struct hook {
	enum mech mech;
	char category[64]; /* tracepoint only */
	char name[128];
	struct floor_bpf *skel;
	struct bpf_link *link;
};

static volatile sig_atomic_t exiting;

static void on_signal(int sig)
{
	exiting = 1;
}

static int parse_hook(const char *arg, struct hook *h)
{
	const char *name = strchr(arg, ':');
	const char *slash;
	size_t len;

	if (!name || !name[1])
		return -1;
	len = name - arg;
	name++;
	if (len == 10 && !strncmp(arg, "tracepoint", len)) {
		h->mech = MECH_TP;
		slash = strchr(name, '/');
		if (!slash || slash == name || !slash[1] ||
		    (size_t)(slash - name) >= sizeof(h->category))
			return -1;
		memcpy(h->category, name, slash - name);
		name = slash + 1;
	} else if (len == 6 && !strncmp(arg, "raw_tp", len)) {
		h->mech = MECH_RAW_TP;
	} else if (len == 6 && !strncmp(arg, "tp_btf", len)) {
		h->mech = MECH_TP_BTF;
	} else {
		return -1;
	}
	if (strlen(name) >= sizeof(h->name))
		return -1;
	strcpy(h->name, name);
	return 0;
}

static struct bpf_program *hook_prog(struct hook *h)
{
	switch (h->mech) {
	case MECH_TP:
		return h->skel->progs.floor_tp;
	case MECH_RAW_TP:
		return h->skel->progs.floor_raw_tp;
	default:
		return h->skel->progs.floor_tp_btf;
	}
}

/* Open and load an instance holding only this hook's program, attach it. */
static int attach_hook(struct hook *h)
{
	struct bpf_program *prog, *p;
	int err;

	h->skel = floor_bpf__open();
	if (!h->skel)
		return -errno;
	prog = hook_prog(h);
	bpf_object__for_each_program (p, h->skel->obj)
		bpf_program__set_autoload(p, p == prog);
	if (h->mech == MECH_TP_BTF) {
		err = bpf_program__set_attach_target(prog, 0, h->name);
		if (err)
			return err;
	}
	err = floor_bpf__load(h->skel);
	if (err)
		return err;

	switch (h->mech) {
	case MECH_TP:
		h->link = bpf_program__attach_tracepoint(prog, h->category,
							 h->name);
		break;
	case MECH_RAW_TP:
		h->link = bpf_program__attach_raw_tracepoint(prog, h->name);
		break;
	default:
		h->link = bpf_program__attach(prog);
		break;
	}
	return h->link ? 0 : -errno;
}

int main(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = on_signal};
	sigset_t stop, old;
	struct hook *hooks;
	int i, n = argc - 1, err = 0;

	if (n < 1) {
		fprintf(stderr,
			"usage: %s tracepoint:CAT/NAME|raw_tp:NAME|"
			"tp_btf:NAME...\n",
			argv[0]);
		return 2;
	}
	hooks = calloc(n, sizeof(*hooks));
	if (!hooks)
		return 1;
	for (i = 0; i < n; i++) {
		if (parse_hook(argv[i + 1], &hooks[i])) {
			fprintf(stderr, "floor: bad hook '%s'\n", argv[i + 1]);
			free(hooks);
			return 2;
		}
	}

	/* Handlers first, so a signal during loading still detaches. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	for (i = 0; i < n && !exiting; i++) {
		err = attach_hook(&hooks[i]);
		if (err) {
			fprintf(stderr, "floor: cannot attach %s: %s\n",
				argv[i + 1], strerror(-err));
			goto cleanup;
		}
	}
	fprintf(stderr, "Tracing floor: %d empty program%s attached.\n", n,
		n == 1 ? "" : "s");

	/* Block the signals between the test and the wait, or one is lost. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	sigprocmask(SIG_BLOCK, &stop, &old);
	while (!exiting)
		sigsuspend(&old);

cleanup:
	for (i = n - 1; i >= 0; i--) {
		bpf_link__destroy(hooks[i].link);
		floor_bpf__destroy(hooks[i].skel);
	}
	free(hooks);
	return err ? 1 : 0;
}
