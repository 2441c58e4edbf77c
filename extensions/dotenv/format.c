/*
 * format.c — the .env format: parsing, value encoding and editing by
 * splicing.
 *
 * A file is a sequence of lines. A line is blank (spaces and tabs only), a
 * comment (its first non-blank character is '#'), or an assignment:
 *
 *     [blanks] [export blanks] KEY [blanks] = [blanks] VALUE [blanks] [# comment]
 *
 * where KEY is a shell variable name and VALUE is unquoted, "double-quoted"
 * or 'single-quoted'; a quoted value may span several lines. Anything else
 * is an error: the vault refuses to read or rewrite a file it does not
 * understand rather than guess. Error messages name the line, never its
 * contents, which may hold a secret.
 */
#include "dotenv.h"

static int is_digit(uint8_t c) { return c >= '0' && c <= '9'; }

static int is_name_byte(uint8_t c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_';
}

static int is_blank(uint8_t c) { return c == ' ' || c == '\t'; }

/* valid_name reports whether s is a shell variable name, [A-Za-z_][A-Za-z0-9_]*. */
int valid_name(const uint8_t *s, uint32_t n) {
    if (n == 0 || is_digit(s[0]))
        return 0;
    for (uint32_t i = 0; i < n; i++)
        if (!is_name_byte(s[i]))
            return 0;
    return 1;
}

/* line_end finds the end of the line that starts at pos, without its
 * terminator ("\n" or "\r\n"), and the start of the next line. A last line
 * without "\n" that ends in a lone "\r" still counts it as a terminator, so
 * that appending "\n" after it changes no value. */
static uint32_t line_end(const uint8_t *src, uint32_t n, uint32_t pos, uint32_t *next) {
    uint32_t i = pos;
    while (i < n && src[i] != '\n')
        i++;
    if (i == n) {
        *next = n;
        return i > pos && src[i - 1] == '\r' ? i - 1 : i;
    }
    *next = i + 1;
    return i > pos && src[i - 1] == '\r' ? i - 1 : i;
}

static uint32_t skip_blanks(const uint8_t *src, uint32_t p, uint32_t end) {
    while (p < end && is_blank(src[p]))
        p++;
    return p;
}

/* bad appends "line N: " and the start of a message; the caller finishes it. */
static uint32_t bad(uint32_t line, const char *msg) {
    msg_str("line ");
    msg_num(line);
    msg_str(": ");
    msg_str(msg);
    return PARSE_BAD;
}

/* parse_quoted finishes e, whose quoted value starts at v (on the quote),
 * and sets *after just past the entry's last line terminator. */
static uint32_t parse_quoted(const uint8_t *src, uint32_t n, entry *e, uint32_t v, uint32_t *after) {
    uint8_t quote = src[v];
    const char *kind = quote == '"' ? "double" : "single";
    uint32_t i = v + 1;
    /* In double quotes a backslash takes the next byte with it, whatever it
     * is, so that \" never closes the value. */
    while (i < n && src[i] != quote)
        i += src[i] == '\\' && quote == '"' && i + 1 < n ? 2 : 1;
    if (i >= n) {
        bad(e->line, "the ");
        msg_str(kind);
        msg_str("-quoted value of ");
        msg_quote(src + e->key, e->key_len);
        msg_str(" has no closing quote");
        return PARSE_BAD;
    }
    e->quote = quote;
    e->val_start = v;
    e->val_end = i + 1;
    uint32_t eol = line_end(src, n, i + 1, after);
    uint32_t r = skip_blanks(src, i + 1, eol);
    if (r < eol && src[r] != '#') {
        bad(e->line, "unexpected text after the ");
        msg_str(kind);
        msg_str("-quoted value of ");
        msg_quote(src + e->key, e->key_len);
        msg_str(" (only a # comment may follow it)");
        return PARSE_BAD;
    }
    return SESAME_OK;
}

/* parse_assignment parses the assignment that starts at p (its first
 * non-blank character) on a line ending at eol into e, and sets *after just
 * past the entry's last line terminator. */
