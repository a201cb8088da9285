// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * oomkill: trace OOM kills: who was killed, who ran out of memory, how much
 * memory the victim held, and in which cgroup it lived.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "escape.h"
#include "kit.h"
#include "metrics.h"
#include "oomkill.h"
#include "oomkill.skel.h"

static const struct argp_option options[] = {
	{},
};

enum {
	COL_LINE, COL_TIME, COL_TRIGGER_PID, COL_TRIGGER_TID,
	COL_TRIGGER_COMM, COL_PID, COL_TID, COL_COMM, COL_UID, COL_PAGES,
	COL_POINTS, COL_CONSTRAINT, COL_OOM_CGROUP, COL_OOM_CGROUP_ID,
	COL_TOTAL_VM, COL_ANON_RSS, COL_FILE_RSS, COL_SHMEM_RSS, COL_PGTABLES,
	COL_OOM_SCORE_ADJ, COL_CGROUP, COL_CGROUP_ID, COL_CGROUP_HIER,
	COL_LOADAVG, COL_SOURCE, NCOLS
};

#define J KIT_COL_JSON_ONLY

/* Text is one sentence per kill (COL_LINE); JSON has every field. */
static const struct kit_col columns[NCOLS] = {
	[COL_LINE] = { "line", "", 0, KIT_COL_TEXT_ONLY | KIT_COL_LEFT },
	[COL_TIME] = { "time", "TIME", 0, J },
	[COL_TRIGGER_PID] = { "trigger_pid", "TPID", 0, J },
	[COL_TRIGGER_TID] = { "trigger_tid", "TTID", 0, J },
	[COL_TRIGGER_COMM] = { "trigger_comm", "TCOMM", 0, J },
	[COL_PID] = { "pid", "PID", 0, J },
	[COL_TID] = { "tid", "TID", 0, J },
	[COL_COMM] = { "comm", "COMM", 0, J },
	[COL_UID] = { "uid", "UID", 0, J },
	[COL_PAGES] = { "pages", "PAGES", 0, J },
	[COL_POINTS] = { "points", "POINTS", 0, J },
	[COL_CONSTRAINT] = { "constraint", "CONSTRAINT", 0, J },
	[COL_OOM_CGROUP] = { "oom_cgroup", "OOM_CGROUP", 0, J },
	[COL_OOM_CGROUP_ID] = { "oom_cgroup_id", "OOM_CGROUP_ID", 0, J },
	[COL_TOTAL_VM] = { "total_vm_kb", "TOTAL_VM", 0, J },
	[COL_ANON_RSS] = { "anon_rss_kb", "ANON_RSS", 0, J },
	[COL_FILE_RSS] = { "file_rss_kb", "FILE_RSS", 0, J },
	[COL_SHMEM_RSS] = { "shmem_rss_kb", "SHMEM_RSS", 0, J },
	[COL_PGTABLES] = { "pgtables_kb", "PGTABLES", 0, J },
	[COL_OOM_SCORE_ADJ] = { "oom_score_adj", "OOM_SCORE_ADJ", 0, J },
	[COL_CGROUP] = { "cgroup", "CGROUP", 0, J },
	[COL_CGROUP_ID] = { "cgroup_id", "CGROUP_ID", 0, J },
	[COL_CGROUP_HIER] = { "cgroup_hierarchy", "HIERARCHY", 0, J },
	[COL_LOADAVG] = { "loadavg", "LOADAVG", 0, J },
	[COL_SOURCE] = { "source", "SOURCE", 0, J },
};

static const struct kit_hook hooks[] = {
	{ "mark_victim", 0, {
		{ KIT_MECH_TP_BTF, "oom/mark_victim", { "mark_victim_btf" } },
		{ KIT_MECH_RAW_TP, "oom/mark_victim", { "mark_victim_raw" } },
		{ KIT_MECH_TRACEPOINT, "oom/mark_victim",
		  { "mark_victim_tp" } },
		{ KIT_MECH_FENTRY, "oom_kill_process", { "oom_kill_fentry" } },
		{ KIT_MECH_KPROBE, "oom_kill_process", { "oom_kill_kprobe" } },
	} },
	{},
};

static const char *const constraint_names[] = {
	[OOM_CONSTRAINT_UNKNOWN] = NULL,
	[OOM_CONSTRAINT_GLOBAL] = "global",
	[OOM_CONSTRAINT_CPUSET] = "cpuset",
	[OOM_CONSTRAINT_MEMPOLICY] = "mempolicy",
	[OOM_CONSTRAINT_MEMCG] = "memcg",
};

static const char *const source_names[] = {
	[OOM_SRC_MARK_VICTIM_TASK] = "mark_victim",
	[OOM_SRC_MARK_VICTIM_TP] = "mark_victim_record",
	[OOM_SRC_OOM_KILL_PROCESS] = "oom_kill_process",
};

