/*
 * kvvault.h — the storage that the CLI scripts' C test vaults (lockvault,
 * logvault, foldvault) share: each secret is one record of the host's
 * storage under "s/" + name, the record being the secret encoding (§7.7 of
 * abi/SPEC.md) with its metadata, if the host sent any. Names are compared
 * exactly, or, in a vault that defines KV_FOLD before it includes this
 * file, without ASCII case: the key holds the name in lower case, the
 * record the spelling of its last set. A vault includes this file from its
 * one .c file, so that internal/testwasm keeps building a folder.
 */
#ifndef KVVAULT_H
#define KVVAULT_H

#include "sesame.h"

#define KV_PREFIX "s/"
#define KV_PREFIX_LEN 2u

static sesame_buf kv_key;  /* KV_PREFIX + name (folded)  */
static sesame_buf kv_name; /* the name as given          */
static sesame_buf kv_arg;  /* an argument                */
static sesame_buf kv_rec;  /* a stored record            */
static sesame_buf kv_out;  /* a record or list to output */
static sesame_buf kv_page; /* a page of kv_scan          */
static sesame_buf kv_after;

/* kv_read_key reads argument 0, a name or pattern of len bytes, into
 * kv_name, and into kv_key after KV_PREFIX (folded under KV_FOLD). */
static uint32_t kv_read_key(uint32_t len) {
    uint32_t st = sesame_read_input(&kv_name, 0, len);
    if (st != SESAME_OK)
        return st;
    kv_key.len = 0;
    if (!sesame_buf_append(&kv_key, KV_PREFIX, KV_PREFIX_LEN) || !sesame_buf_append(&kv_key, kv_name.data, len))
        return SESAME_TOO_LARGE;
#ifdef KV_FOLD
    for (uint32_t i = KV_PREFIX_LEN; i < kv_key.len; i++)
        if (kv_key.data[i] >= 'A' && kv_key.data[i] <= 'Z')
            kv_key.data[i] += 'a' - 'A';
#endif
    return SESAME_OK;
}

/* kv_get outputs the stored record of the name; NOT_FOUND when there is
 * none. */
static uint32_t kv_get(uint32_t name_len) {
    uint32_t st = kv_read_key(name_len);
    if (st == SESAME_OK)
        st = sesame_kv_read(&kv_rec, kv_key.data, kv_key.len);
    if (st != SESAME_OK)
        return st;
    return sesame_output(kv_rec.data, kv_rec.len);
}

/* kv_stored_meta points *meta at the metadata of the stored record of the
 * name in kv_key (read into kv_rec), and sets *len to its size; both stay
 * NULL and 0 when there is no such record. */
static uint32_t kv_stored_meta(const uint8_t **meta, uint32_t *len) {
    *meta = NULL;
    *len = 0;
    uint32_t st = sesame_kv_read(&kv_rec, kv_key.data, kv_key.len);
    if (st == SESAME_NOT_FOUND)
        return SESAME_OK;
    if (st != SESAME_OK)
        return st;
    uint32_t info = sesame_info_size(kv_rec.data, kv_rec.len);
    if (info == 0)
        return sesame_fail(SESAME_INTERNAL, "a stored record is corrupt");
    uint32_t head = 4 + sesame_get_u32(kv_rec.data) + 1; /* str name, u8 type */
    *meta = kv_rec.data + head;
    *len = info - head;
    return SESAME_OK;
}

/* kv_store writes the record of kv_name with the metadata and the value. */
static uint32_t kv_store(const uint8_t *meta, uint32_t meta_len, const uint8_t *value, uint32_t value_len) {
    kv_out.len = 0;
    if (!sesame_buf_reserve(&kv_out, sesame_secret_len(kv_name.len, meta_len, value_len)))
        return SESAME_TOO_LARGE;
    kv_out.len = sesame_put_secret(kv_out.data, kv_name.data, kv_name.len, meta, meta_len, value, value_len);
    return sesame_kv_set(kv_key.data, kv_key.len, kv_out.data, kv_out.len);
}

/* kv_set stores the value under the name, with the metadata given, or,
 * when none is (meta_len 0), the metadata stored before (§4: set). */