static uint32_t parse_assignment(const uint8_t *src, uint32_t n, uint32_t p, uint32_t eol, entry *e, uint32_t *after) {
    /* "export" then blanks then a name is the shell's export prefix; a
     * variable may itself be called export ("export=1"). */
    if (eol - p > 6 && __builtin_memcmp(src + p, "export", 6) == 0 && is_blank(src[p + 6])) {
        uint32_t q = skip_blanks(src, p + 6, eol);
        if (q < eol && is_name_byte(src[q]) && !is_digit(src[q]))
            p = q;
    }
    uint32_t k = p;
    while (k < eol && is_name_byte(src[k]))
        k++;
    if (k == p || is_digit(src[p]))
        return bad(e->line, "not an assignment, a comment or a blank line (an assignment starts with a name: " NAME_RULE ")");
    e->key = p;
    e->key_len = k - p;
    uint32_t eq = skip_blanks(src, k, eol);
    /* The word is not quoted: a line without '=' may be a value pasted
     * alone. */
    if (eq == eol || src[eq] != '=')
        return bad(e->line, "no '=' after the name (want KEY=VALUE; " NAME_RULE ")");
    uint32_t v = skip_blanks(src, eq + 1, eol);
    if (v < eol && (src[v] == '"' || src[v] == '\''))
        return parse_quoted(src, n, e, v, after);
    /* Unquoted: up to the end of the line or a '#' that follows a blank,
     * which starts a comment; blanks around the value are not part of it. */
    uint32_t end = eol;
    for (uint32_t i = v; i < eol; i++) {
        if (src[i] == '#' && is_blank(src[i - 1])) {
            end = i;
            break;
        }
    }
    while (end > v && is_blank(src[end - 1]))
        end--;
    e->quote = 0;
    e->val_start = v;
    e->val_end = end;
    if (v == end) /* empty: a set writes right after '=', apart from a comment */
        e->val_start = e->val_end = eq + 1;
    line_end(src, n, eol, after);
    return SESAME_OK;
}

/* parse calls visit with each assignment of src in file order. It returns
 * SESAME_OK, PARSE_BAD with "line N: why" appended to the message, or the
 * first status other than SESAME_OK that visit returned. A caller that
 * must not act on half a file parses it whole first. */
uint32_t parse(const uint8_t *src, uint32_t n, visit_fn visit, void *ctx) {
    static const uint8_t bom[3] = {0xef, 0xbb, 0xbf};
    uint32_t line = 0;
    for (uint32_t pos = 0; pos < n;) {
        line++;
        if (pos == 0 && n >= 3 && __builtin_memcmp(src, bom, 3) == 0)
            pos = 3; /* the mark stays first, whatever happens to the line */
        uint32_t start = pos, next;
        uint32_t eol = line_end(src, n, pos, &next);
        uint32_t p = skip_blanks(src, pos, eol);
        if (p == eol || src[p] == '#') { /* blank or comment */
            pos = next;
            continue;
        }
        entry e = {.line = line, .start = start};
        uint32_t st = parse_assignment(src, n, p, eol, &e, &e.end);
        if (st == SESAME_OK && visit != NULL)
            st = visit(ctx, src, &e);
        if (st != SESAME_OK)
            return st;
        /* A quoted value over several lines moves the line count on. */
        for (uint32_t i = start; i < e.end; i++)
            line += src[i] == '\n';
        if (e.end > start && src[e.end - 1] == '\n')
            line--;
        pos = e.end;
    }
    return SESAME_OK;
}

/* unescape returns the byte that the double-quoted escape \c stands for, or
 * 0 when \c is not an escape. */
static uint8_t unescape(uint8_t c) {
    switch (c) {
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 't':
        return '\t';
    case '"':
    case '\\':
    case '$':
        return c;
    }
    return 0;
}

/* decode_value appends the value of e, decoded, to dst; 0 when out of
 * memory. In double quotes a backslash that is not an escape stays as
 * written, with the byte after it. */
int decode_value(const uint8_t *src, const entry *e, sesame_buf *dst) {
    if (e->quote == 0)
        return sesame_buf_append(dst, src + e->val_start, e->val_end - e->val_start);
    uint32_t i = e->val_start + 1, end = e->val_end - 1;
    if (!sesame_buf_reserve(dst, end - i))
        return 0;
    uint8_t *out = dst->data + dst->len;
    while (i < end) {
        uint8_t c = src[i], r;
        if (c == '\\' && e->quote == '"' && i + 1 < end && (r = unescape(src[i + 1])) != 0) {
            *out++ = r;
            i += 2;
        } else if (c == '\\' && e->quote == '"' && i + 1 < end) {
            *out++ = c;
            *out++ = src[i + 1];
            i += 2;
        } else {
            *out++ = c;
            i++;
        }
    }
    dst->len = (uint32_t)(out - dst->data);
    return 1;
}

/* same_key reports whether e assigns key. */
int same_key(const uint8_t *src, const entry *e, const uint8_t *key, uint32_t key_len) {
    return e->key_len == key_len && __builtin_memcmp(src + e->key, key, key_len) == 0;
}

/* safe_value reports whether v can be written without quotes: non-empty and
 * made of [A-Za-z0-9_./:@%+,-] only. */