static const char *const hierarchy_names[] = {
	[OOM_CGROUP_NONE] = NULL,
	[OOM_CGROUP_V1_MEMORY] = "memory",
	[OOM_CGROUP_V2] = "unified",
};

#define NAME(table, i)                                                      \
	((size_t)(i) < sizeof(table) / sizeof(table[0]) ? table[i] : NULL)

/* /proc/loadavg as BCC prints it: read when the event is printed. */
static void read_loadavg(char *buf, size_t len)
{
	FILE *f = fopen("/proc/loadavg", "re");

	snprintf(buf, len, "?");
	if (!f)
		return;
	if (fgets(buf, len, f))
		buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
}

static void put_comm(struct strbuf *sb, const char *comm)
{
	kit_escape_text(sb, comm, strnlen(comm, OOMKILL_COMM_LEN));
}

/* The BCC sentence, then what the kernel told us beyond it. */
static void format_line(struct strbuf *sb, const struct oom_event *e,
			const struct kit_out *o, const char *loadavg)
{
	const char *constraint = NAME(constraint_names, e->constraint);
	time_t sec = kit_ktime_to_wall(o, e->ts) / 1000000000LL;
	struct tm tm;
	char hms[16];

	localtime_r(&sec, &tm);
	strftime(hms, sizeof(hms), "%H:%M:%S", &tm);
	sb_printf(sb, "%s Triggered by PID %u (\"", hms, e->trigger_pid);
	put_comm(sb, e->trigger_comm);
	sb_printf(sb, "\"), OOM kill of PID %u (\"", e->victim_pid);
	put_comm(sb, e->victim_comm);
	if (e->totalpages)
		sb_printf(sb, "\"), %llu pages, loadavg: %s", e->totalpages,
			  loadavg);
	else
		sb_printf(sb, "\"), ? pages, loadavg: %s", loadavg);
	sb_printf(sb, ", UID:%u", e->victim_uid);
	if (e->have_rss)
		sb_printf(sb, " anon-rss:%llukB file-rss:%llukB "
			      "shmem-rss:%llukB",
			  e->anon_rss_kb, e->file_rss_kb, e->shmem_rss_kb);
	sb_printf(sb, " oom_score_adj:%d", e->oom_score_adj);
	if (constraint)
		sb_printf(sb, " constraint:%s", constraint);
	if (e->have_oom_cgroup) {
		sb_puts(sb, " memcg:");
		kit_escape_text(sb, e->oom_cgroup.path, e->oom_cgroup.len);
	}
	/* Last: a path may hold spaces. */
	if (e->cgroup.kind != OOM_CGROUP_NONE) {
		sb_puts(sb, " cgroup:");
		kit_escape_text(sb, e->cgroup.path, e->cgroup.len);
		if (e->cgroup.truncated)
			sb_puts(sb, "...");
	}
}

static void col_opt_u64(struct kit_out *o, int col, bool known, uint64_t v)
{
	if (known)
		kit_col_u64(o, col, v);
	else
		kit_col_cstr(o, col, NULL);
}

static void col_cgroup(struct kit_out *o, int col, int id_col,
		       const struct oom_cgroup *cg, bool known)
{
	if (known) {
		kit_col_str_trunc(o, col, cg->path, cg->len,
				  cg->truncated || cg->cut_top);
		kit_col_u64(o, id_col, cg->id);
	} else {
		kit_col_cstr(o, col, NULL);
		kit_col_cstr(o, id_col, NULL);
	}
}

/* --metrics: kills by the victim's cgroup. */
static struct kit_family *kills_metric(struct kit_metrics *m)
{
	return kit_metrics_family(m, &(struct kit_metric_desc){
		.name = "bpfkit_oom_kills_total",
		.help = "OOM kills, by the victim's cgroup (its path in the "
			"memory controller's or the unified hierarchy).",
		.labels = { "cgroup" },
	});
}

static int declare_metrics(struct kit *kit, void *skel, struct kit_metrics *m)
{
	kills_metric(m);
	return 0;
}

static void count_kill(struct kit_metrics *m, const struct oom_event *e)
{
	char cgroup[OOMKILL_CGROUP_MAX + 1];
	const char *v[1] = { cgroup };
	struct kit_family *f = kills_metric(m);
	size_t len = e->cgroup.kind == OOM_CGROUP_NONE ? 0 : e->cgroup.len;

	snprintf(cgroup, sizeof(cgroup), "%.*s",
		 (int)(len < sizeof(e->cgroup.path) ? len :
						      sizeof(e->cgroup.path)),
		 e->cgroup.path);
	if (f)
		kit_counter_add(kit_series(f, v), 1);
}

