/*
 * text.c — building the messages that go with a status or a log line
 * (text.h), for every built-in C extension.
 */
#include "text.h"

static sesame_buf msg;

void msg_reset(void) { msg.len = 0; }

/* Out of memory, a message loses its tail; the status still goes out. */
void msg_bytes(const void *p, uint32_t n) { sesame_buf_append(&msg, p, n); }

void msg_str(const char *s) { msg_bytes(s, (uint32_t)strlen(s)); }

int buf_str(sesame_buf *b, const char *s) { return sesame_buf_append(b, s, (uint32_t)strlen(s)); }

int buf_num(sesame_buf *b, uint64_t v) {
    char d[20];
    int i = sizeof d;
    do {
        d[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    return sesame_buf_append(b, d + i, (uint32_t)(sizeof d - i));
}

/* buf_wipe zeroes what b holds and empties it: buffers that held the file
 * or a value are wiped after each call. (Bytes beyond len were wiped by
 * the call that used them.) */
void buf_wipe(sesame_buf *b) {
    if (b->len > 0)
        memset(b->data, 0, b->len);
    b->len = 0;
}

void msg_num(uint64_t v) { buf_num(&msg, v); }

uint32_t msg_fail(uint32_t status) {
    sesame_error(msg.data, msg.len > SESAME_MAX_MESSAGE ? SESAME_MAX_MESSAGE : msg.len);
    return status;
}

void msg_log(uint32_t level) { sesame_log(level, msg.data, msg.len); }

/* rune: an invalid byte is a bad lead or continuation byte, an overlong
 * form, a surrogate, a code point above U+10FFFF, a truncated sequence. */
int32_t rune(const uint8_t *s, uint32_t n, uint32_t *size) {
    uint8_t c = s[0];
    *size = 1;
    if (c < 0x80)
        return c;
    uint32_t len = c >= 0xc2 && c < 0xe0 ? 2 : c >= 0xe0 && c < 0xf0 ? 3 : c >= 0xf0 && c < 0xf5 ? 4 : 0;
    if (len == 0 || len > n)
        return -1;
    /* The second byte's range excludes overlongs, surrogates and > U+10FFFF. */
    uint8_t lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
    uint8_t hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
    if (s[1] < lo || s[1] > hi)
        return -1;
    int32_t r = c & (0x7f >> len);
    for (uint32_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return -1;
        r = r << 6 | (s[i] & 0x3f);
    }
    *size = len;
    return r;
}

int valid_utf8(const uint8_t *s, uint32_t n) {
    for (uint32_t i = 0, size; i < n; i += size)
        if (rune(s + i, n - i, &size) < 0)
            return 0;
    return 1;
}

/* printable approximates Go's unicode.IsPrint for code points above ASCII:
 * it refuses the controls, the spaces other than U+0020, the format
 * characters that reorder or hide text (bidirectional overrides, zero-width
 * characters, the byte order mark) and private use. */
static int printable(int32_t r) {
    return !(r < 0xa1 || r == 0xad || r == 0x1680 || (r >= 0x2000 && r <= 0x200f) ||
             (r >= 0x2028 && r <= 0x202f) || (r >= 0x205f && r <= 0x206f) || r == 0x3000 ||
             (r >= 0xe000 && r <= 0xf8ff) || r == 0xfeff || (r >= 0xfff9 && r <= 0xfffb) || r >= 0xf0000);
}

static void msg_hex(const char *prefix, uint32_t v, int digits) {
    static const char hex[] = "0123456789abcdef";
    msg_str(prefix);
    for (int i = digits - 1; i >= 0; i--)
        msg_bytes(&hex[(v >> (4 * i)) & 0xf], 1);
}

/* msg_quote appends s quoted as Go's strconv.Quote does: in double quotes,
 * with \" \\ \a \b \f \n \r \t \v, \xHH for other ASCII controls and
 * invalid bytes, \uHHHH or \UHHHHHHHH for code points that do not print. A
 * quoted name can neither end the message early nor move the cursor. */
void msg_quote(const uint8_t *s, uint32_t n) {
    static const char esc[] = "\aa\bb\ff\nn\rr\tt\vv\"\"\\\\";
    msg_str("\"");
    for (uint32_t i = 0, size; i < n; i += size) {
        int32_t r = rune(s + i, n - i, &size);
        const char *e = r >= 0 && r < 0x80 && r != 0 ? strchr(esc, r) : NULL;
        if (e != NULL && (e - esc) % 2 == 0) {
            msg_bytes("\\", 1);
            msg_bytes(e + 1, 1);
        } else if (r < 0 || (r < 0x20) || r == 0x7f) {
            msg_hex("\\x", r < 0 ? s[i] : (uint32_t)r, 2);
        } else if (r < 0x80 || printable(r)) {
            msg_bytes(s + i, size);
        } else {
            msg_hex(r < 0x10000 ? "\\u" : "\\U", (uint32_t)r, r < 0x10000 ? 4 : 8);
        }
    }
    msg_str("\"");
}