static uint32_t kv_set(uint32_t name_len, uint32_t value_len, uint32_t meta_len) {
    uint32_t st = kv_read_key(name_len);
    if (st == SESAME_OK)
        st = sesame_read_input(&kv_arg, 1, value_len);
    if (st != SESAME_OK)
        return st;
    if (value_len == 0)
        return sesame_fail(SESAME_INVALID_ARGUMENT, "empty value encoding");
    const uint8_t *meta;
    if (meta_len == 0)
        st = kv_stored_meta(&meta, &meta_len);
    else if ((st = sesame_read_input(&kv_rec, 2, meta_len)) == SESAME_OK)
        meta = kv_rec.data;
    if (st != SESAME_OK)
        return st;
    return kv_store(meta, meta_len, kv_arg.data, value_len);
}

/* kv_set_metadata replaces the metadata of the stored record of the name;
 * NOT_FOUND when there is none. (Inline: a vault without metadata has no
 * use for it.) */
static inline uint32_t kv_set_metadata(uint32_t name_len, uint32_t meta_len) {
    uint32_t st = kv_read_key(name_len);
    if (st == SESAME_OK)
        st = sesame_read_input(&kv_arg, 1, meta_len);
    if (st == SESAME_OK)
        st = sesame_kv_read(&kv_rec, kv_key.data, kv_key.len);
    if (st != SESAME_OK)
        return st;
    uint32_t info = sesame_info_size(kv_rec.data, kv_rec.len);
    if (info == 0)
        return sesame_fail(SESAME_INTERNAL, "a stored record is corrupt");
    return kv_store(kv_arg.data, kv_arg.len, kv_rec.data + info, kv_rec.len - info);
}

/* kv_remove deletes the name's record; NOT_FOUND when there is none. */
static uint32_t kv_remove(uint32_t name_len) {
    uint32_t st = kv_read_key(name_len);
    if (st != SESAME_OK)
        return st;
    return sesame_kv_delete(kv_key.data, kv_key.len);
}

/* kv_list outputs the info list of the names that match the pattern: the
 * info part of each stored record, or, when type is not 0, the name with
 * that type. */
static uint32_t kv_list(uint32_t pattern_len, uint8_t type) {
    uint32_t st = kv_read_key(pattern_len);
    if (st != SESAME_OK)
        return st;
    const uint8_t *pattern = kv_key.data + KV_PREFIX_LEN;
    uint32_t count = 0;
    kv_out.len = kv_after.len = 0;
    if (!sesame_buf_append(&kv_out, "\0\0\0\0", 4))
        return SESAME_TOO_LARGE;
    for (;;) {
        st = sesame_kv_scan_page(&kv_page, KV_PREFIX, KV_PREFIX_LEN, kv_after.data, kv_after.len);
        if (st != SESAME_OK)
            return st;
        if (kv_page.len < 4 || sesame_get_u32(kv_page.data) == 0)
            break;
        const uint8_t *p = kv_page.data + 4, *k = NULL, *v;
        uint32_t left = kv_page.len - 4, kn = 0, vn;
        for (uint32_t i = sesame_get_u32(kv_page.data); i > 0; i--) {
            if (!sesame_entry_next(&p, &left, &k, &kn, &v, &vn))
                return sesame_fail(SESAME_INTERNAL, "kv_scan returned a malformed page");
            if (!sesame_match(pattern, pattern_len, k + KV_PREFIX_LEN, kn - KV_PREFIX_LEN))
                continue;
            uint32_t info = type ? sesame_info_len(kn - KV_PREFIX_LEN, 0) : sesame_info_size(v, vn);
            if (info == 0)
                return sesame_fail(SESAME_INTERNAL, "a stored record is corrupt");
            if (!sesame_buf_reserve(&kv_out, info))
                return SESAME_TOO_LARGE;
            if (type)
                sesame_put_info(kv_out.data + kv_out.len, k + KV_PREFIX_LEN, kn - KV_PREFIX_LEN, type, NULL, 0);
            else
                memcpy(kv_out.data + kv_out.len, v, info);
            kv_out.len += info;
            count++;
        }
        kv_after.len = 0;
        if (!sesame_buf_append(&kv_after, k, kn))
            return SESAME_TOO_LARGE;
    }
    sesame_put_u32(kv_out.data, count);
    return sesame_output(kv_out.data, kv_out.len);
}

#endif
