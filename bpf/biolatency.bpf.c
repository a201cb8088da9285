// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * biolatency: block I/O latency, issue (or insert, -Q) to completion,
 * aggregated in the kernel into log-linear histograms per disk and flags.
 *
 * Two ways to observe a request, chosen by tools/biolatency.c:
 *  - the block_rq_* tracepoints, whose fields (dev, sector, rwbs) are a
 *    stable ABI on every kernel; a request is matched by (dev, sector);
 *  - tp_btf/raw_tp on the same tracepoints, reading struct request with
 *    CO-RE; a request is matched by its address. Before 5.11 insert and
 *    issue also passed the request_queue first: the *_q variants take
 *    that prototype, and the verifier (tp_btf) or the attach (raw_tp)
 *    rejects whichever does not fit the running kernel.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include "kit.bpf.h"
#include "hist.bpf.h"
#include "biolatency.h"

const volatile bool targ_queued = false;
const volatile bool targ_per_disk = false;
const volatile bool targ_per_flag = false;
const volatile bool targ_ms = false;
const volatile bool filter_dev = false;
const volatile __u32 targ_dev = 0;

struct start_key {
	__u64 id;	/* sector (tracepoints) or request address */
	__u32 dev;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct start_key);
	__type(value, __u64);
} start SEC(".maps");

HIST_MAP(hists, struct bio_hist_key, 1024);

/* A request is issued (or inserted): dev and id are its key, the caller
 * has applied -d. */
static __always_inline int io_start(__u32 dev, __u64 id, bool insert)
{
	struct start_key key = { .id = id, .dev = dev };
	__u64 ts;

	if (insert && !targ_queued)
		return 0;
	if (!kit_filter_current(bpf_get_current_pid_tgid()))
		return 0;
	ts = bpf_ktime_get_ns();
	/* with -Q the insert time stands; an issue without insert counts */
	bpf_map_update_elem(&start, &key, &ts,
			    targ_queued && !insert ? BPF_NOEXIST : BPF_ANY);
	return 0;
}

/* A request completes: (key_dev, id) as at its start; dev and flags for
 * -D and -F. */
static __always_inline int io_done(__u32 key_dev, __u64 id, __u32 dev,
				   __u32 flags)
{
	struct start_key key = { .id = id, .dev = key_dev };
	struct bio_hist_key hkey = {};
	__u64 *tsp, delta;

	tsp = bpf_map_lookup_elem(&start, &key);
	if (!tsp)
		return 0;
	delta = bpf_ktime_get_ns() - *tsp;
	bpf_map_delete_elem(&start, &key);
	if ((__s64)delta < 0)
		return 0;
	delta /= targ_ms ? 1000000 : 1000;
	hkey.gen = hist_current_gen();
	if (targ_per_disk)
		hkey.dev = dev;
	if (targ_per_flag)
		hkey.flags = flags;
	hist_add(&hists, &hkey, delta);
	return 0;
}

/* ---- the tracepoints: dev, sector, rwbs -------------------------------- */

/* blk_fill_rwbs(): [F]lush first, the op (R W D DE F N), then F(UA),
 * A(head), S(ync), M(eta). Constant indexes only, for the verifier. */
static __always_inline __u32 rwbs_flags(const char *rwbs)
{
	char c1 = rwbs[1];
	int pre = rwbs[0] == 'F' && (c1 == 'W' || c1 == 'R' || c1 == 'D' ||
				     c1 == 'N' || c1 == 'F');
	char op = pre ? c1 : rwbs[0];
	char next = pre ? rwbs[2] : c1;
	__u32 f = pre ? BIO_F_PREFLUSH : 0;
	int k;

	if (op == 'R')
		f |= BIO_OP_READ;
	else if (op == 'W')
		f |= BIO_OP_WRITE;
	else if (op == 'D')
		f |= next == 'E' ? BIO_OP_SECURE_ERASE : BIO_OP_DISCARD;
	else if (op == 'F')
		f |= BIO_OP_FLUSH;
#pragma unroll
	for (k = 1; k < 7; k++) {
		char c = rwbs[k];

		if (k <= pre)
			continue;
		if (c == 'F')
			f |= BIO_F_FUA;
		else if (c == 'A')
			f |= BIO_F_AHEAD;
		else if (c == 'S')
			f |= BIO_F_SYNC;
		else if (c == 'M')
			f |= BIO_F_META;
	}
	return f;
}

SEC("tracepoint/block/block_rq_insert")
int tp_insert(struct trace_event_raw_block_rq *ctx)
{
	if (filter_dev && ctx->dev != targ_dev)
		return 0;
	return io_start(ctx->dev, ctx->sector, true);
}

SEC("tracepoint/block/block_rq_issue")
int tp_issue(struct trace_event_raw_block_rq *ctx)
{
	if (filter_dev && ctx->dev != targ_dev)
		return 0;
	return io_start(ctx->dev, ctx->sector, false);
}

