/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The common library: what every bpfkit tool shares. A tool describes
 * itself in a struct kit_tool (its options, its hooks, its columns, its
 * event handler) and calls kit_main(); the library does the rest:
 *
 *   parse the common and the tool's options, strictly
 *   check privileges and BTF
 *   open the skeleton, set the filters, choose per hook the best attach
 *     mechanism this kernel offers (with fallbacks), load, attach
 *   start "-- COMMAND" once everything is attached
 *   drain the ring buffer, count lost events, run interval callbacks
 *   on any exit: detach and free everything
 */
#ifndef KIT_H
#define KIT_H

#include <argp.h>
#include <stdbool.h>
#include <stdint.h>

#include <bpf/libbpf.h>

#include "kit_common.h"
#include "output.h"

/* Attach mechanisms, in the order of their bit values. */
enum kit_mech {
	KIT_MECH_TP_BTF,     /* SEC("tp_btf/..."): BTF-typed raw tracepoint */
	KIT_MECH_RAW_TP,     /* SEC("raw_tp/...") */
	KIT_MECH_TRACEPOINT, /* SEC("tracepoint/..."): needs tracefs */
	KIT_MECH_FENTRY,     /* SEC("fentry/..."), "fexit/": trampolines */
	KIT_MECH_KPROBE,     /* SEC("kprobe/..."), "kretprobe/" */
	KIT_MECH_NR,
};

#define KIT_MECH_ALL ((1u << KIT_MECH_NR) - 1)

/*
 * One way to implement a hook: the programs (by function name in the BPF
 * object) that together implement it with one mechanism, and the kernel
 * object they need: "category/name" of a tracepoint, or a function name
 * for fentry and kprobe.
 */
struct kit_alt {
	enum kit_mech mech;
	const char *target;
	const char *progs[4];
};

#define KIT_MAX_ALTS 6

enum kit_hook_flags {
	KIT_HOOK_OPTIONAL = 1 << 0, /* skip quietly where the kernel lacks it */
};

/* Something a tool must observe, with its alternatives, best first. */
struct kit_hook {
	const char *name;
	unsigned int flags;
	struct kit_alt alts[KIT_MAX_ALTS];
	const bool *when;	/* if set, the hook is used only when true */
};

/* Common options a tool may leave out, or keep only in their long form. */
enum kit_common {
	KIT_OPT_PID = 1 << 0,
	KIT_OPT_TID = 1 << 1,
	KIT_OPT_UID = 1 << 2,
	KIT_OPT_CGROUP = 1 << 3,
	KIT_OPT_NAME = 1 << 4,
	KIT_OPT_DURATION = 1 << 5,
	KIT_OPT_TIMESTAMP = 1 << 6,
	KIT_OPT_JSON = 1 << 7,
	KIT_OPT_COMMAND = 1 << 8,
	KIT_OPT_ALL = (1 << 9) - 1,
};

struct kit;
struct kit_metrics;

struct kit_tool {
	const char *name;
	const char *doc;      /* one-line summary for --help */
	const char *examples; /* the EXAMPLES section of --help */
	const char *tracing;  /* "Tracing open syscalls" (stderr when ready) */
	/* The tool's own options, and the parser for their keys. */
	const struct argp_option *options;
	error_t (*parse)(int key, char *arg, struct argp_state *state);
	unsigned int no_common;	 /* enum kit_common: options not offered */
	unsigned int long_only;	 /* enum kit_common: no short form */
	bool interval_args;	 /* accepts [interval [count]] */
	char cgroup_short;	 /* a short form of --cgroup (BCC's -c), or 0 */

	/* The skeleton: use KIT_SKEL(name) to fill these in. */
	void *(*skel_open)(const struct bpf_object_open_opts *opts);
	void (*skel_destroy)(void *skel);

	const struct kit_hook *hooks;	/* terminated by a {} entry */
	const struct kit_col *cols;
	int ncols;
	size_t ringbuf_bytes;		/* 0: no events (histogram tools) */

