/*
 * rekey.c — moving every record of a store from one master key to a new
 * one: what a rekey does, and what giving a password to a store created
 * without one does (its old key was on disk in clear, so it must not go on
 * protecting anything).
 *
 * Every record must open under the old keys; one that does not means the
 * store was tampered with (or the old key is not the store's: a planted
 * c/key), and the whole change fails. The host runs the call as one batch
 * (SPEC.md §5.3): nothing of a failed call is written, and a successful
 * one commits in one transaction, after which the host compacts the file
 * so that no free page keeps a record or a key of the old master.
 *
 * The names' storage keys change with the name key, so the walk writes the
 * new records under r/ (which it does not walk) and moves them to s/ in a
 * second walk: a walk of s/ never meets a record it wrote itself.
 */
#include "secretstore.h"

static sesame_buf opened, sealed, keys_page;

/* has_records reports whether the store holds any secret record. */
uint32_t has_records(int *any) {
    uint32_t st = sesame_kv_list_page(&keys_page, PREFIX_SECRET, 2, NULL, 0);
    *any = st == SESAME_OK && keys_page.len >= 4 && sesame_get_u32(keys_page.data) > 0;
    return st;
}

typedef struct {
    const store_keys *from, *to;
    uint32_t count;
} reseal;

/* tampered says that the record at key does not open under the old keys. */
static uint32_t tampered(const uint8_t *key, uint32_t key_len, uint32_t st) {
    msg_reset();
    msg_str("record ");
    msg_bytes(key, key_len < 18 ? key_len : 18);
    msg_str(st == OPEN_AUTH ? "… does not open under the store's key" : "… is malformed");
    msg_str(": the store was tampered with or is corrupt; nothing was changed");
    return msg_fail(SESAME_INTERNAL);
}

/* stage opens the record at key under the old keys, seals it under the new
 * ones for its new storage key, writes it under r/ and deletes the old. */
static uint32_t stage(void *arg, const uint8_t *key, uint32_t key_len, const uint8_t *r, uint32_t rn) {
    reseal *c = arg;
    uint32_t info_len, st = open_record(c->from, key, key_len, r, rn, NULL, 0, &opened, &info_len);
    if (st == OPEN_AUTH || st == OPEN_CORRUPT)
        return tampered(key, key_len, st);
    if (st != SESAME_OK)
        return st;
    uint8_t nk[RECORD_KEY_LEN];
    st = record_key(c->to, opened.data + 4, sesame_get_u32(opened.data), nk);
    if (st == SESAME_OK)
        st = seal_record(c->to, nk, sizeof nk, opened.data, opened.len, &sealed);
    buf_wipe(&opened);
    memcpy(nk, PREFIX_STAGED, 2);
    if (st == SESAME_OK)
        st = sesame_kv_set(nk, sizeof nk, sealed.data, sealed.len);
    if (st == SESAME_OK)
        st = sesame_kv_delete(key, key_len);
    c->count++;
    return st;
}

/* unstage moves a record written by stage to its s/ key. */
static uint32_t unstage(void *arg, const uint8_t *key, uint32_t key_len, const uint8_t *r, uint32_t rn) {
    (void)arg;
    uint8_t k[RECORD_KEY_LEN];
    if (key_len != sizeof k)
        return tampered(key, key_len, OPEN_CORRUPT);
    memcpy(k, key, key_len);
    memcpy(k, PREFIX_SECRET, 2);
    uint32_t st = sesame_kv_set(k, sizeof k, r, rn);
    return st != SESAME_OK ? st : sesame_kv_delete(key, key_len);
}

/* stray refuses a staged record before a rekey started: no writer leaves
 * one (a rekey is one transaction), so someone put it there. */
static uint32_t stray(void *arg, const uint8_t *key, uint32_t key_len, const uint8_t *r, uint32_t rn) {
    (void)arg, (void)r, (void)rn;
    return tampered(key, key_len, OPEN_CORRUPT);
}

/* reseal_all moves every record from the keys from to the keys to, and
 * counts them. */
uint32_t reseal_all(const store_keys *from, const store_keys *to, uint32_t *count) {
    reseal c = {.from = from, .to = to};
    uint32_t st = each_entry(PREFIX_STAGED, 2, stray, NULL);
    if (st == SESAME_OK)
        st = each_entry(PREFIX_SECRET, 2, stage, &c);
    if (st == SESAME_OK)
        st = each_entry(PREFIX_STAGED, 2, unstage, NULL);
    *count = c.count;
    buf_wipe(&sealed);
    return st;
}
