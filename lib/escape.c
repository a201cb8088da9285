// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <stdbool.h>

#include "escape.h"

static const char hex[] = "0123456789abcdef";

size_t kit_utf8_decode(const unsigned char *s, size_t len, unsigned int *cp)
{
	unsigned int c = s[0], min;
	size_t n, i;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2, c &= 0x1f, min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3, c &= 0x0f, min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4, c &= 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (n > len)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

/* Code points a terminal may act on although they are valid UTF-8. */
static bool is_dangerous(unsigned int cp)
{
	return (cp >= 0x80 && cp <= 0x9f) ||	   /* C1 controls, e.g. CSI */
	       (cp >= 0x200e && cp <= 0x200f) ||   /* LRM, RLM */
	       (cp >= 0x2028 && cp <= 0x202e) ||   /* separators, embeds */
	       (cp >= 0x2066 && cp <= 0x2069) ||   /* isolates */
	       cp == 0xfeff;
}

static void put_hex_byte(struct strbuf *sb, unsigned char b)
{
	char e[4] = { '\\', 'x', hex[b >> 4], hex[b & 15] };

	sb_put(sb, e, 4);
}

void kit_escape_text(struct strbuf *sb, const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, n, k;
	unsigned int cp;

	while (i < len) {
		unsigned char c = s[i];

		if (c >= 0x20 && c < 0x7f) {
			if (c == '\\')
				sb_putc(sb, '\\');
			sb_putc(sb, c);
			i++;
			continue;
		}
		switch (c) {
		case '\n':
			sb_put(sb, "\\n", 2);
			i++;
			continue;
		case '\t':
			sb_put(sb, "\\t", 2);
			i++;
			continue;
		case '\r':
			sb_put(sb, "\\r", 2);
			i++;
			continue;
		}
		n = c >= 0x80 ? kit_utf8_decode(s + i, len - i, &cp) : 0;
		if (n && !is_dangerous(cp)) {
			sb_put(sb, str + i, n);
		} else {
			/* Escape every byte of a bad or dangerous sequence. */
			for (k = 0; k < (n ? n : 1); k++)
				put_hex_byte(sb, s[i + k]);
			n = n ? n : 1;
		}
		i += n;
	}
}

static void put_u_escape(struct strbuf *sb, unsigned int cp)
{
	char e[6] = { '\\', 'u', hex[(cp >> 12) & 15], hex[(cp >> 8) & 15],
		      hex[(cp >> 4) & 15], hex[cp & 15] };

	sb_put(sb, e, 6);
}

void kit_escape_json(struct strbuf *sb, const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, n;
	unsigned int cp;

	while (i < len) {
		unsigned char c = s[i];

		if (c >= 0x20 && c < 0x7f) {
			if (c == '"' || c == '\\')
				sb_putc(sb, '\\');
			sb_putc(sb, c);
			i++;
			continue;
		}
		if (c < 0x80) {
			switch (c) {
			case '\n':
				sb_put(sb, "\\n", 2);
				break;
			case '\t':
				sb_put(sb, "\\t", 2);
				break;
			case '\r':
				sb_put(sb, "\\r", 2);
				break;
			default:
				put_u_escape(sb, c);
			}
			i++;
			continue;
		}
		n = kit_utf8_decode(s + i, len - i, &cp);
		if (!n) {
			put_u_escape(sb, 0xfffd);
			i++;
		} else if (is_dangerous(cp)) {
			put_u_escape(sb, cp);
			i += n;
		} else {
			sb_put(sb, str + i, n);
			i += n;
		}
	}
}
