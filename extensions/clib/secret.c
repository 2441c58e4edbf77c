/*
 * secret.c — the secret encoding (SPEC.md §7.7) of a decrypted record,
 * checked as abi.DecodeSecret checks it: canonical, every string UTF-8,
 * metadata and hashtable keys non-empty and strictly ascending, the limits
 * of §8, nothing trailing, the info's type the value's. A record that the
 * Go guest's decoder refused is refused here alike: get reports it corrupt
 * and list leaves it out, rather than listing a name whose value no reader
 * could decode. (Shared by the secretstore and etcd: secret.h.)
 */
#include "secret.h"

#define MAX_META_KEY 256u       /* abi.MaxMetaKeyBytes   */
#define MAX_META_STRING 4096u   /* abi.MaxMetaStringLen  */
#define MAX_HASHTABLE_KEYS 64u  /* abi.MaxHashtableKeys  */
#define MAX_OFFSET (24 * 60 - 1) /* abi.MaxOffsetMinutes */

/* A reader over [p, p+n): each step checks what is left and fails once. */
typedef struct {
    const uint8_t *p;
    uint32_t n, off;
    int bad;
} reader;

static uint32_t left(const reader *r) { return r->n - r->off; }

static const uint8_t *take(reader *r, uint32_t k) {
    if (r->bad || k > left(r)) {
        r->bad = 1;
        return NULL;
    }
    r->off += k;
    return r->p + r->off - k;
}

static uint32_t u32(reader *r) {
    const uint8_t *b = take(r, 4);
    return b ? sesame_get_u32(b) : 0;
}

/* str reads a UTF-8 str of at most max bytes (0: any), setting *s, *len. */
static void str(reader *r, uint32_t max, const uint8_t **s, uint32_t *len) {
    *len = u32(r);
    if (!r->bad && max > 0 && *len > max)
        r->bad = 1;
    *s = take(r, *len);
    if (*s != NULL && !valid_utf8(*s, *len))
        r->bad = 1;
}

/* count reads an entry count of at most max, each entry taking at least
 * min bytes of what is left. */
static uint32_t count(reader *r, uint32_t min, uint32_t max) {
    uint32_t c = u32(r);
    if (!r->bad && (c > max || (uint64_t)c * min > left(r)))
        r->bad = 1;
    return r->bad ? 0 : c;
}

/* key reads a non-empty map key that sorts strictly after the previous one
 * (*prev, *prev_len; NULL for the first). */
static void key(reader *r, uint32_t max, const uint8_t **prev, uint32_t *prev_len) {
    const uint8_t *k;
    uint32_t n;
    str(r, max, &k, &n);
    if (r->bad)
        return;
    if (n == 0) {
        r->bad = 1;
        return;
    }
    if (*prev != NULL) {
        int c = memcmp(k, *prev, n < *prev_len ? n : *prev_len);
        if (c < 0 || (c == 0 && n <= *prev_len)) {
            r->bad = 1;
            return;
        }
    }
    *prev = k;
    *prev_len = n;
}

static void metadata(reader *r) {
    uint32_t start = r->off, c = count(r, 4 + 1 + 4, SESAME_MAX_META_KEYS);
    const uint8_t *prev = NULL, *s;
    uint32_t prev_len = 0, n;
    for (uint32_t i = 0; i < c && !r->bad; i++) {
        key(r, MAX_META_KEY, &prev, &prev_len);
        const uint8_t *kind = take(r, 1);
        if (kind == NULL)
            return;
        if (*kind == SESAME_META_STRING) {
            str(r, MAX_META_STRING, &s, &n);
        } else if (*kind == SESAME_META_INT) {
            take(r, 8);
        } else if (*kind == SESAME_META_DATETIME || *kind == SESAME_META_DATETIME_OFFSET) {
            take(r, 8);
            if (u32(r) >= 1000000000u)
                r->bad = 1;
            if (*kind == SESAME_META_DATETIME_OFFSET && (s = take(r, 2)) != NULL) {
                int m = (int16_t)(s[0] | s[1] << 8);
                r->bad |= m < -MAX_OFFSET || m > MAX_OFFSET;
            }
        } else {
            r->bad = 1;
        }
    }
    if (r->off - start > SESAME_MAX_METADATA)
        r->bad = 1;
}

/* value reads a value to the end of the reader and returns its type (0 on
 * failure); a nested one (a hashtable's) cannot be a hashtable. */
static uint8_t value(reader *r, int nested) {
    const uint8_t *t = take(r, 1), *s;
    uint32_t n;
    if (t == NULL || sesame_value_type(t, 1) == 0 || (nested && *t == SESAME_TYPE_HASHTABLE)) {
        r->bad = 1;
        return 0;
    }
    if (*t == SESAME_TYPE_STRING || *t == SESAME_TYPE_SECURESTRING) {
        r->bad |= !valid_utf8(r->p + r->off, left(r));
        r->off = r->n;
    } else if (*t == SESAME_TYPE_CREDENTIAL) {
        str(r, 0, &s, &n);
        r->bad |= !r->bad && !valid_utf8(r->p + r->off, left(r));
        r->off = r->n;
    } else if (*t == SESAME_TYPE_HASHTABLE) {
        uint32_t c = count(r, 4 + 4 + 1, MAX_HASHTABLE_KEYS), prev_len = 0;
        const uint8_t *prev = NULL;
        for (uint32_t i = 0; i < c && !r->bad; i++) {
            key(r, 0, &prev, &prev_len);
            n = u32(r);
            if ((s = take(r, n)) != NULL) {
                reader sub = {.p = s, .n = n};
                value(&sub, 1);
                r->bad |= sub.bad;
            }
        }
    } else {
        r->off = r->n; /* bytes */
    }
    return r->bad ? 0 : *t;
}

/* check_secret returns the length of the info record of the secret
 * encoding [p, p+n) whose type must be type, or 0 when abi.DecodeSecret
 * would refuse it or its type differs. */
uint32_t check_secret(const uint8_t *p, uint32_t n, uint8_t type) {
    reader r = {.p = p, .n = n};
    const uint8_t *name, *t;
    uint32_t name_len;
    str(&r, 0, &name, &name_len);
    t = take(&r, 1);
    if (t == NULL || *t != type)
        return 0;
    metadata(&r);
    uint32_t info = r.off;
    if (r.bad || left(&r) > SESAME_MAX_VALUE || value(&r, 0) != type || left(&r) != 0)
        return 0;
    return info;
}

/* check_info reports whether [p, p+n) is exactly an info record (SPEC.md
 * §7.5) that abi.DecodeInfo accepts: a UTF-8 name, a known type, metadata
 * as in a secret. */
int check_info(const uint8_t *p, uint32_t n) {
    reader r = {.p = p, .n = n};
    const uint8_t *name, *t;
    uint32_t name_len;
    str(&r, 0, &name, &name_len);
    t = take(&r, 1);
    if (t == NULL || sesame_value_type(t, 1) == 0)
        return 0;
    metadata(&r);
    return !r.bad && left(&r) == 0;
}
