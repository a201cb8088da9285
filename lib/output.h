/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * One description of an event's fields (a column table) drives both the
 * text table and NDJSON. A tool declares its columns once and, per event,
 * calls kit_col_*() in column order between kit_row_begin/kit_row_end.
 *
 * Text shows the columns the options enabled (kit_out_show); JSON always
 * carries every column, so its schema does not depend on options.
 */
#ifndef KIT_OUTPUT_H
#define KIT_OUTPUT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "json.h"
#include "strbuf.h"

enum kit_format {
	KIT_FMT_TEXT,
	KIT_FMT_JSON,
};

enum kit_col_flags {
	KIT_COL_HIDDEN = 1 << 0,    /* text: not shown unless kit_out_show */
	KIT_COL_LEFT = 1 << 1,      /* text: left-aligned (default right) */
	KIT_COL_TEXT_ONLY = 1 << 2, /* not in JSON */
	KIT_COL_JSON_ONLY = 1 << 3, /* never in text */
};

struct kit_col {
	const char *key;    /* JSON key, stable and documented */
	const char *header; /* text column header */
	int width;          /* text width (minimum) */
	unsigned int flags; /* enum kit_col_flags */
};

enum kit_time_fmt {
	KIT_TIME_ELAPSED, /* seconds since the tool started, "1.234567" */
	KIT_TIME_CLOCK,   /* local wall clock, "HH:MM:SS" */
};

#define KIT_MAX_COLS 32

struct kit_out {
	FILE *f;
	enum kit_format fmt;
	const struct kit_col *cols;
	int ncols;
	bool shown[KIT_MAX_COLS];
	int col;	      /* columns written in this row (text) */
	struct strbuf line;   /* the row being built */
	struct jw jw;
	uint64_t mono_start;  /* CLOCK_MONOTONIC ns when the tool started */
	int64_t wall_offset;  /* CLOCK_REALTIME - CLOCK_MONOTONIC, ns */
	int err;              /* first write error (errno), sticky */
};

void kit_out_init(struct kit_out *o, FILE *f, enum kit_format fmt,
		  const struct kit_col *cols, int ncols);
void kit_out_free(struct kit_out *o);
/* Show (text) a column declared KIT_COL_HIDDEN, or hide one. */
void kit_out_show(struct kit_out *o, int col, bool show);
/* Text: the header line of the shown columns. JSON: nothing. */
void kit_out_header(struct kit_out *o);

void kit_row_begin(struct kit_out *o);
/* Ends the row and writes it out. Returns -1 on a write error. */
int kit_row_end(struct kit_out *o);

void kit_col_u64(struct kit_out *o, int col, uint64_t v);
void kit_col_s64(struct kit_out *o, int col, int64_t v);
void kit_col_double(struct kit_out *o, int col, double v, int prec);
/* An untrusted string of at most len bytes (stops at NUL). Escaped. */
void kit_col_str(struct kit_out *o, int col, const char *s, size_t len);
/* As kit_col_str, marked cut off: text appends "...", JSON adds
 * "<key>_truncated": true. */
void kit_col_str_trunc(struct kit_out *o, int col, const char *s,
		       size_t len, bool truncated);
/* A trusted string (a constant or one we formatted ourselves). */
void kit_col_cstr(struct kit_out *o, int col, const char *s);
/* Raw and decoded: text shows the decoded form, JSON both, with the
 * decoded one under "<key>_str". */
void kit_col_decoded(struct kit_out *o, int col, uint64_t raw,
		     const char *decoded);
/* An errno value: text the number, JSON "<key>": n, "<key>_name": "ENOENT"
 * (null for 0). */
void kit_col_errno(struct kit_out *o, int col, int err);
/* A kernel timestamp (bpf_ktime_get_ns). JSON: "<key>": wall clock
 * ISO 8601 with microseconds, "<key>_ns": the raw value. */
void kit_col_time(struct kit_out *o, int col, uint64_t ktime_ns,
		  enum kit_time_fmt fmt);

/* Wall-clock time for a bpf_ktime_get_ns() value, in ns since the epoch. */
int64_t kit_ktime_to_wall(const struct kit_out *o, uint64_t ktime_ns);

/* Write pre-formatted output (histograms) and flush; -1 and o->err set on
 * a write error. */
int kit_out_write(struct kit_out *o, const char *buf, size_t len);

/* Flush; returns -1 and sets o->err on a write error. */
int kit_out_flush(struct kit_out *o);

#endif /* KIT_OUTPUT_H */
