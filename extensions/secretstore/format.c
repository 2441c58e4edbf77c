/*
 * format.c — the on-disk format v2 of the secretstore, byte for byte the
 * one internal/secretstore/format writes (its doc comment is the spec; all
 * integers little-endian):
 *
 *   c/config  u8 version 2 | u8 mode 1 | i64 created | u8 kdf 1 (Argon2id) |
 *             u32 time | u32 memory KiB | u8 threads | u8 salt length |
 *             salt | store id (16) | nonce (24) | wrapped master key (32+16)
 *   c/key     u8 version 2 | u8 mode 0 | i64 created | store id | master key
 *   s/HEX     u8 version 1 | u8 type | nonce (24) | cipher text | tag (16)
 *   m/root, b/XX  the manifest (manifest.c)
 *
 * Format v1 (sesame 0.4 and before) is the same without the manifest, and
 * version 1 in c/config and c/key; the vault reads it to upgrade it.
 *
 * The wrap and the record boxes are nonce ‖ cipher text ‖ tag, the box of
 * the host's key_wrap and key_seal (SPEC.md §5.8), so the host opens them
 * as they lie on disk. Parsers check the layout only: the host refuses
 * Argon2id parameters outside its bounds, and authentication the rest.
 */
#include "secretstore.h"

static const char label_wrap_ad[] = "sesame secretstore v1 master key"; /* and its NUL */
static const char label_record_ad[] = "sesame secretstore v1 record";    /* and its NUL */

int parse_config(const uint8_t *b, uint32_t n, config *c) {
    if (n < 21 || (b[0] != 1 && b[0] != STORE_VERSION) || b[1] != AUTH_PASSWORD || b[10] != KDF_ARGON2ID)
        return 0;
    uint32_t salt_len = b[20];
    if (n - 21 != salt_len + STORE_ID_SIZE + NONCE_SIZE + MASTER_KEY_SIZE + TAG_SIZE)
        return 0;
    *c = (config){
        .raw = b,
        .version = b[0],
        .header_len = 21 + salt_len + STORE_ID_SIZE,
        .created = sesame_get_i64(b + 2),
        .time = sesame_get_u32(b + 11),
        .memory_kib = sesame_get_u32(b + 15),
        .threads = b[19],
        .salt = b + 21,
        .salt_len = salt_len,
        .id = b + 21 + salt_len,
        .box = b + 21 + salt_len + STORE_ID_SIZE,
    };
    return 1;
}

int parse_key_record(const uint8_t *b, uint32_t n, key_record *k) {
    if (n != KEY_RECORD_LEN || (b[0] != 1 && b[0] != STORE_VERSION) || b[1] != AUTH_NONE)
        return 0;
    *k = (key_record){.version = b[0], .created = sesame_get_i64(b + 2), .id = b + 10, .key = b + 10 + STORE_ID_SIZE};
    return 1;
}

uint32_t put_key_record(uint8_t *dst, int64_t created, const uint8_t *id, const uint8_t *key) {
    dst[0] = STORE_VERSION;
    dst[1] = AUTH_NONE;
    sesame_put_i64(dst + 2, created);
    memcpy(dst + 10, id, STORE_ID_SIZE);
    memcpy(dst + 10 + STORE_ID_SIZE, key, MASTER_KEY_SIZE);
    return KEY_RECORD_LEN;
}

/* put_config_header writes the bytes of a c/config before the nonce, with
 * the parameters of new passwords (format.DefaultKDF: RFC 9106's second
 * recommended option, t=3, 64 MiB, p=4) and a SALT_SIZE salt. */
uint32_t put_config_header(uint8_t *dst, int64_t created, const uint8_t *salt, const uint8_t *id) {
    dst[0] = STORE_VERSION;
    dst[1] = AUTH_PASSWORD;
    sesame_put_i64(dst + 2, created);
    dst[10] = KDF_ARGON2ID;
    sesame_put_u32(dst + 11, 3);
    sesame_put_u32(dst + 15, 64 << 10);
    dst[19] = 4;
    dst[20] = SALT_SIZE;
    memcpy(dst + 21, salt, SALT_SIZE);
    memcpy(dst + 21 + SALT_SIZE, id, STORE_ID_SIZE);
    return 21 + SALT_SIZE + STORE_ID_SIZE;
}

/* wrap_ad writes the associated data of the wrap (the label, its NUL and
 * every header byte of c/config) to dst, which holds sizeof label_wrap_ad
 * + header_len bytes, and returns its length. */
uint32_t wrap_ad(uint8_t *dst, const uint8_t *header, uint32_t header_len) {
    memcpy(dst, label_wrap_ad, sizeof label_wrap_ad);
    memcpy(dst + sizeof label_wrap_ad, header, header_len);
    return sizeof label_wrap_ad + header_len;
}

/* record_header_ok checks the layout of a record: long enough for a box,
 * version 1, a known type. */
int record_header_ok(const uint8_t *rec, uint32_t n) {
    return n >= RECORD_HEADER + BOX_OVERHEAD && rec[0] == VERSION && sesame_value_type(rec + 1, 1) != 0;
}

/* record_ad writes the associated data of a record stored under key to
 * dst, which holds sizeof label_record_ad + 4 + key_len + 2 bytes: the
 * label, its NUL, u32 len(key), key, version, type. */
uint32_t record_ad(uint8_t *dst, const uint8_t *key, uint32_t key_len, uint8_t type) {
    uint32_t n = sizeof label_record_ad;
    memcpy(dst, label_record_ad, n);
    sesame_put_u32(dst + n, key_len);
    memcpy(dst + n + 4, key, key_len);
    n += 4 + key_len;
    dst[n++] = VERSION;
    dst[n++] = type;
    return n;
}

