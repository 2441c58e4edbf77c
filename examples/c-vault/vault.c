/*
 * c-vault: a complete sesame vault in C, over the host's storage area.
 *
 * Each secret is one storage record under the key "s/" + name, and the
 * record is the secret encoding itself (§7.7 of abi/SPEC.md: info record,
 * then value). The vault never looks inside a value: get hands the record
 * back as it is, stat hands back its info part, and list collects the info
 * parts of the records whose names match. Names are case-sensitive, and
 * metadata is kept (it is part of the record).
 *
 * Build (see README.md, or `make examples` from the repository root):
 *
 *     clang --target=wasm32-wasi -mexec-model=reactor -O2 -I abi/c \
 *           -Wl,--strip-all -o examples/c-vault/c-vault.wasm examples/c-vault/vault.c
 */
#include "sesame.h"

SESAME_ABI_V1_MARKER

static const char manifest[] =
    "{\"abi\":1,\"name\":\"c-vault\",\"version\":\"1.0.0\","
    "\"description\":\"a vault in C over host storage\","
    "\"metadata\":true,\"case_sensitive\":true,"
    "\"operations\":[\"get\",\"stat\",\"set\",\"remove\",\"list\",\"set_metadata\",\"test\"],"
    "\"grants\":[\"storage\"]}";

/* Storage layout: one record per secret under PREFIX + name. */
#define PREFIX "s/"
#define PREFIX_LEN 2u
#define PROBE_KEY "t/probe"

/* Scratch buffers, kept between the calls of one instance so that a call
 * rarely allocates. They hold nothing another instance needs (§3). */
static sesame_buf key;    /* PREFIX + name, or the list prefix */
static sesame_buf arg;    /* an argument: value or metadata    */
static sesame_buf rec;    /* a stored record                   */
static sesame_buf out;    /* a record or list being built      */
static sesame_buf page;   /* a page of kv_list                 */
static sesame_buf after;  /* the last key of the previous page */

/* read_key reads argument 0 (a name or pattern of len bytes) into key,
 * after PREFIX. */
static uint32_t read_key(uint32_t len) {
    key.len = 0;
    if (!sesame_buf_reserve(&key, PREFIX_LEN + len))
        return SESAME_TOO_LARGE;
    memcpy(key.data, PREFIX, PREFIX_LEN);
    int32_t n = sesame_input(0, key.data + PREFIX_LEN, len);
    if (n < 0)
        return (uint32_t)-n;
    if ((uint32_t)n != len)
        return SESAME_INVALID_ARGUMENT;
    key.len = PREFIX_LEN + len;
    return SESAME_OK;
}

/* load reads the record of the name in key into rec, and returns the size
 * of its info part in *info. NOT_FOUND comes back as a bare status: the
 * engine's own "secret not found" message says it best. */
static uint32_t load(uint32_t *info) {
    uint32_t st = sesame_kv_read(&rec, key.data, key.len);
    if (st != SESAME_OK)
        return st;
    *info = sesame_info_size(rec.data, rec.len);
    if (*info == 0 || *info >= rec.len)
        return sesame_fail(SESAME_INTERNAL, "a stored record is corrupt");
    return SESAME_OK;
}

/* store writes the record name + type + meta + value, built in out. */
static uint32_t store(const uint8_t *meta, uint32_t meta_len, const uint8_t *value, uint32_t value_len) {
    const uint8_t *name = key.data + PREFIX_LEN;
    uint32_t name_len = key.len - PREFIX_LEN;
    out.len = 0;
    if (!sesame_buf_reserve(&out, sesame_secret_len(name_len, meta_len, value_len)))
        return SESAME_TOO_LARGE;
    out.len = sesame_put_secret(out.data, name, name_len, meta, meta_len, value, value_len);
    return sesame_kv_set(key.data, key.len, out.data, out.len);
}

SESAME_EXPORT("sesame_manifest") uint32_t vault_manifest(void) {
    return sesame_output(manifest, sizeof manifest - 1);
}

SESAME_EXPORT("sesame_get") uint32_t vault_get(uint32_t name_len) {
    uint32_t info, st = read_key(name_len);
    if (st == SESAME_OK)
        st = load(&info);
    if (st != SESAME_OK)
        return st;
    return sesame_output(rec.data, rec.len);
}

SESAME_EXPORT("sesame_stat") uint32_t vault_stat(uint32_t name_len) {
    uint32_t info, st = read_key(name_len);
    if (st == SESAME_OK)
        st = load(&info);
    if (st != SESAME_OK)
        return st;
    return sesame_output(rec.data, info);
}

