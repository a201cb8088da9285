// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Attach with fallbacks. For each hook a tool lists its alternatives, best
 * first. We pick, per hook, the first alternative that --attach allows and
 * that this kernel offers (cheap run-time probes: tracefs, BTF, kprobe PMU,
 * a trial fentry load), load only the programs of the picks, and attach.
 * When loading or attaching a pick still fails (a verifier or kernel that
 * refuses it), that alternative is marked failed and the whole object is
 * opened and loaded again with the next one.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>

#include "kit_priv.h"

#define TRACEFS "/sys/kernel/tracing"
#define MAX_TRIES 8

static const char *const mech_names[KIT_MECH_NR] = {
	[KIT_MECH_TP_BTF] = "tp_btf",
	[KIT_MECH_RAW_TP] = "raw_tp",
	[KIT_MECH_TRACEPOINT] = "tracepoint",
	[KIT_MECH_FENTRY] = "fentry",
	[KIT_MECH_KPROBE] = "kprobe",
};

const char *kit_mech_name(enum kit_mech mech)
{
	return mech < KIT_MECH_NR ? mech_names[mech] : "?";
}

/* The library's own hooks: process sets that follow forks (-- COMMAND, a
 * v1 --cgroup), and v1 cgroup migrations. */
static const struct kit_hook follow_hooks[] = {
	{ "fork", 0, {
		{ KIT_MECH_TP_BTF, "sched/sched_process_fork", { "kit_fork_btf" } },
		{ KIT_MECH_RAW_TP, "sched/sched_process_fork", { "kit_fork_raw" } },
	} },
	{ "exit", 0, {
		{ KIT_MECH_TP_BTF, "sched/sched_process_exit", { "kit_exit_btf" } },
		{ KIT_MECH_RAW_TP, "sched/sched_process_exit", { "kit_exit_raw" } },
	} },
};

static const struct kit_hook cgroup_v1_hook = {
	"cgroup_attach", 0, {
		{ KIT_MECH_TP_BTF, "cgroup/cgroup_attach_task",
		  { "kit_cgattach_btf" } },
		{ KIT_MECH_RAW_TP, "cgroup/cgroup_attach_task",
		  { "kit_cgattach_raw" } },
	}
};

/* Probe results, computed once, lazily. */
static struct {
	int tracefs;	/* 1 ready, 0 unknown, -1 absent */
	int btf;
	int kprobes;
	int fentry;	/* trampolines usable at all */
	struct btf *vmlinux;
	char last_prog[64]; /* last program libbpf complained about */
} probe;

int kit_libbpf_print(enum libbpf_print_level level, const char *fmt,
		     va_list ap)
{
	char buf[1024];
	const char *p;
	va_list copy;

	va_copy(copy, ap);
	vsnprintf(buf, sizeof(buf), fmt, copy);
	va_end(copy);
	if (level == LIBBPF_WARN && (p = strstr(buf, "prog '"))) {
		size_t n = strcspn(p + 6, "'");

		if (n < sizeof(probe.last_prog)) {
			memcpy(probe.last_prog, p + 6, n);
			probe.last_prog[n] = '\0';
		}
	}
	/* the verifier's log is long: print it whole, not from buf */
	if (kit_verbosity > 0)
		vfprintf(stderr, fmt, ap);
	return 0;
}

/* tracefs holds the tracepoint ids a classic tracepoint attach needs. */
static bool tracefs_ready(void)
{
	if (probe.tracefs)
		return probe.tracefs > 0;
	probe.tracefs = -1;
	if (access(TRACEFS "/events", F_OK) == 0) {
		probe.tracefs = 1;
	} else if (mount("nodev", TRACEFS, "tracefs", 0, NULL) == 0) {
		kit_verbose("mounted tracefs at " TRACEFS);
		probe.tracefs = 1;
	} else {
		kit_verbose("tracefs is not mounted at " TRACEFS
			    " and mounting it failed: %s", strerror(errno));
	}
	return probe.tracefs > 0;
}

static struct btf *vmlinux_btf(void)
{
	if (!probe.vmlinux && probe.btf >= 0) {
		probe.vmlinux = btf__load_vmlinux_btf();
		if (!probe.vmlinux)
			probe.btf = -1;
	}
	return probe.vmlinux;
}

static bool have_btf(void)
{
	if (!probe.btf)
		probe.btf = access("/sys/kernel/btf/vmlinux", R_OK) ? -1 : 1;
	return probe.btf > 0;
}

