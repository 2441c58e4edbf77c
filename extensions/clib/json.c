/*
 * json.c — the JSON reader and writer and base64 of json.h.
 */
#include "json.h"
#include "text.h"

typedef struct {
    json_doc *d;
    const uint8_t *s;
    uint32_t n, i;
} parser;

static int bad(parser *p, const char *why) {
    p->d->why = why;
    return 0;
}

static void skip_space(parser *p) {
    while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' || p->s[p->i] == '\r'))
        p->i++;
}

/* new_node appends a node and returns its number, or 0 out of memory. */
static uint32_t new_node(json_doc *d, uint8_t type) {
    if (d->n == d->cap) {
        uint32_t cap = d->cap ? 2 * d->cap : 64;
        json_node *nodes = realloc(d->nodes, (size_t)cap * sizeof *nodes);
        if (nodes == NULL)
            return 0;
        d->nodes = nodes;
        d->cap = cap;
    }
    d->nodes[d->n] = (json_node){.type = type};
    return d->n++;
}

static int put_rune(sesame_buf *b, uint32_t r) {
    uint8_t u[4];
    uint32_t n;
    if (r < 0x80) {
        u[0] = (uint8_t)r, n = 1;
    } else if (r < 0x800) {
        u[0] = (uint8_t)(0xc0 | r >> 6), u[1] = (uint8_t)(0x80 | (r & 0x3f)), n = 2;
    } else if (r < 0x10000) {
        u[0] = (uint8_t)(0xe0 | r >> 12), u[1] = (uint8_t)(0x80 | ((r >> 6) & 0x3f));
        u[2] = (uint8_t)(0x80 | (r & 0x3f)), n = 3;
    } else {
        u[0] = (uint8_t)(0xf0 | r >> 18), u[1] = (uint8_t)(0x80 | ((r >> 12) & 0x3f));
        u[2] = (uint8_t)(0x80 | ((r >> 6) & 0x3f)), u[3] = (uint8_t)(0x80 | (r & 0x3f)), n = 4;
    }
    return sesame_buf_append(b, u, n);
}

static int hex4(const uint8_t *s, uint32_t *v) {
    *v = 0;
    for (int k = 0; k < 4; k++) {
        uint8_t c = s[k];
        uint32_t x = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : 16;
        if (x == 16)
            return 0;
        *v = *v << 4 | x;
    }
    return 1;
}

/* string reads a string at p->i (at its quote) into the text, decoded, and
 * sets *off, *len. */
static int string(parser *p, uint32_t *off, uint32_t *len) {
    sesame_buf *t = &p->d->text;
    *off = t->len;
    p->i++;
    for (;;) {
        if (p->i >= p->n)
            return bad(p, "unexpected end of JSON input in a string");
        uint8_t c = p->s[p->i];
        if (c == '"') {
            p->i++;
            *len = t->len - *off;
            return 1;
        }
        if (c < 0x20)
            return bad(p, "control character in a string");
        if (c == '\\') {
            if (p->i + 1 >= p->n)
                return bad(p, "unexpected end of JSON input in a string");
            uint8_t e = p->s[p->i + 1];
            const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t", *at = e ? strchr(from, e) : NULL;
            if (at != NULL) {
                if (!sesame_buf_append(t, to + (at - from), 1))
                    return bad(p, "out of memory");
                p->i += 2;
                continue;
            }
            uint32_t r, r2;
            if (e != 'u' || p->n - p->i < 6 || !hex4(p->s + p->i + 2, &r))
                return bad(p, "invalid escape in a string");
            p->i += 6;
            if (r >= 0xd800 && r < 0xe000) {
                /* A pair makes one code point; a lone half is U+FFFD. */
                if (r < 0xdc00 && p->n - p->i >= 6 && p->s[p->i] == '\\' && p->s[p->i + 1] == 'u' &&
                    hex4(p->s + p->i + 2, &r2) && r2 >= 0xdc00 && r2 < 0xe000) {
                    r = 0x10000 + ((r - 0xd800) << 10) + (r2 - 0xdc00);
                    p->i += 6;
                } else {
                    r = 0xfffd;
                }
            }
            if (!put_rune(t, r))
                return bad(p, "out of memory");
            continue;
        }
        uint32_t size;
        int ok = rune(p->s + p->i, p->n - p->i, &size) >= 0;
        if (!(ok ? sesame_buf_append(t, p->s + p->i, size) : put_rune(t, 0xfffd)))
            return bad(p, "out of memory");
        p->i += size;
    }
}

static int digits(parser *p) {
    uint32_t start = p->i;
    while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
        p->i++;
    return p->i > start;
}