/* AD_MAX holds the AD of any storage key (a listing reads keys that a
 * tampered store may make long). */
#define AD_MAX (sizeof label_record_ad + 4 + SESAME_MAX_STORAGE_KEY + 2)

static sesame_buf folded;

/* record_key writes the storage key of the secret called name to dst
 * (RECORD_KEY_LEN bytes): "s/" and the hex HMAC of its folded spelling
 * under the name key, so that names differing only in case share a record
 * and no name appears on disk. */
uint32_t record_key(const store_keys *k, const uint8_t *name, uint32_t n, uint8_t *dst) {
    static const char hex[] = "0123456789abcdef";
    uint8_t sum[SESAME_KEY_HMAC];
    if (!fold(name, n, &folded))
        return sesame_fail(SESAME_TOO_LARGE, "out of memory");
    uint32_t st = locked(sesame_key_hmac(k->name, folded.data, folded.len, sum));
    if (st != SESAME_OK)
        return st;
    memcpy(dst, PREFIX_SECRET, 2);
    for (uint32_t i = 0; i < sizeof sum; i++) {
        dst[2 + 2 * i] = (uint8_t)hex[sum[i] >> 4];
        dst[3 + 2 * i] = (uint8_t)hex[sum[i] & 15];
    }
    return SESAME_OK;
}

/* key_hash reads the name hash of a record's storage key (s/ and 64
 * lower-case hex digits) into hash; 0 when key is not one. */
int key_hash(const uint8_t *key, uint32_t key_len, uint8_t *hash) {
    if (key_len != RECORD_KEY_LEN || memcmp(key, PREFIX_SECRET, 2) != 0)
        return 0;
    for (uint32_t i = 0; i < HASH_SIZE; i++) {
        uint32_t v = 0;
        for (uint32_t j = 0; j < 2; j++) {
            uint8_t c = key[2 + 2 * i + j];
            if (c >= '0' && c <= '9')
                v = v << 4 | (uint32_t)(c - '0');
            else if (c >= 'a' && c <= 'f')
                v = v << 4 | (uint32_t)(c - 'a' + 10);
            else
                return 0;
        }
        hash[i] = (uint8_t)v;
    }
    return 1;
}

/* open_record authenticates and decrypts the record rec read from the
 * storage key key into plain (the secret encoding, SPEC.md §7.7) and sets
 * *info_len to the length of its info record. name is the name looked up,
 * or NULL in a listing, where the record's binding to key by its AD is the
 * only check. It returns OPEN_CORRUPT for a wrong layout, OPEN_AUTH for a
 * record that does not authenticate under key or whose name does not fold
 * to name, or a host status; plain is wiped on failure. */
uint32_t open_record(const store_keys *k, const uint8_t *key, uint32_t key_len, const uint8_t *rec,
                     uint32_t n, const uint8_t *name, uint32_t name_len, sesame_buf *plain, uint32_t *info_len) {
    if (!record_header_ok(rec, n) || key_len > SESAME_MAX_STORAGE_KEY)
        return OPEN_CORRUPT;
    uint8_t ad[AD_MAX];
    uint32_t ad_len = record_ad(ad, key, key_len, rec[1]);
    uint32_t size = n - RECORD_HEADER - BOX_OVERHEAD;
    plain->len = 0;
    if (!sesame_buf_reserve(plain, size ? size : 1))
        return sesame_fail(SESAME_TOO_LARGE, "the record does not fit in the vault's memory");
    int64_t got = sesame_key_open(k->record, rec + RECORD_HEADER, n - RECORD_HEADER, ad, ad_len, plain->data, plain->cap);
    if (got == -SESAME_PERMISSION_DENIED)
        return OPEN_AUTH;
    if (got < 0)
        return locked(sesame_status(got));
    plain->len = (uint32_t)got;
    uint32_t st = SESAME_OK;
    if ((*info_len = check_secret(plain->data, plain->len, rec[1])) == 0)
        st = OPEN_CORRUPT; /* authentic but undecodable: a broken writer */
    else if (name != NULL && !same_fold(plain->data + 4, sesame_get_u32(plain->data), name, name_len))
        st = OPEN_AUTH; /* a writer with the keys sealed it under another name's key */
    if (st != SESAME_OK)
        buf_wipe(plain);
    return st;
}

/* seal_record seals plain, a secret encoding whose type is its value's,
 * into rec, the record of storage key key. */
uint32_t seal_record(const store_keys *k, const uint8_t *key, uint32_t key_len, const uint8_t *plain,
                     uint32_t n, sesame_buf *rec) {
    uint8_t type = plain[sesame_info_size(plain, n)];
    uint8_t ad[AD_MAX];
    uint32_t ad_len = record_ad(ad, key, key_len, type);
    rec->len = 0;
    if (!sesame_buf_reserve(rec, RECORD_HEADER + n + BOX_OVERHEAD))
        return sesame_fail(SESAME_TOO_LARGE, "the record does not fit in the vault's memory");
    rec->data[0] = VERSION;
    rec->data[1] = type;
    int64_t got = sesame_key_seal(k->record, plain, n, ad, ad_len, rec->data + RECORD_HEADER, rec->cap - RECORD_HEADER);
    if (got < 0)
        return locked(sesame_status(got));
    rec->len = RECORD_HEADER + (uint32_t)got;
    return SESAME_OK;
}
