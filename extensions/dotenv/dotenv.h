/*
 * dotenv.h — what the files of the dotenv vault share.
 *
 *   format.c  the .env format: parsing, value encoding, editing by splicing
 *   file.c    reading, locking and atomically rewriting the file in /data
 *   text.c    building messages (numbers, Go-style quoted strings, UTF-8):
 *             ../clib/text.c, shared with the other C extensions
 *   vault.c   the sesame exports
 *
 * README.md gives the format and the rules; everything here follows it.
 */
#ifndef DOTENV_H
#define DOTENV_H

#include "../clib/text.h"

/* An assignment of the file. Offsets are byte offsets into its contents. */
typedef struct {
    uint32_t key, key_len; /* the name                                    */
    uint32_t line;         /* 1-based number of the line where it starts  */
    /* [start, end) is the whole entry: its line (or lines, for a quoted
     * value over several) and the line terminator, if any. */
    uint32_t start, end;
    /* [val_start, val_end) is the value as written (quotes included), the
     * part a set replaces; everything else on the line stays. */
    uint32_t val_start, val_end;
    uint8_t quote; /* 0 (unquoted), '"' or '\'' */
} entry;

/* visit_fn sees each entry in file order; a status other than SESAME_OK
 * stops the parse and becomes its result. */
typedef uint32_t (*visit_fn)(void *ctx, const uint8_t *src, const entry *e);

/* PARSE_BAD is parse's answer to a file that is not of the format. */
#define PARSE_BAD UINT32_MAX

/* format.c */
#define NAME_RULE "a dotenv name is a shell variable name: a letter or '_', then letters, digits or '_' ([A-Za-z_][A-Za-z0-9_]*)"
int valid_name(const uint8_t *s, uint32_t n);
uint32_t parse(const uint8_t *src, uint32_t n, visit_fn visit, void *ctx);
int decode_value(const uint8_t *src, const entry *e, sesame_buf *dst);
int same_key(const uint8_t *src, const entry *e, const uint8_t *key, uint32_t key_len);
int with_value(const uint8_t *src, uint32_t n, const entry *found, const uint8_t *key, uint32_t key_len,
               const uint8_t *value, uint32_t value_len, sesame_buf *out);
uint32_t without(const uint8_t *src, uint32_t n, const uint8_t *key, uint32_t key_len, sesame_buf *out);

/* file.c */
extern char file_name[];
void set_file_name(const uint8_t *s, uint32_t n);
uint32_t check_file_name(const uint8_t *s, uint32_t n);
uint32_t load(sesame_buf *src, visit_fn visit, void *ctx);
/* edit_fn turns the file src (parsed again by the editor) into out, or
 * returns a status (with its message) to write nothing. */
typedef uint32_t (*edit_fn)(void *ctx, const uint8_t *src, uint32_t n, sesame_buf *out);
uint32_t update(edit_fn edit, void *ctx);
uint32_t test_folder(void);

#endif
