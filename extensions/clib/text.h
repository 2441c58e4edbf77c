/*
 * text.h — what the built-in C extensions share: building the messages that
 * go with a status or a log line, and checking UTF-8.
 *
 * text.c is compiled into each extension by a one-line text.c in its own
 * folder (#include "../clib/text.c"), so that `make extensions` and
 * internal/testwasm keep building one folder's .c files.
 *
 * A message is built in one buffer (msg_reset, then msg_*), then sent with
 * msg_fail or msg_log. Messages name files, lines, names and parameters;
 * never a value.
 */
#ifndef CLIB_TEXT_H
#define CLIB_TEXT_H

#include "sesame.h"

void msg_reset(void);
void msg_str(const char *s);
void msg_bytes(const void *p, uint32_t n);
void msg_num(uint64_t v);
void msg_quote(const uint8_t *s, uint32_t n);
uint32_t msg_fail(uint32_t status);
void msg_log(uint32_t level);
int buf_str(sesame_buf *b, const char *s);
int buf_num(sesame_buf *b, uint64_t v);
void buf_wipe(sesame_buf *b);
int valid_utf8(const uint8_t *s, uint32_t n);
/* rune decodes the UTF-8 sequence at s (n > 0 bytes left) as Go does: it
 * returns the code point and sets *size, or returns -1 with *size 1 for an
 * invalid byte. */
int32_t rune(const uint8_t *s, uint32_t n, uint32_t *size);

#endif
