// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <string.h>
#include <time.h>

#include "escape.h"
#include "output.h"

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

void kit_out_init(struct kit_out *o, FILE *f, enum kit_format fmt,
		  const struct kit_col *cols, int ncols)
{
	int i;

	memset(o, 0, sizeof(*o));
	o->f = f;
	o->fmt = fmt;
	o->cols = cols;
	o->ncols = ncols < KIT_MAX_COLS ? ncols : KIT_MAX_COLS;
	for (i = 0; i < o->ncols; i++)
		o->shown[i] = !(cols[i].flags &
				(KIT_COL_HIDDEN | KIT_COL_JSON_ONLY));
	o->mono_start = clock_ns(CLOCK_MONOTONIC);
	o->wall_offset = (int64_t)(clock_ns(CLOCK_REALTIME) - o->mono_start);
}

void kit_out_free(struct kit_out *o)
{
	sb_free(&o->line);
}

void kit_out_show(struct kit_out *o, int col, bool show)
{
	if (col >= 0 && col < o->ncols &&
	    !(o->cols[col].flags & KIT_COL_JSON_ONLY))
		o->shown[col] = show;
}

int64_t kit_ktime_to_wall(const struct kit_out *o, uint64_t ktime_ns)
{
	return (int64_t)ktime_ns + o->wall_offset;
}

static int write_line(struct kit_out *o)
{
	if (o->err)
		return -1;
	if (fwrite(o->line.buf, 1, o->line.len, o->f) != o->line.len) {
		o->err = errno ? errno : EIO;
		return -1;
	}
	return 0;
}

void kit_out_header(struct kit_out *o)
{
	int i;

	if (o->fmt != KIT_FMT_TEXT)
		return;
	kit_row_begin(o);
	for (i = 0; i < o->ncols; i++)
		kit_col_cstr(o, i, o->cols[i].header);
	kit_row_end(o);
}

void kit_row_begin(struct kit_out *o)
{
	sb_reset(&o->line);
	o->col = 0;
	if (o->fmt == KIT_FMT_JSON) {
		jw_init(&o->jw, &o->line);
		jw_obj_begin(&o->jw);
	}
}

int kit_row_end(struct kit_out *o)
{
	if (o->fmt == KIT_FMT_JSON) {
		jw_obj_end(&o->jw);
	} else {
		while (o->line.len && o->line.buf[o->line.len - 1] == ' ')
			o->line.len--;
	}
	sb_putc(&o->line, '\n');
	return write_line(o);
}

/*
 * Text: start a column if it is shown; returns the offset where its value
 * begins, or -1 when the column is not printed. JSON: writes the key.
 */
static long col_begin(struct kit_out *o, int col, const char *suffix)
{
	const struct kit_col *c;

	if (col < 0 || col >= o->ncols)
		return -1;
	c = &o->cols[col];
	if (o->fmt == KIT_FMT_JSON) {
		if (c->flags & KIT_COL_TEXT_ONLY)
			return -1;
		if (suffix) {
			char key[64];

			snprintf(key, sizeof(key), "%s%s", c->key, suffix);
			jw_key(&o->jw, key);
		} else {
			jw_key(&o->jw, c->key);
		}
		return 0;
	}
	if (suffix || !o->shown[col])
		return -1;
	if (o->col++)
		sb_putc(&o->line, ' ');
	return (long)o->line.len;
}

/* Text: pad the value that starts at off to the column's width. */
static void col_end(struct kit_out *o, int col, long off)
{
	const struct kit_col *c = &o->cols[col];
	size_t len = o->line.len - off;
	size_t pad;

	if (o->fmt != KIT_FMT_TEXT || c->width <= 0 || (size_t)c->width <= len)
		return;
	pad = c->width - len;
	if (c->flags & KIT_COL_LEFT) {
		sb_pad(&o->line, ' ', pad);
		return;
	}
	sb_grow(&o->line, pad);
	memmove(o->line.buf + off + pad, o->line.buf + off, len);
	memset(o->line.buf + off, ' ', pad);
	o->line.len += pad;
}

void kit_col_u64(struct kit_out *o, int col, uint64_t v)
{
	long off = col_begin(o, col, NULL);

	if (off < 0)
		return;
	if (o->fmt == KIT_FMT_JSON) {
		jw_u64(&o->jw, v);
		return;
	}
	sb_u64(&o->line, v);
	col_end(o, col, off);
}