	/* Callbacks; any may be NULL. Return < 0 on failure. */
	/* After open, before load: set the tool's rodata, map sizes. */
	int (*configure)(struct kit *kit, void *skel);
	/* After attach, before "Tracing": e.g. print a header. */
	int (*start)(struct kit *kit, void *skel);
	/* One ring buffer record. */
	int (*event)(struct kit *kit, const void *data, size_t size);
	/* Every interval (interval_args), and at the end of the run. */
	int (*interval)(struct kit *kit, void *skel, bool final);
	/* Once, before teardown (count modes print here). */
	int (*finish)(struct kit *kit, void *skel);
	/* --metrics, --metrics-file: bring the tool's families in m up to
	 * date (lib/metrics.h), before every scrape and file write. */
	int (*metrics)(struct kit *kit, void *skel, struct kit_metrics *m);
};

#define KIT_SKEL(name)                                                      \
	.skel_open = (void *(*)(const struct bpf_object_open_opts *))       \
		name##__open_opts,                                          \
	.skel_destroy = (void (*)(void *))name##__destroy

#define KIT_MAX_TARGET_PIDS 64

/* The common options, as parsed. */
struct kit_opts {
	uint32_t pids[KIT_MAX_TARGET_PIDS];
	size_t npids;
	uint32_t tid;		/* 0: any */
	uint32_t uid;		/* (uint32_t)-1: any */
	bool has_uid;
	const char *cgroup;
	char comm[16];
	bool has_comm;
	uint64_t duration_ns;	/* 0: until stopped */
	bool timestamp;
	bool json;
	int verbose;
	unsigned int mechs;	/* allowed mechanisms (bit per enum kit_mech) */
	char **command;		/* "-- COMMAND ARGS": NULL-terminated */
	uint64_t interval_ns;	/* [interval]: 0 = none */
	uint64_t count;		/* [count]: 0 = forever */
	size_t ringbuf_bytes;	/* --buffer-size */
	const char *metrics_addr; /* --metrics ADDR:PORT */
	const char *metrics_file; /* --metrics-file PATH */
};

struct kit {
	const struct kit_tool *tool;
	struct kit_opts opts;
	struct kit_out out;
	void *skel;
	struct bpf_object *obj;
	uint64_t events;	/* records handled */
	uint64_t lost;		/* records the kernel could not deliver */
	uint64_t missed;	/* runs the kernel skipped (recursion) */
	uint64_t intervals;	/* intervals printed */
	int child_pid;		/* -- COMMAND, or 0 */
	bool exiting;
	const char *mech_used[KIT_MECH_NR];
	struct kit_priv *priv;
	/* With --metrics or --metrics-file: the registry (lib/metrics.h),
	 * ready when the tool's start callback runs; else NULL. */
	struct kit_metrics *metrics;
};

/* Run a tool: returns the process exit status. */
int kit_main(const struct kit_tool *tool, int argc, char **argv);

/*
 * Usage error: one line "NAME: message" on stderr, exit status 2. Use from
 * a tool's parse callback for bad values.
 */
void kit_usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));
/* Run-time failure: one line "NAME: message" on stderr. */
void kit_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Informational line on stderr under -v. */
void kit_verbose(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Strict number parsing for tool options: exit 2 with a message on error. */
uint64_t kit_arg_u64(const char *opt, const char *arg, uint64_t min,
		     uint64_t max);

/* The mechanism's name as used by --attach ("tp_btf", "kprobe", ...). */
const char *kit_mech_name(enum kit_mech mech);

/*
 * Every entry of a (not per-CPU) map, read into an array of elem_size-byte
 * elements, the key at offset 0 and the value at val_off, sorted with cmp
 * (if not NULL). *n is the count; NULL with *n == 1 means out of memory,
 * NULL with *n == 0 an empty map. free() the result.
 */
void *kit_map_read_all(struct bpf_map *map, size_t elem_size, size_t val_off,
		       int (*cmp)(const void *, const void *), size_t *n);

/* Look up a map of the tool's object by name; NULL if absent. */
struct bpf_map *kit_map(struct kit *kit, const char *name);

#endif /* KIT_H */