/* number checks RFC 8259's grammar and keeps the text. */
static int number(parser *p, json_node *out) {
    uint32_t start = p->i;
    if (p->s[p->i] == '-')
        p->i++;
    if (p->i < p->n && p->s[p->i] == '0')
        p->i++;
    else if (!digits(p))
        return bad(p, "invalid number");
    if (p->i < p->n && p->s[p->i] == '.') {
        p->i++;
        if (!digits(p))
            return bad(p, "invalid number");
    }
    if (p->i < p->n && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
        p->i++;
        if (p->i < p->n && (p->s[p->i] == '+' || p->s[p->i] == '-'))
            p->i++;
        if (!digits(p))
            return bad(p, "invalid number");
    }
    out->str = p->d->text.len;
    out->str_len = p->i - start;
    return sesame_buf_append(&p->d->text, p->s + start, p->i - start) || bad(p, "out of memory");
}

static int literal(parser *p, const char *word) {
    uint32_t n = (uint32_t)strlen(word);
    if (p->n - p->i < n || memcmp(p->s + p->i, word, n) != 0)
        return bad(p, "invalid character looking for a value");
    p->i += n;
    return 1;
}

static uint32_t value(parser *p, int depth);

/* children reads the members of an object or the elements of an array
 * (p->i after its opening bracket) and links them under node. */
static int children(parser *p, uint32_t node, int object, int depth) {
    uint8_t close = object ? '}' : ']';
    uint32_t last = 0;
    skip_space(p);
    if (p->i < p->n && p->s[p->i] == close) {
        p->i++;
        return 1;
    }
    for (;;) {
        uint32_t key = 0, key_len = 0;
        skip_space(p);
        if (object) {
            if (p->i >= p->n || p->s[p->i] != '"')
                return bad(p, "invalid character looking for an object key");
            if (!string(p, &key, &key_len))
                return 0;
            skip_space(p);
            if (p->i >= p->n || p->s[p->i] != ':')
                return bad(p, "invalid character after an object key");
            p->i++;
        }
        uint32_t child = value(p, depth + 1);
        if (child == 0)
            return 0;
        p->d->nodes[child].key = key;
        p->d->nodes[child].key_len = key_len;
        if (last == 0)
            p->d->nodes[node].first = child;
        else
            p->d->nodes[last].next = child;
        last = child;
        skip_space(p);
        if (p->i >= p->n)
            return bad(p, "unexpected end of JSON input");
        if (p->s[p->i] == close) {
            p->i++;
            return 1;
        }
        if (p->s[p->i] != ',')
            return bad(p, object ? "invalid character after an object member" : "invalid character after an array element");
        p->i++;
    }
}

/* value reads one value and returns its node, or 0. */
static uint32_t value(parser *p, int depth) {
    if (depth > JSON_MAX_DEPTH)
        return bad(p, "nested too deep");
    skip_space(p);
    if (p->i >= p->n)
        return bad(p, "unexpected end of JSON input");
    uint8_t c = p->s[p->i];
    uint8_t type = c == '{' ? JSON_OBJECT : c == '[' ? JSON_ARRAY : c == '"' ? JSON_STRING : c == 't' ? JSON_TRUE
                 : c == 'f' ? JSON_FALSE : c == 'n' ? JSON_NULL : JSON_NUMBER;
    uint32_t node = new_node(p->d, type);
    if (node == 0)
        return bad(p, "out of memory");
    json_node tmp = {0};
    int ok;
    switch (type) {
    case JSON_OBJECT:
    case JSON_ARRAY:
        p->i++;
        ok = children(p, node, type == JSON_OBJECT, depth);
        break;
    case JSON_STRING:
        ok = string(p, &tmp.str, &tmp.str_len);
        break;
    case JSON_TRUE:
        ok = literal(p, "true");
        break;
    case JSON_FALSE:
        ok = literal(p, "false");
        break;
    case JSON_NULL:
        ok = literal(p, "null");
        break;
    default:
        ok = (c == '-' || (c >= '0' && c <= '9')) ? number(p, &tmp) : bad(p, "invalid character looking for a value");
    }
    if (!ok)
        return 0;
    if (type == JSON_STRING || type == JSON_NUMBER) {
        p->d->nodes[node].str = tmp.str;
        p->d->nodes[node].str_len = tmp.str_len;
    }
    return node;
}

int json_parse(json_doc *d, const uint8_t *s, uint32_t len) {
    d->n = 0;
    d->text.len = 0;
    d->why = NULL;
    new_node(d, 0); /* node 0 is "none"; out of memory, the next fails */
    if (d->n == 0)
        return 0;
    parser p = {.d = d, .s = s, .n = len};
    if (value(&p, 0) == 0)
        return 0;
    skip_space(&p);
    return p.i == p.n || bad(&p, "invalid character after the top-level value");
}

