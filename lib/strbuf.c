// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"

void sb_grow(struct strbuf *sb, size_t extra)
{
	size_t cap = sb->cap ? sb->cap : 256;

	while (cap < sb->len + extra + 1)
		cap *= 2;
	if (cap == sb->cap)
		return;
	sb->buf = realloc(sb->buf, cap);
	if (!sb->buf) {
		fputs("out of memory\n", stderr);
		abort();
	}
	sb->cap = cap;
}

void sb_free(struct strbuf *sb)
{
	free(sb->buf);
	sb->buf = NULL;
	sb->len = sb->cap = 0;
}

void sb_put(struct strbuf *sb, const char *s, size_t len)
{
	if (sb->len + len + 1 > sb->cap)
		sb_grow(sb, len);
	memcpy(sb->buf + sb->len, s, len);
	sb->len += len;
}

void sb_puts(struct strbuf *sb, const char *s)
{
	sb_put(sb, s, strlen(s));
}

void sb_pad(struct strbuf *sb, char c, size_t n)
{
	if (sb->len + n + 1 > sb->cap)
		sb_grow(sb, n);
	memset(sb->buf + sb->len, c, n);
	sb->len += n;
}

void sb_u64(struct strbuf *sb, uint64_t v)
{
	char tmp[20];
	int i = sizeof(tmp);

	do {
		tmp[--i] = '0' + v % 10;
		v /= 10;
	} while (v);
	sb_put(sb, tmp + i, sizeof(tmp) - i);
}

void sb_s64(struct strbuf *sb, int64_t v)
{
	if (v < 0) {
		sb_putc(sb, '-');
		sb_u64(sb, -(uint64_t)v);
	} else {
		sb_u64(sb, v);
	}
}

void sb_printf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n <= 0)
		return;
	sb_grow(sb, n);
	va_start(ap, fmt);
	vsnprintf(sb->buf + sb->len, n + 1, fmt, ap);
	va_end(ap);
	sb->len += n;
}

const char *sb_str(struct strbuf *sb)
{
	sb_grow(sb, 0);
	sb->buf[sb->len] = '\0';
	return sb->buf;
}
