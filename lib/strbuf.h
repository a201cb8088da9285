/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* A growable byte buffer for building output lines. Pure code. */
#ifndef KIT_STRBUF_H
#define KIT_STRBUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct strbuf {
	char *buf;
	size_t len;
	size_t cap;
};

/* Allocation failure aborts: output lines are small and bounded. */
void sb_grow(struct strbuf *sb, size_t extra);
void sb_free(struct strbuf *sb);

static inline void sb_reset(struct strbuf *sb)
{
	sb->len = 0;
}

static inline void sb_putc(struct strbuf *sb, char c)
{
	if (sb->len + 1 > sb->cap)
		sb_grow(sb, 1);
	sb->buf[sb->len++] = c;
}

void sb_put(struct strbuf *sb, const char *s, size_t len);
void sb_puts(struct strbuf *sb, const char *s);
void sb_pad(struct strbuf *sb, char c, size_t n);
void sb_u64(struct strbuf *sb, uint64_t v);
void sb_s64(struct strbuf *sb, int64_t v);
void sb_printf(struct strbuf *sb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* NUL-terminated view of the contents (the NUL is not counted in len). */
const char *sb_str(struct strbuf *sb);

#endif /* KIT_STRBUF_H */