/* set: metadata of length 0 means "none given": keep what is stored. */
SESAME_EXPORT("sesame_set") uint32_t vault_set(uint32_t name_len, uint32_t value_len, uint32_t meta_len) {
    uint32_t st = read_key(name_len);
    if (st != SESAME_OK)
        return st;
    if (value_len == 0)
        return sesame_fail(SESAME_INVALID_ARGUMENT, "empty value encoding");
    /* arg holds the metadata, then the value. */
    arg.len = 0;
    if (!sesame_buf_reserve(&arg, meta_len + value_len))
        return SESAME_TOO_LARGE;
    if (sesame_input(2, arg.data, meta_len) != (int32_t)meta_len ||
        sesame_input(1, arg.data + meta_len, value_len) != (int32_t)value_len)
        return SESAME_INVALID_ARGUMENT;
    const uint8_t *meta = arg.data, *value = arg.data + meta_len;
    if (meta_len == 0) {
        uint32_t info;
        st = load(&info);
        if (st == SESAME_OK) {
            uint32_t head = 4 + sesame_get_u32(rec.data) + 1; /* str name, u8 type */
            meta = rec.data + head;
            meta_len = info - head;
        } else if (st != SESAME_NOT_FOUND) {
            return st;
        }
    }
    return store(meta, meta_len, value, value_len);
}

SESAME_EXPORT("sesame_set_metadata") uint32_t vault_set_metadata(uint32_t name_len, uint32_t meta_len) {
    uint32_t info, st = read_key(name_len);
    if (st == SESAME_OK)
        st = sesame_read_input(&arg, 1, meta_len);
    if (st == SESAME_OK)
        st = load(&info);
    if (st != SESAME_OK)
        return st;
    return store(arg.data, arg.len, rec.data + info, rec.len - info);
}

SESAME_EXPORT("sesame_remove") uint32_t vault_remove(uint32_t name_len) {
    uint32_t st = read_key(name_len);
    if (st != SESAME_OK)
        return st;
    return sesame_kv_delete(key.data, key.len); /* NOT_FOUND when absent */
}

/* list pages through the keys that start with PREFIX + the pattern's
 * literal prefix, matches each name against the whole pattern and copies
 * the info part of each matching record into the output. */
SESAME_EXPORT("sesame_list") uint32_t vault_list(uint32_t pattern_len) {
    uint32_t st = read_key(pattern_len);
    if (st != SESAME_OK)
        return st;
    const uint8_t *pattern = key.data + PREFIX_LEN;
    uint32_t prefix_len = PREFIX_LEN + sesame_literal_prefix(pattern, pattern_len);
    if (prefix_len > SESAME_MAX_STORAGE_KEY)
        prefix_len = PREFIX_LEN; /* too long to be a key prefix: scan them all */

    uint32_t count = 0;
    out.len = 0;
    after.len = 0;
    if (!sesame_buf_append(&out, "\0\0\0\0", 4))
        return SESAME_TOO_LARGE;
    for (;;) {
        st = sesame_kv_list_page(&page, key.data, prefix_len, after.data, after.len);
        if (st != SESAME_OK)
            return st;
        uint32_t n = sesame_get_u32(page.data), off = 4;
        if (n == 0)
            break;
        const uint8_t *k = NULL;
        uint32_t klen = 0;
        for (uint32_t i = 0; i < n; i++) {
            klen = sesame_get_u32(page.data + off);
            k = page.data + off + 4;
            off += 4 + klen;
            if (!sesame_match(pattern, pattern_len, k + PREFIX_LEN, klen - PREFIX_LEN))
                continue;
            st = sesame_kv_read(&rec, k, klen);
            if (st == SESAME_NOT_FOUND)
                continue; /* removed since the page was read */
            if (st != SESAME_OK)
                return st;
            uint32_t info = sesame_info_size(rec.data, rec.len);
            if (info == 0)
                return sesame_fail(SESAME_INTERNAL, "a stored record is corrupt");
            if (!sesame_buf_append(&out, rec.data, info))
                return SESAME_TOO_LARGE;
            count++;
        }
        after.len = 0;
        if (!sesame_buf_append(&after, k, klen))
            return SESAME_TOO_LARGE;
    }
    sesame_put_u32(out.data, count);
    return sesame_output(out.data, out.len);
}

/* test writes, reads back and deletes a probe record. */
SESAME_EXPORT("sesame_test") uint32_t vault_test(void) {
    static const char probe[] = "sesame c-vault probe";
    uint32_t st = sesame_kv_set(PROBE_KEY, sizeof PROBE_KEY - 1, probe, sizeof probe - 1);
    if (st == SESAME_OK)
        st = sesame_kv_read(&rec, PROBE_KEY, sizeof PROBE_KEY - 1);
    if (st != SESAME_OK)
        return st;
    if (rec.len != sizeof probe - 1 || memcmp(rec.data, probe, rec.len) != 0)
        return sesame_fail(SESAME_UNAVAILABLE, "storage returned other bytes than were written");
    return sesame_kv_delete(PROBE_KEY, sizeof PROBE_KEY - 1);
}