static int safe_value(const uint8_t *v, uint32_t n) {
    if (n == 0)
        return 0;
    for (uint32_t i = 0; i < n; i++) {
        uint8_t c = v[i];
        if (!is_name_byte(c) && c != '.' && c != '/' && c != ':' && c != '@' && c != '%' && c != '+' &&
            c != ',' && c != '-')
            return 0;
    }
    return 1;
}

/* append_quoted appends v double-quoted, with \n \r \t \" \\ \$ escapes;
 * other bytes, unicode included, as they are. 0 when out of memory. */
static int append_quoted(sesame_buf *out, const uint8_t *v, uint32_t n) {
    if (n > UINT32_MAX / 2 - 2 || !sesame_buf_reserve(out, 2 * n + 2))
        return 0;
    uint8_t *o = out->data + out->len;
    *o++ = '"';
    for (uint32_t i = 0; i < n; i++) {
        uint8_t c = v[i];
        switch (c) {
        case '\n':
            *o++ = '\\', *o++ = 'n';
            break;
        case '\r':
            *o++ = '\\', *o++ = 'r';
            break;
        case '\t':
            *o++ = '\\', *o++ = 't';
            break;
        case '"':
        case '\\':
        case '$':
            *o++ = '\\', *o++ = c;
            break;
        default:
            *o++ = c;
        }
    }
    *o++ = '"';
    out->len = (uint32_t)(o - out->data);
    return 1;
}

/* newline returns the line terminator of the file: "\r\n" when its first
 * line ends so, "\n" otherwise. */
static const char *newline(const uint8_t *src, uint32_t n) {
    uint32_t next, eol = line_end(src, n, 0, &next);
    return next - eol == 2 ? "\r\n" : "\n";
}

/* with_value writes to out the file src with key set to value: the value of
 * found, the entry that defines key (the last one), is replaced in place,
 * earlier duplicates left alone; with found NULL a line KEY=VALUE is
 * appended. Every other byte stays. value holds no NUL. 0 when out of
 * memory. */
int with_value(const uint8_t *src, uint32_t n, const entry *found, const uint8_t *key, uint32_t key_len,
               const uint8_t *value, uint32_t value_len, sesame_buf *out) {
    out->len = 0;
    /* Quoted when not safe, and when a '#' follows the old value (KEY="old"#
     * note): unquoted, the new value would swallow the comment. */
    int quote = !safe_value(value, value_len) || (found && found->val_end < n && src[found->val_end] == '#');
    if (found) {
        if (!sesame_buf_append(out, src, found->val_start))
            return 0;
    } else {
        const char *nl = newline(src, n);
        if (!sesame_buf_append(out, src, n))
            return 0;
        if (n > 0 && src[n - 1] == '\r') { /* a last line ending in a lone "\r" */
            if (!buf_str(out, "\n"))
                return 0;
        } else if (n > 0 && src[n - 1] != '\n' && !buf_str(out, nl)) {
            return 0;
        }
        if (!sesame_buf_append(out, key, key_len) || !buf_str(out, "="))
            return 0;
    }
    if (quote ? !append_quoted(out, value, value_len) : !sesame_buf_append(out, value, value_len))
        return 0;
    if (found)
        return sesame_buf_append(out, src + found->val_end, n - found->val_end);
    return buf_str(out, newline(src, n));
}

/* A removal in progress: the bytes copied so far end at last. */
typedef struct {
    const uint8_t *key;
    uint32_t key_len, last;
    int found;
    sesame_buf *out;
} removal;

static uint32_t drop(void *ctx, const uint8_t *src, const entry *e) {
    removal *r = ctx;
    if (!same_key(src, e, r->key, r->key_len))
        return SESAME_OK;
    if (!sesame_buf_append(r->out, src + r->last, e->start - r->last))
        return SESAME_TOO_LARGE;
    r->last = e->end;
    r->found = 1;
    return SESAME_OK;
}

/* without writes to out the file src (which parses) without any entry for
 * key: every duplicate goes, so that a removed secret cannot come back with
 * an older value. It returns SESAME_OK, SESAME_NOT_FOUND when there was
 * none, or SESAME_TOO_LARGE when out of memory. */
uint32_t without(const uint8_t *src, uint32_t n, const uint8_t *key, uint32_t key_len, sesame_buf *out) {
    removal r = {.key = key, .key_len = key_len, .out = out};
    out->len = 0;
    uint32_t st = parse(src, n, drop, &r);
    if (st != SESAME_OK)
        return st;
    if (!r.found)
        return SESAME_NOT_FOUND;
    return sesame_buf_append(out, src + r.last, n - r.last) ? SESAME_OK : SESAME_TOO_LARGE;
}