void json_free(json_doc *d) {
    free(d->nodes);
    buf_wipe(&d->text);
    sesame_buf_free(&d->text);
    *d = (json_doc){0};
}

/* key_is reports whether the input's key (k, n) names field (ASCII, in
 * lower case) as encoding/json matches a name to a field: ASCII case
 * ignored, and the two non-ASCII letters that Unicode folds to ASCII ones,
 * U+017F (s) and U+212A (k). */
static int key_is(const uint8_t *k, uint32_t n, const char *field) {
    uint32_t i = 0;
    for (; *field != 0; field++) {
        uint8_t c = i < n ? k[i] : 0;
        if (c >= 'A' && c <= 'Z')
            c += 'a' - 'A';
        if (i < n && c == (uint8_t)*field)
            i++;
        else if (*field == 's' && n - i >= 2 && k[i] == 0xc5 && k[i + 1] == 0xbf)
            i += 2;
        else if (*field == 'k' && n - i >= 3 && k[i] == 0xe2 && k[i + 1] == 0x84 && k[i + 2] == 0xaa)
            i += 3;
        else
            return 0;
    }
    return i == n;
}

uint32_t json_member(json_doc *d, uint32_t obj, const char *key) {
    uint32_t found = 0;
    if (obj == 0 || obj >= d->n || d->nodes[obj].type != JSON_OBJECT)
        return 0;
    for (uint32_t c = d->nodes[obj].first; c != 0; c = d->nodes[c].next) {
        if (!key_is(d->text.data + d->nodes[c].key, d->nodes[c].key_len, key))
            continue;
        if (found != 0) {
            d->why = "a name twice in one object";
            return JSON_TWICE;
        }
        found = c;
    }
    return found;
}

static int absent(const json_doc *d, uint32_t node) { return node == 0 || d->nodes[node].type == JSON_NULL; }

int json_check_type(json_doc *d, uint32_t node, uint8_t t) {
    if (node == JSON_TWICE)
        return 0;
    if (absent(d, node) || d->nodes[node].type == t)
        return 1;
    d->why = "a value of the wrong type";
    return 0;
}

/* parse_int reads a decimal int64 of n bytes, digits only after an optional
 * '-'. */
static int parse_int(const uint8_t *s, uint32_t n, int64_t *v) {
    int neg = n > 0 && s[0] == '-';
    uint64_t x = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    uint32_t i = neg;
    if (i == n)
        return 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9' || x > (limit - (s[i] - '0')) / 10)
            return 0;
        x = x * 10 + (s[i] - '0');
    }
    *v = neg ? (int64_t)(0 - x) : (int64_t)x;
    return 1;
}

int json_int(json_doc *d, uint32_t node, int64_t *v) {
    if (node == JSON_TWICE)
        return 0;
    if (absent(d, node))
        return 1;
    json_node *x = &d->nodes[node];
    if (x->type != JSON_NUMBER || !parse_int(d->text.data + x->str, x->str_len, v)) {
        d->why = "a value that is not an int64";
        return 0;
    }
    return 1;
}

int json_int_or_string(json_doc *d, uint32_t node, int64_t *v) {
    if (node == JSON_TWICE)
        return 0;
    if (node != 0 && d->nodes[node].type == JSON_STRING) {
        json_node *x = &d->nodes[node];
        /* strconv.ParseInt also takes a '+' sign */
        const uint8_t *s = d->text.data + x->str;
        uint32_t n = x->str_len;
        int plus = n > 1 && s[0] == '+';
        if (!parse_int(s + plus, n - plus, v) || (plus && s[1] == '-')) {
            d->why = "a number in a string that is not an int64";
            return 0;
        }
        return 1;
    }
    if (absent(d, node)) {
        *v = 0; /* etcd's Number decodes null as 0 */
        return 1;
    }
    return json_int(d, node, v);
}

int json_bool(json_doc *d, uint32_t node, int *v) {
    if (node == JSON_TWICE)
        return 0;
    if (absent(d, node))
        return 1;
    uint8_t t = d->nodes[node].type;
    if (t != JSON_TRUE && t != JSON_FALSE) {
        d->why = "a value that is not a bool";
        return 0;
    }
    *v = t == JSON_TRUE;
    return 1;
}

int json_string(json_doc *d, uint32_t node, const uint8_t **s, uint32_t *n) {
    if (node == JSON_TWICE)
        return 0;
    if (absent(d, node))
        return 1;
    if (d->nodes[node].type != JSON_STRING) {
        d->why = "a value that is not a string";
        return 0;
    }
    *s = d->text.data + d->nodes[node].str;
    *n = d->nodes[node].str_len;
    return 1;
}