/* Does tracepoint "category/name" exist? */
static bool tp_exists(const char *target)
{
	const char *name = strchr(target, '/');
	char path[256];

	if (tracefs_ready()) {
		snprintf(path, sizeof(path), TRACEFS "/events/%s", target);
		return access(path, F_OK) == 0;
	}
	/* No tracefs: a raw tracepoint has a btf_trace_<name> typedef. */
	if (!name || !vmlinux_btf())
		return false;
	snprintf(path, sizeof(path), "btf_trace_%s", name + 1);
	return btf__find_by_name_kind(probe.vmlinux, path, BTF_KIND_TYPEDEF) >
	       0;
}

static bool have_kprobes(void)
{
	if (!probe.kprobes)
		probe.kprobes =
			access("/sys/bus/event_source/devices/kprobe/type",
			       F_OK) == 0 ||
					(tracefs_ready() &&
					 access(TRACEFS "/kprobe_events",
						F_OK) == 0) ?
				1 :
				-1;
	return probe.kprobes > 0;
}

/* Load a do-nothing fentry program on func: the only sure test. */
static bool fentry_works(const char *func)
{
	struct bpf_insn insns[] = {
		{ .code = 0xb7, .dst_reg = 0, .imm = 0 }, /* r0 = 0 */
		{ .code = 0x95 },			  /* exit */
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts,
		    .expected_attach_type = BPF_TRACE_FENTRY);
	int id, fd;

	if (!vmlinux_btf())
		return false;
	id = btf__find_by_name_kind(probe.vmlinux, func, BTF_KIND_FUNC);
	if (id <= 0)
		return false;
	opts.attach_btf_id = id;
	fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, "kit_probe", "GPL", insns,
			   2, &opts);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* Can this kernel give us alt? If not, a reason in why. */
static bool alt_available(const struct kit_alt *alt, char *why, size_t n)
{
	switch (alt->mech) {
	case KIT_MECH_TP_BTF:
		if (!have_btf()) {
			snprintf(why, n, "no kernel BTF");
			return false;
		}
		/* fall through */
	case KIT_MECH_RAW_TP:
		if (!tp_exists(alt->target)) {
			snprintf(why, n, "no tracepoint %s", alt->target);
			return false;
		}
		return true;
	case KIT_MECH_TRACEPOINT:
		if (!tracefs_ready()) {
			snprintf(why, n, "tracefs unavailable (mount -t tracefs "
					 "nodev " TRACEFS ")");
			return false;
		}
		if (!tp_exists(alt->target)) {
			snprintf(why, n, "no tracepoint %s", alt->target);
			return false;
		}
		return true;
	case KIT_MECH_FENTRY:
		if (!have_btf()) {
			snprintf(why, n, "no kernel BTF");
			return false;
		}
		if (probe.fentry < 0) {
			snprintf(why, n, "kernel refuses fentry programs");
			return false;
		}
		if (!fentry_works(alt->target)) {
			snprintf(why, n, "kernel refuses fentry on %s",
				 alt->target);
			return false;
		}
		return true;
	case KIT_MECH_KPROBE:
		if (!have_kprobes()) {
			snprintf(why, n, "kernel has no kprobes");
			return false;
		}
		return true;
	default:
		snprintf(why, n, "unknown mechanism");
		return false;
	}
}

void kit_attach_init(struct kit *kit)
{
	struct kit_priv *p = kit->priv;
	const struct kit_hook *h;
	size_t i;

	for (h = kit->tool->hooks; h && h->name && p->nhooks < KIT_MAX_HOOKS;
	     h++)
		if (!h->when || *h->when)
			p->hooks[p->nhooks++] = h;
	bool cg_v1 = p->has_cg && !p->cg.v2;

	if (kit->opts.command || cg_v1)
		for (i = 0; i < sizeof(follow_hooks) / sizeof(*follow_hooks);
		     i++)
			p->hooks[p->nhooks++] = &follow_hooks[i];
	if (cg_v1)
		p->hooks[p->nhooks++] = &cgroup_v1_hook;
}

/*
 * BPFKIT_DISABLE=PROG[,PROG...] rules out the alternatives whose first
 * program is named: the way tests exercise fallbacks a kernel would
 * otherwise never take.
 */
static bool disabled_by_env(const struct kit_alt *alt)
{
	const char *list = getenv("BPFKIT_DISABLE");
	size_t n = strlen(alt->progs[0]);
	const char *p;

	for (p = list; p && (p = strstr(p, alt->progs[0])); p += n)
		if ((p == list || p[-1] == ',') && (p[n] == ',' || !p[n]))
			return true;
	return false;
}

/* One line: why each way to attach hook i was not taken. */
static void report_unattachable(struct kit_priv *p, int i)
{
	const struct kit_hook *h = p->hooks[i];
	char msg[512] = "";
	size_t off = 0;
	int a;

	for (a = 0; a < KIT_MAX_ALTS && h->alts[a].progs[0]; a++)
		off += snprintf(msg + off, off < sizeof(msg) ?
					sizeof(msg) - off : 0,
				"%s%s: %s", a ? "; " : "",
				kit_mech_name(h->alts[a].mech), p->why[i][a]);
	kit_error("cannot attach %s: %s", h->name, msg);
}

