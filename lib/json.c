// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "json.h"

void jw_init(struct jw *w, struct strbuf *sb)
{
	memset(w, 0, sizeof(*w));
	w->sb = sb;
}

/* Before a value or key: the comma that separates it from the previous. */
static void jw_sep(struct jw *w)
{
	if (w->need_comma[w->depth])
		sb_putc(w->sb, ',');
	w->need_comma[w->depth] = true;
}

static void jw_open(struct jw *w, char c)
{
	jw_sep(w);
	sb_putc(w->sb, c);
	if (w->depth < JW_MAX_DEPTH - 1)
		w->depth++;
	w->need_comma[w->depth] = false;
}

static void jw_close(struct jw *w, char c)
{
	sb_putc(w->sb, c);
	if (w->depth > 0)
		w->depth--;
}

void jw_obj_begin(struct jw *w)
{
	jw_open(w, '{');
}

void jw_obj_end(struct jw *w)
{
	jw_close(w, '}');
}

void jw_arr_begin(struct jw *w)
{
	jw_open(w, '[');
}

void jw_arr_end(struct jw *w)
{
	jw_close(w, ']');
}

void jw_key(struct jw *w, const char *key)
{
	jw_sep(w);
	sb_putc(w->sb, '"');
	kit_escape_json(w->sb, key, strlen(key));
	sb_put(w->sb, "\":", 2);
	/* The value that follows needs no comma of its own. */
	w->need_comma[w->depth] = false;
}

/* After a value: the next item at this level needs a comma. */
static void jw_done(struct jw *w)
{
	w->need_comma[w->depth] = true;
}

void jw_strn(struct jw *w, const char *s, size_t len)
{
	jw_sep(w);
	sb_putc(w->sb, '"');
	kit_escape_json(w->sb, s, len);
	sb_putc(w->sb, '"');
	jw_done(w);
}

void jw_str(struct jw *w, const char *s)
{
	if (!s) {
		jw_null(w);
		return;
	}
	jw_strn(w, s, strlen(s));
}

void jw_u64(struct jw *w, uint64_t v)
{
	jw_sep(w);
	sb_u64(w->sb, v);
	jw_done(w);
}

void jw_s64(struct jw *w, int64_t v)
{
	jw_sep(w);
	sb_s64(w->sb, v);
	jw_done(w);
}

void jw_double(struct jw *w, double v)
{
	jw_sep(w);
	if (isfinite(v)) {
		char buf[32];

		/* the shortest of the usual forms that reads back exactly */
		snprintf(buf, sizeof(buf), "%.15g", v);
		if (strtod(buf, NULL) != v)
			snprintf(buf, sizeof(buf), "%.17g", v);
		sb_puts(w->sb, buf);
	} else
		sb_puts(w->sb, "null");
	jw_done(w);
}

void jw_bool(struct jw *w, bool v)
{
	jw_sep(w);
	sb_puts(w->sb, v ? "true" : "false");
	jw_done(w);
}

void jw_null(struct jw *w)
{
	jw_sep(w);
	sb_puts(w->sb, "null");
	jw_done(w);
}
