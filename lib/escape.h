/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Escaping of untrusted strings (file names, comms) for a terminal and for
 * JSON. Pure code. Nothing that a terminal could interpret, and no invalid
 * UTF-8, is ever passed through.
 */
#ifndef KIT_ESCAPE_H
#define KIT_ESCAPE_H

#include <stddef.h>

#include "strbuf.h"

/*
 * Text: printable ASCII and valid UTF-8 printable characters pass; '\\' is
 * doubled; \n \t \r are written as such; other control bytes, C1 controls,
 * bidirectional overrides and invalid UTF-8 bytes become \xNN. The result
 * is unambiguous: it can be unescaped to the original bytes.
 */
void kit_escape_text(struct strbuf *sb, const char *s, size_t len);

/*
 * JSON string contents (without quotes): '"' and '\\' escaped, control
 * characters as \n, \t, \r or \u00NN, C1 and bidi controls as \uNNNN,
 * invalid UTF-8 bytes as U+FFFD. Always valid JSON.
 */
void kit_escape_json(struct strbuf *sb, const char *s, size_t len);

/*
 * Length of the valid UTF-8 sequence at s (1..4), or 0 when the bytes at s
 * are not a valid, shortest-form, non-surrogate sequence. *cp gets the code
 * point.
 */
size_t kit_utf8_decode(const unsigned char *s, size_t len, unsigned int *cp);

#endif /* KIT_ESCAPE_H */