/* Pick an alternative for every hook. */
static int choose(struct kit *kit)
{
	struct kit_priv *p = kit->priv;
	int i, a;

	for (i = 0; i < p->nhooks; i++) {
		const struct kit_hook *h = p->hooks[i];

		p->chosen[i] = -1;
		for (a = 0; a < KIT_MAX_ALTS && h->alts[a].progs[0]; a++) {
			const struct kit_alt *alt = &h->alts[a];
			char *why = p->why[i][a];

			if (p->failed[i] & (1u << a))
				continue; /* reason already recorded */
			if (!(kit->opts.mechs & (1u << alt->mech))) {
				snprintf(why, sizeof(p->why[i][a]),
					 "not allowed by --attach");
				continue;
			}
			if (disabled_by_env(alt)) {
				snprintf(why, sizeof(p->why[i][a]),
					 "disabled by BPFKIT_DISABLE");
				continue;
			}
			if (!alt_available(alt, why, sizeof(p->why[i][a])))
				continue;
			p->chosen[i] = a;
			break;
		}
		if (p->chosen[i] >= 0)
			continue;
		if (h->flags & KIT_HOOK_OPTIONAL) {
			/* absent is expected; refused by the kernel is not */
			if (p->failed[i])
				kit_error("warning: not tracing %s: %s",
					  h->name, p->why[i][0]);
			else
				kit_verbose("hook %s: skipped (%s)", h->name,
					    p->why[i][0]);
			continue;
		}
		report_unattachable(p, i);
		return -1;
	}
	for (i = 0; i < p->nhooks; i++)
		if (p->chosen[i] >= 0)
			return 0;
	/* Only optional hooks, and none of them available: say why for the
	 * first, as for a required one. */
	if (p->nhooks)
		report_unattachable(p, 0);
	else
		kit_error("cannot attach anything: the tool has no hooks");
	return -1;
}

/* Autoload exactly the programs of the chosen alternatives. */
static int select_programs(struct kit *kit)
{
	struct kit_priv *p = kit->priv;
	struct bpf_program *prog;
	int i, k;

	bpf_object__for_each_program(prog, kit->obj)
		bpf_program__set_autoload(prog, false);
	for (i = 0; i < p->nhooks; i++) {
		const struct kit_alt *alt;

		if (p->chosen[i] < 0)
			continue;
		alt = &p->hooks[i]->alts[p->chosen[i]];
		for (k = 0; k < 4 && alt->progs[k]; k++) {
			prog = bpf_object__find_program_by_name(kit->obj,
								alt->progs[k]);
			if (!prog) {
				kit_error("internal error: no BPF program %s",
					  alt->progs[k]);
				return -1;
			}
			bpf_program__set_autoload(prog, true);
		}
	}
	return 0;
}

/* The hook whose chosen alternative contains program name, or -1. */
static int hook_of_prog(struct kit *kit, const char *name)
{
	struct kit_priv *p = kit->priv;
	int i, k;

	for (i = 0; i < p->nhooks; i++) {
		const struct kit_alt *alt;

		if (p->chosen[i] < 0)
			continue;
		alt = &p->hooks[i]->alts[p->chosen[i]];
		for (k = 0; k < 4 && alt->progs[k]; k++)
			if (!strcmp(alt->progs[k], name))
				return i;
	}
	return -1;
}

static void mark_failed(struct kit *kit, int hook, const char *what, int err)
{
	struct kit_priv *p = kit->priv;
	int a = p->chosen[hook];
	const struct kit_alt *alt = &p->hooks[hook]->alts[a];

	p->failed[hook] |= 1u << a;
	snprintf(p->why[hook][a], sizeof(p->why[hook][a]), "%s failed: %s",
		 what, strerror(err));
	if (alt->mech == KIT_MECH_FENTRY && err == EPERM)
		probe.fentry = -1;
	kit_verbose("hook %s: %s via %s failed (%s), trying the next way",
		    p->hooks[hook]->name, what, kit_mech_name(alt->mech),
		    strerror(err));
}

void kit_detach(struct kit *kit)
{
	struct kit_priv *p = kit->priv;

	while (p->nlinks > 0)
		bpf_link__destroy(p->links[--p->nlinks]);
	if (kit->skel)
		kit->tool->skel_destroy(kit->skel);
	kit->skel = NULL;
	kit->obj = NULL;
}