int json_bytes(json_doc *d, uint32_t node, sesame_buf *out, int *present) {
    const uint8_t *s = NULL;
    uint32_t n = 0;
    out->len = 0;
    *present = 0;
    if (!json_string(d, node, &s, &n))
        return 0;
    if (s == NULL)
        return 1;
    if (!b64_decode(out, s, n)) {
        d->why = "a string that is not base64";
        return 0;
    }
    *present = 1;
    return 1;
}

int json_put_string(sesame_buf *b, const uint8_t *s, uint32_t n) {
    static const char hex[] = "0123456789abcdef";
    if (!sesame_buf_append(b, "\"", 1))
        return 0;
    for (uint32_t i = 0, size; i < n; i += size) {
        int32_t r = rune(s + i, n - i, &size);
        char e[7] = {'\\', 0};
        uint32_t en = 0;
        if (r == '"' || r == '\\')
            e[1] = (char)r, en = 2;
        else if (r == '\n' || r == '\r' || r == '\t')
            e[1] = r == '\n' ? 'n' : r == '\r' ? 'r' : 't', en = 2;
        else if ((r >= 0 && r < 0x20) || r == '<' || r == '>' || r == '&' || r == 0x2028 || r == 0x2029) {
            e[1] = 'u', e[2] = hex[(r >> 12) & 0xf], e[3] = hex[(r >> 8) & 0xf];
            e[4] = hex[(r >> 4) & 0xf], e[5] = hex[r & 0xf], en = 6;
        }
        int ok = en ? sesame_buf_append(b, e, en)
               : r < 0 ? sesame_buf_append(b, "\\ufffd", 6)
                       : sesame_buf_append(b, s + i, size);
        if (!ok)
            return 0;
    }
    return sesame_buf_append(b, "\"", 1);
}

int json_put_base64(sesame_buf *b, const uint8_t *s, uint32_t n) {
    return sesame_buf_append(b, "\"", 1) && b64_append(b, s, n, 0) && sesame_buf_append(b, "\"", 1);
}

int b64_append(sesame_buf *b, const uint8_t *s, uint32_t n, int url) {
    const char *abc = url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                          : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (!sesame_buf_reserve(b, (n + 2) / 3 * 4))
        return 0;
    uint8_t *d = b->data + b->len;
    uint32_t i = 0;
    for (; n - i >= 3; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        *d++ = (uint8_t)abc[v >> 18], *d++ = (uint8_t)abc[(v >> 12) & 63];
        *d++ = (uint8_t)abc[(v >> 6) & 63], *d++ = (uint8_t)abc[v & 63];
    }
    if (n - i > 0) {
        uint32_t v = (uint32_t)s[i] << 16 | (n - i == 2 ? (uint32_t)s[i + 1] << 8 : 0);
        *d++ = (uint8_t)abc[v >> 18], *d++ = (uint8_t)abc[(v >> 12) & 63];
        if (n - i == 2)
            *d++ = (uint8_t)abc[(v >> 6) & 63];
        else if (!url)
            *d++ = '=';
        if (!url)
            *d++ = '=';
    }
    b->len = (uint32_t)(d - b->data);
    return 1;
}

static int b64_value(uint8_t c) {
    return c >= 'A' && c <= 'Z' ? c - 'A' : c >= 'a' && c <= 'z' ? c - 'a' + 26 : c >= '0' && c <= '9' ? c - '0' + 52
         : c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* b64_decode follows Go's StdEncoding: groups of four, '=' padding only at
 * the end (the bits that padding drops are ignored, as Go's non-strict
 * decoding does). */
int b64_decode(sesame_buf *out, const uint8_t *s, uint32_t n) {
    if (!sesame_buf_reserve(out, n / 4 * 3 + 3))
        return 0;
    uint32_t group = 0, got = 0, pad = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        if (c == '\r' || c == '\n')
            continue;
        if (c == '=') {
            if (got < 2)
                return 0;
            pad++;
            if (got + pad > 4)
                return 0;
            continue;
        }
        int v = b64_value(c);
        if (v < 0 || pad > 0)
            return 0;
        group = group << 6 | (uint32_t)v;
        if (++got == 4) {
            out->data[out->len++] = (uint8_t)(group >> 16);
            out->data[out->len++] = (uint8_t)(group >> 8);
            out->data[out->len++] = (uint8_t)group;
            group = got = 0;
        }
    }
    if (got == 0)
        return pad == 0;
    if (got + pad != 4 || got == 1)
        return 0;
    if (got == 2) {
        out->data[out->len++] = (uint8_t)(group >> 4);
    } else {
        out->data[out->len++] = (uint8_t)(group >> 10);
        out->data[out->len++] = (uint8_t)(group >> 2);
    }
    return 1;
}
