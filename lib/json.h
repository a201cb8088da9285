/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * A small streaming JSON writer into a strbuf: objects, arrays, keys and
 * scalars, commas handled by the writer. Pure code; every string goes
 * through kit_escape_json, so the output is always valid JSON.
 */
#ifndef KIT_JSON_H
#define KIT_JSON_H

#include <stdbool.h>
#include <stdint.h>

#include "strbuf.h"

#define JW_MAX_DEPTH 16

struct jw {
	struct strbuf *sb;
	int depth;
	bool need_comma[JW_MAX_DEPTH];
};

void jw_init(struct jw *w, struct strbuf *sb);
void jw_obj_begin(struct jw *w);
void jw_obj_end(struct jw *w);
void jw_arr_begin(struct jw *w);
void jw_arr_end(struct jw *w);
void jw_key(struct jw *w, const char *key);
void jw_str(struct jw *w, const char *s);
void jw_strn(struct jw *w, const char *s, size_t len);
void jw_u64(struct jw *w, uint64_t v);
void jw_s64(struct jw *w, int64_t v);
/* NaN and infinities are written as null: JSON has no such numbers. */
void jw_double(struct jw *w, double v);
void jw_bool(struct jw *w, bool v);
void jw_null(struct jw *w);

/* Key and value in one call. */
static inline void jw_kv_u64(struct jw *w, const char *k, uint64_t v)
{
	jw_key(w, k);
	jw_u64(w, v);
}

static inline void jw_kv_s64(struct jw *w, const char *k, int64_t v)
{
	jw_key(w, k);
	jw_s64(w, v);
}

static inline void jw_kv_str(struct jw *w, const char *k, const char *v)
{
	jw_key(w, k);
	jw_str(w, v);
}

static inline void jw_kv_double(struct jw *w, const char *k, double v)
{
	jw_key(w, k);
	jw_double(w, v);
}

static inline void jw_kv_bool(struct jw *w, const char *k, bool v)
{
	jw_key(w, k);
	jw_bool(w, v);
}

#endif /* KIT_JSON_H */
