/*
 * scan.c — walking every record under a prefix a page at a time with the
 * host's kv_scan (one host call and one storage transaction per page, not
 * one per record), each entry handed over where it lies in the page.
 */
#include "secretstore.h"

static sesame_buf page;

/* key_after reports whether the key a sorts strictly after b: a host that
 * ignored `after` would make a walk loop forever. */
static int key_after(const uint8_t *a, uint32_t an, const uint8_t *b, uint32_t bn) {
    int c = memcmp(a, b, an < bn ? an : bn);
    return c > 0 || (c == 0 && an > bn);
}

/* each_entry calls fn(arg, key, key length, value, value length) for every
 * entry under prefix, in key order, and stops at the first status fn
 * returns other than SESAME_OK. fn may write and delete: a walk goes on
 * after the last key it saw, so a key fn deletes is not seen again, and a
 * key it adds under the prefix after that one would be (callers write
 * elsewhere). */
uint32_t each_entry(const char *prefix, uint32_t prefix_len, entry_fn fn, void *arg) {
    uint8_t after[SESAME_MAX_STORAGE_KEY];
    uint32_t after_len = 0;
    for (;;) {
        uint32_t st = sesame_kv_scan_page(&page, prefix, prefix_len, after, after_len);
        if (st != SESAME_OK)
            return st;
        const uint8_t *p = page.data;
        uint32_t left = page.len, n = left >= 4 ? sesame_get_u32(p) : 0;
        if (n == 0)
            return SESAME_OK;
        for (p += 4, left -= 4; n > 0; n--) {
            const uint8_t *key, *r;
            uint32_t kn, rn;
            if (!sesame_entry_next(&p, &left, &key, &kn, &r, &rn) || kn > sizeof after)
                return sesame_fail(SESAME_INTERNAL, "malformed page of storage entries");
            if (after_len > 0 && !key_after(key, kn, after, after_len))
                return sesame_fail(SESAME_INTERNAL, "the storage returned a page that does not advance");
            if ((st = fn(arg, key, kn, r, rn)) != SESAME_OK)
                return st;
            memcpy(after, key, kn);
            after_len = kn;
        }
    }
}