SEC("tracepoint/block/block_rq_complete")
int tp_complete(struct trace_event_raw_block_rq_completion *ctx)
{
	char rwbs[8] = {};

	/*
	 * Tracepoint context is read in place, each byte with its own
	 * (CO-RE relocated) offset: the verifier allows no pointer into it.
	 */
	if (targ_per_flag) {
		rwbs[0] = ctx->rwbs[0];
		rwbs[1] = ctx->rwbs[1];
		rwbs[2] = ctx->rwbs[2];
		rwbs[3] = ctx->rwbs[3];
		rwbs[4] = ctx->rwbs[4];
		rwbs[5] = ctx->rwbs[5];
		rwbs[6] = ctx->rwbs[6];
	}
	return io_done(ctx->dev, ctx->sector, ctx->dev,
		       targ_per_flag ? rwbs_flags(rwbs) : 0);
}

/* ---- struct request, with CO-RE ---------------------------------------- */

struct request___old {
	struct gendisk *rq_disk;
} __attribute__((preserve_access_index));

static __always_inline __u32 rq_dev(struct request *rq)
{
	struct gendisk *disk;

	if (bpf_core_field_exists(((struct request___old *)0)->rq_disk))
		disk = BPF_CORE_READ((struct request___old *)rq, rq_disk);
	else
		disk = BPF_CORE_READ(rq, q, disk);
	if (!disk)
		return 0;
	return (BPF_CORE_READ(disk, major) << 20) |
	       BPF_CORE_READ(disk, first_minor);
}

static __always_inline __u32 rq_flags(struct request *rq)
{
	__u32 opf = BPF_CORE_READ(rq, cmd_flags), f = 0;

	switch (opf & 0xff) {
	case 0:
		f = BIO_OP_READ;
		break;
	case 1:
		f = BIO_OP_WRITE;
		break;
	case 2:
		f = BIO_OP_FLUSH;
		break;
	case 3:
		f = BIO_OP_DISCARD;
		break;
	case 5:
		f = BIO_OP_SECURE_ERASE;
		break;
	}
	if (opf & (1u << bpf_core_enum_value(enum req_flag_bits, __REQ_SYNC)))
		f |= BIO_F_SYNC;
	if (opf & (1u << bpf_core_enum_value(enum req_flag_bits, __REQ_FUA)))
		f |= BIO_F_FUA;
	if (opf & (1u << bpf_core_enum_value(enum req_flag_bits, __REQ_META)))
		f |= BIO_F_META;
	if (opf & (1u << bpf_core_enum_value(enum req_flag_bits,
					       __REQ_RAHEAD)))
		f |= BIO_F_AHEAD;
	if (opf & (1u << bpf_core_enum_value(enum req_flag_bits,
					       __REQ_PREFLUSH)))
		f |= BIO_F_PREFLUSH;
	return f;
}

/*
 * The address of a request in flight is unique, so it is the whole key:
 * the disk (four reads through the request) is looked up only for -d at
 * the start and -D at completion.
 */
static __always_inline int rq_start(struct request *rq, bool insert)
{
	if (filter_dev && rq_dev(rq) != targ_dev)
		return 0;
	return io_start(0, (__u64)rq, insert);
}

static __always_inline int rq_done(struct request *rq)
{
	return io_done(0, (__u64)rq, targ_per_disk ? rq_dev(rq) : 0,
		       targ_per_flag ? rq_flags(rq) : 0);
}

SEC("tp_btf/block_rq_insert")
int BPF_PROG(btf_insert_q, struct request_queue *q, struct request *rq)
{
	return rq_start(rq, true);
}

SEC("tp_btf/block_rq_issue")
int BPF_PROG(btf_issue_q, struct request_queue *q, struct request *rq)
{
	return rq_start(rq, false);
}

SEC("tp_btf/block_rq_insert")
int BPF_PROG(btf_insert, struct request *rq)
{
	return rq_start(rq, true);
}

SEC("tp_btf/block_rq_issue")
int BPF_PROG(btf_issue, struct request *rq)
{
	return rq_start(rq, false);
}

SEC("tp_btf/block_rq_complete")
int BPF_PROG(btf_complete, struct request *rq)
{
	return rq_done(rq);
}

SEC("raw_tp/block_rq_insert")
int BPF_PROG(raw_insert_q, struct request_queue *q, struct request *rq)
{
	return rq_start(rq, true);
}

SEC("raw_tp/block_rq_issue")
int BPF_PROG(raw_issue_q, struct request_queue *q, struct request *rq)
{
	return rq_start(rq, false);
}

SEC("raw_tp/block_rq_insert")
int BPF_PROG(raw_insert, struct request *rq)
{
	return rq_start(rq, true);
}

SEC("raw_tp/block_rq_issue")
int BPF_PROG(raw_issue, struct request *rq)
{
	return rq_start(rq, false);
}

SEC("raw_tp/block_rq_complete")
int BPF_PROG(raw_complete, struct request *rq)
{
	return rq_done(rq);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
