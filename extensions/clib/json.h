/*
 * json.h — a small JSON reader and the writing helpers of the built-in C
 * extensions that talk JSON (builtin:etcd: etcd's gateway, its records),
 * with base64, which JSON carries bytes in.
 *
 * json_parse reads a whole document into a tree of nodes, numbered from 1
 * (0 is "none"), with the strings decoded. It accepts what Go's
 * encoding/json accepts (RFC 8259; a string's invalid UTF-8 becomes
 * U+FFFD, as Go decodes it), nested at most JSON_MAX_DEPTH deep, and
 * refuses the rest with a reason. The typed getters below then read a
 * node as Go would decode it into a field of that type: null leaves the
 * field's zero value, any other type is an error.
 *
 * json.c is compiled into an extension by a one-line json.c in its folder
 * (#include "../clib/json.c"), as text.c is.
 */
#ifndef CLIB_JSON_H
#define CLIB_JSON_H

#include "sesame.h"

enum { JSON_NULL = 1, JSON_FALSE, JSON_TRUE, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

#define JSON_MAX_DEPTH 64

/* A node: for an object member, key names it (decoded, in the document's
 * text); a string's decoded bytes and a number's text are at str; an array
 * or object lists its children from first, each linked by next. */
typedef struct {
    uint8_t type;
    uint32_t key, key_len;
    uint32_t str, str_len;
    uint32_t first, next;
} json_node;

/* A parsed document. Zero-initialise it; json_parse reuses its buffers,
 * json_free releases them. why says why the last parse or getter failed. */
typedef struct {
    json_node *nodes; /* nodes[0] unused */
    uint32_t n, cap;
    sesame_buf text;
    const char *why;
} json_doc;

int json_parse(json_doc *d, const uint8_t *s, uint32_t len);
void json_free(json_doc *d);
/* json_member returns the child of object obj named key (ASCII, lower
 * case), matched as Go matches a field's name (ASCII case ignored; U+017F
 * and U+212A as s and k), or 0. An object that has the name twice is
 * refused (JSON_TWICE, which every getter fails on, with why set): Go
 * would decode each into the field in turn, which no writer of these
 * documents does, and which this reader does not follow. */
#define JSON_TWICE UINT32_MAX
uint32_t json_member(json_doc *d, uint32_t obj, const char *key);
static inline const uint8_t *json_text(const json_doc *d, uint32_t off) { return d->text.data + off; }

/* The getters take a node (0: absent, which leaves *v as it is, as null
 * does) and return 1, or 0 with d->why set. */
int json_int(json_doc *d, uint32_t node, int64_t *v);       /* a number of an int64 */
int json_int_or_string(json_doc *d, uint32_t node, int64_t *v); /* "12" or 12: etcd's gateway */
int json_bool(json_doc *d, uint32_t node, int *v);
/* json_string points *s, *n at a string's decoded bytes. */
int json_string(json_doc *d, uint32_t node, const uint8_t **s, uint32_t *n);
/* json_bytes decodes a string of standard base64 (Go's []byte) into out,
 * replacing its contents; *present is 0 for null or absent. */
int json_bytes(json_doc *d, uint32_t node, sesame_buf *out, int *present);
/* json_check_type checks that node (when present and not null) is of type t. */
int json_check_type(json_doc *d, uint32_t node, uint8_t t);

/* Writing: json_put_string appends s as a JSON string, escaped as Go's
 * encoding/json escapes it (<, >, & and U+2028/9 too; invalid UTF-8 as
 * U+FFFD). json_put_base64 appends bytes as a JSON string of standard
 * base64. Both return 0 when out of memory. */
int json_put_string(sesame_buf *b, const uint8_t *s, uint32_t n);
int json_put_base64(sesame_buf *b, const uint8_t *s, uint32_t n);

/* base64: std with padding (url 0) or URL-safe without padding (url 1). */
int b64_append(sesame_buf *b, const uint8_t *s, uint32_t n, int url);
/* b64_decode decodes standard base64 with padding into out (appending),
 * skipping \r and \n as Go's base64.StdEncoding does; 0 when malformed or
 * out of memory. */
int b64_decode(sesame_buf *out, const uint8_t *s, uint32_t n);

#endif