void kit_col_s64(struct kit_out *o, int col, int64_t v)
{
	long off = col_begin(o, col, NULL);

	if (off < 0)
		return;
	if (o->fmt == KIT_FMT_JSON) {
		jw_s64(&o->jw, v);
		return;
	}
	sb_s64(&o->line, v);
	col_end(o, col, off);
}

void kit_col_double(struct kit_out *o, int col, double v, int prec)
{
	long off = col_begin(o, col, NULL);

	if (off < 0)
		return;
	if (o->fmt == KIT_FMT_JSON) {
		jw_double(&o->jw, v);
		return;
	}
	sb_printf(&o->line, "%.*f", prec, v);
	col_end(o, col, off);
}

void kit_col_str_trunc(struct kit_out *o, int col, const char *s,
		       size_t len, bool truncated)
{
	long off = col_begin(o, col, NULL);

	if (off >= 0) {
		len = strnlen(s, len);
		if (o->fmt == KIT_FMT_JSON) {
			jw_strn(&o->jw, s, len);
		} else {
			kit_escape_text(&o->line, s, len);
			if (truncated)
				sb_put(&o->line, "...", 3);
			col_end(o, col, off);
		}
	}
	if (truncated && col_begin(o, col, "_truncated") >= 0)
		jw_bool(&o->jw, true);
}

void kit_col_str(struct kit_out *o, int col, const char *s, size_t len)
{
	kit_col_str_trunc(o, col, s, len, false);
}

void kit_col_cstr(struct kit_out *o, int col, const char *s)
{
	long off = col_begin(o, col, NULL);

	if (off < 0)
		return;
	if (o->fmt == KIT_FMT_JSON) {
		jw_str(&o->jw, s);
		return;
	}
	sb_puts(&o->line, s ? s : "-");
	col_end(o, col, off);
}

void kit_col_decoded(struct kit_out *o, int col, uint64_t raw,
		     const char *decoded)
{
	long off = col_begin(o, col, NULL);

	if (off < 0)
		return;
	if (o->fmt == KIT_FMT_TEXT) {
		sb_puts(&o->line, decoded);
		col_end(o, col, off);
		return;
	}
	jw_u64(&o->jw, raw);
	col_begin(o, col, "_str");
	jw_str(&o->jw, decoded);
}

void kit_col_errno(struct kit_out *o, int col, int err)
{
	const char *name = err > 0 ? strerrorname_np(err) : NULL;

	kit_col_s64(o, col, err);
	if (col_begin(o, col, "_name") >= 0)
		jw_str(&o->jw, name);
}

void kit_col_time(struct kit_out *o, int col, uint64_t ktime_ns,
		  enum kit_time_fmt fmt)
{
	int64_t wall = kit_ktime_to_wall(o, ktime_ns);
	time_t sec = wall / 1000000000LL;
	long off = col_begin(o, col, NULL);
	struct tm tm;
	char buf[64];

	if (off < 0)
		return;
	if (o->fmt == KIT_FMT_JSON) {
		gmtime_r(&sec, &tm);
		strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
		sb_printf(&o->line, "\"%s.%06lldZ\"", buf,
			  (long long)(wall % 1000000000LL) / 1000);
		o->jw.need_comma[o->jw.depth] = true;
		col_begin(o, col, "_ns");
		jw_u64(&o->jw, ktime_ns);
		return;
	}
	if (fmt == KIT_TIME_CLOCK) {
		localtime_r(&sec, &tm);
		strftime(buf, sizeof(buf), "%H:%M:%S", &tm);
		sb_puts(&o->line, buf);
	} else {
		int64_t d = (int64_t)(ktime_ns - o->mono_start);

		if (d < 0)
			d = 0;
		sb_printf(&o->line, "%lld.%06lld", (long long)(d / 1000000000),
			  (long long)(d % 1000000000) / 1000);
	}
	col_end(o, col, off);
}

int kit_out_write(struct kit_out *o, const char *buf, size_t len)
{
	if (o->err)
		return -1;
	if (len && fwrite(buf, 1, len, o->f) != len) {
		o->err = errno ? errno : EIO;
		return -1;
	}
	return kit_out_flush(o);
}

int kit_out_flush(struct kit_out *o)
{
	if (o->err)
		return -1;
	if (fflush(o->f)) {
		o->err = errno ? errno : EIO;
		return -1;
	}
	return 0;
}
