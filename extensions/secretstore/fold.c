/*
 * fold.c — abi.Fold in C: each rune becomes the smallest rune of its
 * Unicode simple case-folding orbit, and an ASCII capital its lower case,
 * so that names differing only in case (strings.EqualFold) fold to the same
 * bytes. The storage key of a secret is the HMAC of its folded name: this
 * must be abi.Fold exactly, or the vault would look for the records the Go
 * guest wrote under other keys. foldtable.h is generated from abi.Fold by
 * TestFoldTable, which fails when it is not current.
 */
#include "secretstore.h"

typedef struct {
    uint32_t lo;
    uint16_t n;
    uint8_t stride;
    int32_t delta;
} fold_run;

#include "foldtable.h"

#define RUNE_ERROR 0xfffd

static uint32_t fold_rune(uint32_t r) {
    if (r < 0x80)
        return r >= 'A' && r <= 'Z' ? r + ('a' - 'A') : r;
    /* The last run that starts at or before r. */
    uint32_t lo = 0, hi = sizeof fold_runs / sizeof fold_runs[0];
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (fold_runs[mid].lo <= r)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return r;
    const fold_run *f = &fold_runs[lo - 1];
    uint32_t off = r - f->lo;
    if (off % f->stride != 0 || off / f->stride >= f->n)
        return r;
    return (uint32_t)((int32_t)r + f->delta);
}

/* next_folded decodes the rune at s (n > 0 bytes left) as Go's range over a
 * string does (an invalid byte is U+FFFD, one byte long), sets *size and
 * returns its fold. */
static uint32_t next_folded(const uint8_t *s, uint32_t n, uint32_t *size) {
    int32_t r = rune(s, n, size);
    return fold_rune(r < 0 ? RUNE_ERROR : (uint32_t)r);
}

static uint32_t put_utf8(uint8_t *d, uint32_t r) {
    if (r < 0x80) {
        d[0] = (uint8_t)r;
        return 1;
    }
    if (r < 0x800) {
        d[0] = (uint8_t)(0xc0 | r >> 6);
        d[1] = (uint8_t)(0x80 | (r & 0x3f));
        return 2;
    }
    if (r < 0x10000) {
        d[0] = (uint8_t)(0xe0 | r >> 12);
        d[1] = (uint8_t)(0x80 | (r >> 6 & 0x3f));
        d[2] = (uint8_t)(0x80 | (r & 0x3f));
        return 3;
    }
    d[0] = (uint8_t)(0xf0 | r >> 18);
    d[1] = (uint8_t)(0x80 | (r >> 12 & 0x3f));
    d[2] = (uint8_t)(0x80 | (r >> 6 & 0x3f));
    d[3] = (uint8_t)(0x80 | (r & 0x3f));
    return 4;
}

/* fold writes abi.Fold(s) to out (replacing its contents); 0 when out of
 * memory. */
int fold(const uint8_t *s, uint32_t n, sesame_buf *out) {
    out->len = 0;
    /* A rune grows by at most two bytes (an invalid byte becomes U+FFFD). */
    if (!sesame_buf_reserve(out, 3 * n + 1))
        return 0;
    for (uint32_t i = 0, size; i < n; i += size)
        out->len += put_utf8(out->data + out->len, next_folded(s + i, n - i, &size));
    return 1;
}

/* same_fold reports whether abi.Fold(a) == abi.Fold(b). */
int same_fold(const uint8_t *a, uint32_t an, const uint8_t *b, uint32_t bn) {
    uint32_t i = 0, j = 0, as, bs;
    while (i < an && j < bn) {
        if (next_folded(a + i, an - i, &as) != next_folded(b + j, bn - j, &bs))
            return 0;
        i += as;
        j += bs;
    }
    return i == an && j == bn;
}