/* Write the common filters into the object's .rodata copy of kit_cfg. */
static int set_kit_cfg(struct kit *kit, const struct kit_cfg *cfg)
{
	const struct btf_var_secinfo *vs;
	const struct btf_type *sec;
	struct bpf_map *map = NULL, *m;
	struct btf *btf = bpf_object__btf(kit->obj);
	size_t size;
	char *data;
	int id, i;

	bpf_object__for_each_map(m, kit->obj) {
		const char *name = bpf_map__name(m);
		size_t len = strlen(name);

		if (len >= 7 && !strcmp(name + len - 7, ".rodata"))
			map = m;
	}
	id = btf ? btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC) :
		   -1;
	if (!map || id <= 0)
		goto missing;
	data = (char *)bpf_map__initial_value(map, &size);
	sec = btf__type_by_id(btf, id);
	vs = btf_var_secinfos(sec);
	for (i = 0; i < btf_vlen(sec); i++, vs++) {
		const struct btf_type *var = btf__type_by_id(btf, vs->type);

		if (strcmp(btf__name_by_offset(btf, var->name_off), "kit_cfg"))
			continue;
		if (!data || vs->offset + sizeof(*cfg) > size)
			goto missing;
		memcpy(data + vs->offset, cfg, sizeof(*cfg));
		return 0;
	}
missing:
	kit_error("internal error: kit_cfg not found in the BPF object");
	return -1;
}

extern int kit_fill_cfg(struct kit *kit, struct kit_cfg *cfg);

/* 0: loaded; 1: the kernel refused the load (*load_err); -1: fatal. */
static int open_and_load(struct kit *kit, int *load_err)
{
	struct bpf_map *rb;
	struct kit_cfg cfg;
	int err;

	kit->skel = kit->tool->skel_open(NULL);
	if (!kit->skel) {
		kit_error("failed to open the BPF object: %s", strerror(errno));
		return -1;
	}
	/* Every skeleton starts with its skeleton pointer, then obj. */
	kit->obj = ((struct bpf_object **)kit->skel)[1];
	if (kit_fill_cfg(kit, &cfg) || set_kit_cfg(kit, &cfg))
		return -1;
	rb = bpf_object__find_map_by_name(kit->obj, "kit_events");
	if (rb && bpf_map__set_max_entries(rb, kit->opts.ringbuf_bytes))
		return -1;
	if (kit->tool->configure && kit->tool->configure(kit, kit->skel))
		return -1;
	if (select_programs(kit))
		return -1;
	probe.last_prog[0] = '\0';
	err = bpf_object__load(kit->obj);
	if (!err)
		return 0;
	*load_err = -err;
	return 1;
}

static int attach_all(struct kit *kit)
{
	struct kit_priv *p = kit->priv;
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, kit->obj) {
		struct bpf_link *link;

		if (!bpf_program__autoload(prog))
			continue;
		link = bpf_program__attach(prog);
		if (!link) {
			int err = errno;
			int h = hook_of_prog(kit, bpf_program__name(prog));

			if (h >= 0)
				mark_failed(kit, h, "attach", err);
			return -err;
		}
		p->links[p->nlinks++] = link;
	}
	return 0;
}

static void report_choices(struct kit *kit)
{
	struct kit_priv *p = kit->priv;
	int i;

	for (i = 0; i < p->nhooks; i++) {
		const struct kit_alt *alt;
		char progs[256];
		size_t off = 0;
		int k;

		if (p->chosen[i] < 0)
			continue;
		alt = &p->hooks[i]->alts[p->chosen[i]];
		kit->mech_used[alt->mech] = kit_mech_name(alt->mech);

		for (k = 0; k < 4 && alt->progs[k]; k++)
			off += snprintf(progs + off, sizeof(progs) - off,
					"%s%s", k ? ", " : "", alt->progs[k]);
		kit_verbose("hook %s: %s %s (%s)", p->hooks[i]->name,
			    kit_mech_name(alt->mech), alt->target, progs);
	}
}

int kit_open_load_attach(struct kit *kit)
{
	int tries, err, h, load_err = 0;

	for (tries = 0; tries < MAX_TRIES; tries++) {
		if (choose(kit))
			return -1;
		err = open_and_load(kit, &load_err);
		if (err < 0) {
			kit_detach(kit);
			return -1;
		}
		if (err > 0) {
			h = probe.last_prog[0] ?
				    hook_of_prog(kit, probe.last_prog) :
				    -1;
			if (h < 0) {
				kit_error("failed to load BPF programs: %s "
					  "(run with -v for libbpf's log)",
					  strerror(load_err));
				kit_detach(kit);
				return -1;
			}
			mark_failed(kit, h, "load", load_err);
			kit_detach(kit);
			continue;
		}
		err = attach_all(kit);
		if (!err) {
			report_choices(kit);
			btf__free(probe.vmlinux);
			probe.vmlinux = NULL;
			return 0;
		}
		kit_detach(kit);
	}
	kit_error("giving up attaching after %d attempts", tries);
	return -1;
}