static int handle_event(struct kit *kit, const void *data, size_t size)
{
	const struct oom_event *e = data;
	struct kit_out *o = &kit->out;
	struct strbuf line = {};
	bool rss = e->have_rss;
	bool cg = e->cgroup.kind != OOM_CGROUP_NONE;
	char loadavg[128];
	int err;

	if (size < sizeof(*e))
		return 0;
	if (kit->metrics)
		count_kill(kit->metrics, e);
	read_loadavg(loadavg, sizeof(loadavg));
	if (o->fmt == KIT_FMT_TEXT)
		format_line(&line, e, o, loadavg);
	kit_row_begin(o);
	kit_col_cstr(o, COL_LINE, line.len ? sb_str(&line) : "");
	kit_col_time(o, COL_TIME, e->ts, KIT_TIME_CLOCK);
	kit_col_u64(o, COL_TRIGGER_PID, e->trigger_pid);
	kit_col_u64(o, COL_TRIGGER_TID, e->trigger_tid);
	kit_col_str(o, COL_TRIGGER_COMM, e->trigger_comm,
		    sizeof(e->trigger_comm));
	kit_col_u64(o, COL_PID, e->victim_pid);
	col_opt_u64(o, COL_TID, e->victim_tid, e->victim_tid);
	kit_col_str(o, COL_COMM, e->victim_comm, sizeof(e->victim_comm));
	kit_col_u64(o, COL_UID, e->victim_uid);
	col_opt_u64(o, COL_PAGES, e->totalpages, e->totalpages);
	if (e->have_points)
		kit_col_s64(o, COL_POINTS, e->points);
	else
		kit_col_cstr(o, COL_POINTS, NULL);
	kit_col_cstr(o, COL_CONSTRAINT, NAME(constraint_names, e->constraint));
	col_cgroup(o, COL_OOM_CGROUP, COL_OOM_CGROUP_ID, &e->oom_cgroup,
		   e->have_oom_cgroup);
	col_opt_u64(o, COL_TOTAL_VM, rss, e->total_vm_kb);
	col_opt_u64(o, COL_ANON_RSS, rss, e->anon_rss_kb);
	col_opt_u64(o, COL_FILE_RSS, rss, e->file_rss_kb);
	col_opt_u64(o, COL_SHMEM_RSS, rss, e->shmem_rss_kb);
	col_opt_u64(o, COL_PGTABLES, rss, e->pgtables_kb);
	kit_col_s64(o, COL_OOM_SCORE_ADJ, e->oom_score_adj);
	col_cgroup(o, COL_CGROUP, COL_CGROUP_ID, &e->cgroup, cg);
	kit_col_cstr(o, COL_CGROUP_HIER, NAME(hierarchy_names, e->cgroup.kind));
	kit_col_cstr(o, COL_LOADAVG, loadavg);
	kit_col_cstr(o, COL_SOURCE, NAME(source_names, e->source));
	err = kit_row_end(o);
	/* An OOM kill is rare and urgent: do not leave it in a buffer. */
	if (!err)
		err = kit_out_flush(o);
	sb_free(&line);
	return err;
}

static int configure(struct kit *kit, void *obj)
{
	struct oomkill_bpf *skel = obj;
	long page = sysconf(_SC_PAGESIZE);
	unsigned int shift = 0;

	while (page > 1 && shift < 31) {
		page >>= 1;
		shift++;
	}
	skel->rodata->page_shift = shift ? shift : 12;
	return 0;
}

static const struct kit_tool tool = {
	.name = "oomkill",
	.doc = "Trace OOM kills: the victim, the task that ran out of memory, "
	       "the victim's memory and cgroup. Filters (-p, -u, -n, --cgroup, "
	       "-- COMMAND) select the victim.",
	.examples =
		"Examples:\n"
		"  oomkill                    # trace OOM kills\n"
		"  oomkill -j                 # NDJSON, every field\n"
		"  oomkill -p 181             # only if PID 181 is killed\n"
		"  oomkill --cgroup /sys/fs/cgroup/memory/app # victims there\n"
		"  oomkill -- ./loadtest      # kills among loadtest and its "
		"children\n",
	.tracing = "Tracing OOM kills",
	.options = options,
	.no_common = KIT_OPT_TID | KIT_OPT_TIMESTAMP,
	KIT_SKEL(oomkill_bpf),
	.hooks = hooks,
	.cols = columns,
	.ncols = NCOLS,
	.ringbuf_bytes = 256u << 10,
	.configure = configure,
	.event = handle_event,
	.metrics = declare_metrics,
};

int main(int argc, char **argv)
{
	return kit_main(&tool, argc, argv);
}
