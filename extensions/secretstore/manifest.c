/*
 * manifest.c — format v2's manifest: what makes a deleted record, or a
 * record (or a bucket of the manifest) restored from an earlier copy, an
 * error instead of a silent loss or an old value.
 *
 *   m/root  u8 version 2 | u64 epoch | 256 bucket digests (16 each) |
 *           HMAC-SHA256(manifest key, label | every byte before it)
 *   b/XX    a bucket's index, in clear: u8 version 2 | u32 n | n entries
 *           sorted by hash, each: name hash (32) | tag of its record (16)
 *           | the tag of b/XX/i's box (16)
 *   b/XX/i  its infos: u8 version 2 | XChaCha20-Poly1305 box (record key,
 *           AD label | u8 XX) of: u32 n | n entries in the index's order,
 *           each: name hash | record tag | u32 info length | info record
 *           (SPEC.md §7.5: the name as stored, type, metadata)
 *
 * A bucket's digest in the root is the first 16 bytes of the HMAC of its
 * index under the manifest key (after a label and u8 XX): a get reads the
 * root, the index (48 bytes a record, no name) and the record, with no
 * box to open; the infos, which hold the names, are read by a listing and
 * by the writes, which rewrite them. The index says nothing the storage
 * keys and the records' last bytes do not already say.
 *
 * XX is the first byte of the name hash (of the record's storage key
 * s/HEX) in hex: a bucket holds about 1/256 of the records, so a write
 * rewrites one bucket and the root, whatever the store's size. An empty
 * bucket has digest zero, and no b/XX nor b/XX/i; the root's MAC covers
 * every digest and the epoch, which every write raises. A record's tag
 * (its last 16 bytes) is what its entry must hold, so an older version of
 * the record, sealed under the same key, no longer matches; an older index
 * no longer matches the root, older infos no longer match the index; an
 * older root no longer matches... the buckets written since. Only a copy of the whole
 * store taken earlier (root, buckets and records together) is consistent:
 * detecting that needs state outside the file (README.md, threat model).
 *
 * The infos in the buckets let a listing read 256 buckets instead of
 * opening every record; it still reads every record's tag, to find the
 * ones that were deleted, restored or planted.
 */
#include "secretstore.h"

static const char label_root[] = "sesame secretstore v2 root";     /* and its NUL */
static const char label_bucket[] = "sesame secretstore v2 bucket"; /* and its NUL */
static const char label_index[] = "sesame secretstore v2 index";   /* and its NUL */

static sesame_buf raw, mac_in;

/* digest_zero reports whether a digest is all zeros: an empty bucket. */
int digest_zero(const uint8_t *d) {
    uint8_t z = 0;
    for (uint32_t i = 0; i < DIGEST_SIZE; i++)
        z |= d[i];
    return z == 0;
}

/* root_mac writes the MAC of the root body b (ROOT_BODY bytes) to dst. */
static uint32_t root_mac(const store_keys *k, const uint8_t *b, uint8_t *dst) {
    mac_in.len = 0;
    if (!sesame_buf_append(&mac_in, label_root, sizeof label_root) || !sesame_buf_append(&mac_in, b, ROOT_BODY))
        return sesame_fail(SESAME_TOO_LARGE, "out of memory");
    return locked(sesame_key_hmac(k->manifest, mac_in.data, mac_in.len, dst));
}

/* same compares n bytes in constant time. */
static int same(const uint8_t *a, const uint8_t *b, uint32_t n) {
    uint8_t d = 0;
    for (uint32_t i = 0; i < n; i++)
        d |= a[i] ^ b[i];
    return d == 0;
}

uint32_t tampered_store(const char *what) {
    msg_reset();
    msg_str("the store was tampered with or is damaged: ");
    msg_str(what);
    return msg_fail(SESAME_INTERNAL);
}

/* root_load reads m/root and checks its MAC under the manifest key. */
uint32_t root_load(const store_keys *k, root *r) {
    uint32_t st = kv_read(&raw, KEY_ROOT);
    if (st == SESAME_NOT_FOUND)
        return tampered_store("its manifest (m/root) is missing");
    if (st != SESAME_OK)
        return st;
    if (raw.len != ROOT_LEN || raw.data[0] != STORE_VERSION)
        return tampered_store("its manifest (m/root) is malformed");
    uint8_t mac[SESAME_KEY_HMAC];
    if ((st = root_mac(k, raw.data, mac)) != SESAME_OK)
        return st;
    if (!same(mac, raw.data + ROOT_BODY, sizeof mac))
        return tampered_store("its manifest (m/root) does not authenticate under the store's key");
    r->epoch = (uint64_t)sesame_get_i64(raw.data + 1);
    memcpy(r->digest, raw.data + 9, sizeof r->digest);
    return SESAME_OK;
}

/* root_store raises the epoch of r and writes it. */
uint32_t root_store(const store_keys *k, root *r) {
    uint8_t b[ROOT_LEN];
    r->epoch++;
    b[0] = STORE_VERSION;
    sesame_put_i64(b + 1, (int64_t)r->epoch);
    memcpy(b + 9, r->digest, sizeof r->digest);
    uint32_t st = root_mac(k, b, b + ROOT_BODY);
    return st != SESAME_OK ? st : sesame_kv_set(KEY_ROOT, sizeof KEY_ROOT - 1, b, sizeof b);
}

/* bucket_key writes the storage key of bucket idx's index, b/XX, and with
 * infos that of its infos, b/XX/i: one prefix, so that a scan of b/ finds
 * both. */
static void bucket_key(uint32_t idx, int infos, char *dst) {
    static const char hex[] = "0123456789abcdef";
    memcpy(dst, PREFIX_BUCKET, 2);
    dst[2] = hex[idx >> 4];
    dst[3] = hex[idx & 15];
    memcpy(dst + 4, infos ? "/i" : "", infos ? 3 : 1);
}

static uint32_t bucket_ad(uint8_t *ad, uint32_t idx) {
    memcpy(ad, label_bucket, sizeof label_bucket);
    ad[sizeof label_bucket] = (uint8_t)idx;
    return sizeof label_bucket + 1;
}

/* index_digest writes to dst the digest of the index b/XX of bucket idx,
 * [p, p+n): the first DIGEST_SIZE bytes of its HMAC under the manifest
 * key, after a label and idx. */
static uint32_t index_digest(const store_keys *k, uint32_t idx, const uint8_t *p, uint32_t n, uint8_t *dst) {
    uint8_t ad[sizeof label_index + 1], mac[SESAME_KEY_HMAC];
    memcpy(ad, label_index, sizeof label_index);
    ad[sizeof label_index] = (uint8_t)idx;
    mac_in.len = 0;
    if (!sesame_buf_append(&mac_in, ad, sizeof ad) || !sesame_buf_append(&mac_in, p, n))
        return sesame_fail(SESAME_TOO_LARGE, "the manifest does not fit in the vault's memory");
    uint32_t st = locked(sesame_key_hmac(k->manifest, mac_in.data, mac_in.len, mac));
    memcpy(dst, mac, DIGEST_SIZE);
    return st;
}

/* index_parse checks the layout of an index of bucket idx: version, count,
 * entries of bucket idx in strictly ascending hash order, the infos' tag. */
static int index_parse(const uint8_t *p, uint32_t n, uint32_t idx, uint32_t *count) {
    if (n < INDEX_HEAD + TAG_SIZE || p[0] != STORE_VERSION)
        return 0;
    uint32_t c = sesame_get_u32(p + 1);
    if (c == 0 || c > (n - INDEX_HEAD - TAG_SIZE) / INDEX_ENTRY || n != INDEX_HEAD + c * INDEX_ENTRY + TAG_SIZE)
        return 0;
    for (uint32_t i = 0; i < c; i++) {
        const uint8_t *e = p + INDEX_HEAD + i * INDEX_ENTRY;
        if (e[0] != idx || (i > 0 && memcmp(e - INDEX_ENTRY, e, HASH_SIZE) >= 0))
            return 0;
    }
    *count = c;
    return 1;
}

/* bucket_problem fails naming the storage key of a part of a bucket. */
static uint32_t bucket_problem(const char *key, const char *what) {
    msg_reset();
    msg_str("the store was tampered with or is damaged: bucket ");
    msg_str(key);
    msg_str(what);
    return msg_fail(SESAME_INTERNAL);
}

static sesame_buf ix; /* the index that index_load read */

/* index_load reads the index b/XX of bucket idx of r into ix and checks it
 * against its digest in the root: *n entries (0 for an empty bucket). */
static uint32_t index_load(const store_keys *k, const root *r, uint32_t idx, uint32_t *n) {
    *n = 0;
    ix.len = 0;
    if (digest_zero(r->digest[idx]))
        return SESAME_OK;
    char key[7];
    bucket_key(idx, 0, key);
    uint32_t st = kv_read(&ix, key);
    if (st == SESAME_NOT_FOUND)
        return bucket_problem(key, " of its manifest is missing");
    if (st != SESAME_OK)
        return st;
    uint8_t d[DIGEST_SIZE];
    if ((st = index_digest(k, idx, ix.data, ix.len, d)) != SESAME_OK)
        return st;
    if (!same(d, r->digest[idx], DIGEST_SIZE))
        return bucket_problem(key, " of its manifest is not the one its root names (restored from an earlier copy?)");
    if (!index_parse(ix.data, ix.len, idx, n))
        return tampered_store("a bucket of its manifest is malformed");
    return SESAME_OK;
}

/* index_find returns the entry (hash, tag) of hash in bucket idx of r, or
 * NULL when the bucket does not list it: a binary search of its index. */
uint32_t index_find(const store_keys *k, const root *r, const uint8_t *hash, const uint8_t **entry) {
    uint32_t n, st = index_load(k, r, hash[0], &n);
    *entry = NULL;
    for (uint32_t lo = 0, hi = n; st == SESAME_OK && lo < hi;) {
        uint32_t mid = lo + (hi - lo) / 2;
        const uint8_t *e = ix.data + INDEX_HEAD + mid * INDEX_ENTRY;
        int c = memcmp(e, hash, HASH_SIZE);
        if (c == 0) {
            *entry = e;
            break;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return st;
}

/* bucket_parse checks the plain text of a bucket's infos: its entries in
 * strictly ascending hash order, all of bucket idx, each info well formed,
 * each (hash, tag) the one of the index ix (of n entries) names. */
static int bucket_parse(const uint8_t *p, uint32_t n, uint32_t idx, uint32_t *count) {
    if (n < 4)
        return 0;
    uint32_t c = sesame_get_u32(p), off = 4;
    if (c != *count)
        return 0;
    for (uint32_t i = 0; i < c; i++) {
        if (n - off < ENTRY_HEAD)
            return 0;
        const uint8_t *e = p + off;
        uint32_t len = sesame_get_u32(e + HASH_SIZE + TAG_SIZE);
        if (e[0] != idx || memcmp(e, ix.data + INDEX_HEAD + i * INDEX_ENTRY, INDEX_ENTRY) != 0 ||
            len > n - off - ENTRY_HEAD || !check_info(e + ENTRY_HEAD, len))
            return 0;
        off += ENTRY_HEAD + len;
    }
    return off == n;
}

/* bucket_empty makes b the empty bucket idx. */
uint32_t bucket_empty(bucket *b, uint32_t idx) {
    b->idx = idx;
    b->n = 0;
    b->plain.len = 0;
    if (!sesame_buf_reserve(&b->plain, 4))
        return sesame_fail(SESAME_TOO_LARGE, "out of memory");
    sesame_put_u32(b->plain.data, 0);
    b->plain.len = 4;
    return SESAME_OK;
}

/* bucket_load opens bucket idx of r into b->plain (empty when its digest
 * is zero): its index, checked against the root, then its infos, checked
 * against the index. */
uint32_t bucket_load(const store_keys *k, const root *r, uint32_t idx, bucket *b) {
    uint32_t st = bucket_empty(b, idx);
    if (st == SESAME_OK)
        st = index_load(k, r, idx, &b->n);
    if (st != SESAME_OK || b->n == 0)
        return st;
    char key[7];
    bucket_key(idx, 1, key);
    st = kv_read(&raw, key);
    if (st == SESAME_NOT_FOUND)
        return bucket_problem(key, " of its manifest is missing");
    if (st != SESAME_OK)
        return st;
    if (raw.len < 1 + BOX_OVERHEAD + 4 || raw.data[0] != STORE_VERSION ||
        !same(raw.data + raw.len - TAG_SIZE, ix.data + ix.len - TAG_SIZE, TAG_SIZE))
        return bucket_problem(key, " of its manifest is not the one its index names (restored from an earlier copy?)");
    uint8_t ad[sizeof label_bucket + 1];
    uint32_t size = raw.len - 1 - BOX_OVERHEAD;
    if (!sesame_buf_reserve(&b->plain, size))
        return sesame_fail(SESAME_TOO_LARGE, "the manifest does not fit in the vault's memory");
    int64_t got = sesame_key_open(k->record, raw.data + 1, raw.len - 1, ad, bucket_ad(ad, idx), b->plain.data,
                                  b->plain.cap);
    if (got == -SESAME_PERMISSION_DENIED || (got >= 0 && !bucket_parse(b->plain.data, (uint32_t)got, idx, &b->n))) {
        buf_wipe(&b->plain);
        return tampered_store("a bucket of its manifest does not authenticate, or is malformed");
    }
    if (got < 0)
        return locked(sesame_status(got));
    b->plain.len = (uint32_t)got;
    return SESAME_OK;
}

/* delete_key deletes key, absent or not. */
static uint32_t delete_key(const char *key) {
    uint32_t st = sesame_kv_delete(key, (uint32_t)strlen(key));
    return st == SESAME_NOT_FOUND ? SESAME_OK : st;
}

/* bucket_store seals b->plain as the infos b/XX/i, writes them and the
 * index b/XX of their entries, and sets the index's digest in r; an empty
 * bucket has neither, and digest zero. */
uint32_t bucket_store(const store_keys *k, root *r, bucket *b) {
    char key[7], infos[7];
    bucket_key(b->idx, 0, key);
    bucket_key(b->idx, 1, infos);
    if (b->n == 0) {
        memset(r->digest[b->idx], 0, DIGEST_SIZE);
        uint32_t st = delete_key(key);
        return st == SESAME_OK ? delete_key(infos) : st;
    }
    uint8_t ad[sizeof label_bucket + 1];
    raw.len = 0;
    ix.len = 0;
    if (!sesame_buf_reserve(&raw, 1 + b->plain.len + BOX_OVERHEAD) ||
        !sesame_buf_reserve(&ix, INDEX_HEAD + b->n * INDEX_ENTRY + TAG_SIZE))
        return sesame_fail(SESAME_TOO_LARGE, "the manifest does not fit in the vault's memory");
    raw.data[0] = STORE_VERSION;
    int64_t got = sesame_key_seal(k->record, b->plain.data, b->plain.len, ad, bucket_ad(ad, b->idx), raw.data + 1,
                                  raw.cap - 1);
    if (got < 0)
        return locked(sesame_status(got));
    raw.len = 1 + (uint32_t)got;
    ix.data[0] = STORE_VERSION;
    sesame_put_u32(ix.data + 1, b->n);
    ix.len = INDEX_HEAD;
    for (uint32_t i = 0, off = 4; i < b->n; i++, off += entry_len(b->plain.data + off))
        sesame_buf_append(&ix, b->plain.data + off, INDEX_ENTRY); /* room reserved above */
    sesame_buf_append(&ix, raw.data + raw.len - TAG_SIZE, TAG_SIZE);
    uint32_t st = index_digest(k, b->idx, ix.data, ix.len, r->digest[b->idx]);
    if (st == SESAME_OK)
        st = sesame_kv_set(infos, 6, raw.data, raw.len);
    return st == SESAME_OK ? sesame_kv_set(key, 4, ix.data, ix.len) : st;
}

/* bucket_find returns the offset in b->plain of the entry of hash, or of
 * the place where it would go, and sets *found. */
uint32_t bucket_find(const bucket *b, const uint8_t *hash, int *found) {
    uint32_t off = 4;
    *found = 0;
    for (uint32_t i = 0; i < b->n; i++) {
        const uint8_t *e = b->plain.data + off;
        int c = memcmp(e, hash, HASH_SIZE);
        if (c >= 0) {
            *found = c == 0;
            return off;
        }
        off += entry_len(e);
    }
    return off;
}

uint32_t entry_len(const uint8_t *e) { return ENTRY_HEAD + sesame_get_u32(e + HASH_SIZE + TAG_SIZE); }

static sesame_buf spare;

/* entry_append appends an entry to the bucket plain text p of *n entries. */
static uint32_t entry_append(sesame_buf *p, uint32_t *n, const uint8_t *hash, const uint8_t *tag, const uint8_t *info,
                             uint32_t info_len) {
    uint8_t len[4];
    sesame_put_u32(len, info_len);
    if (!sesame_buf_reserve(p, ENTRY_HEAD + info_len))
        return sesame_fail(SESAME_TOO_LARGE, "the manifest does not fit in the vault's memory");
    sesame_buf_append(p, hash, HASH_SIZE);
    sesame_buf_append(p, tag, TAG_SIZE);
    sesame_buf_append(p, len, 4);
    sesame_buf_append(p, info, info_len);
    sesame_put_u32(p->data, ++*n);
    return SESAME_OK;
}

/* bucket_put replaces the entry of hash (or inserts it) with tag and info;
 * with info NULL it deletes the entry. */
uint32_t bucket_put(bucket *b, const uint8_t *hash, const uint8_t *tag, const uint8_t *info, uint32_t info_len) {
    int found;
    uint32_t at = bucket_find(b, hash, &found), end = at + (found ? entry_len(b->plain.data + at) : 0);
    if (!found && at == b->plain.len && info != NULL) /* at the end: in place (build_manifest) */
        return entry_append(&b->plain, &b->n, hash, tag, info, info_len);
    spare.len = 0;
    if (!sesame_buf_reserve(&spare, b->plain.len + ENTRY_HEAD + info_len))
        return sesame_fail(SESAME_TOO_LARGE, "the manifest does not fit in the vault's memory");
    sesame_buf_append(&spare, b->plain.data, at);
    uint32_t n = b->n - (uint32_t)found;
    if (info != NULL)
        entry_append(&spare, &n, hash, tag, info, info_len); /* room reserved above */
    sesame_buf_append(&spare, b->plain.data + end, b->plain.len - end);
    b->n = n;
    sesame_put_u32(spare.data, n);
    buf_wipe(&b->plain);
    sesame_buf tmp = b->plain;
    b->plain = spare;
    spare = tmp;
    return SESAME_OK;
}

/* What build_manifest keeps between records. */
static root built;
static bucket building;
static sesame_buf opened;

static uint32_t drop_bucket(void *arg, const uint8_t *key, uint32_t key_len, const uint8_t *v, uint32_t vn) {
    (void)arg, (void)v, (void)vn;
    return sesame_kv_delete(key, key_len);
}

/* build_entry puts the record at key in the manifest being built, or
 * leaves it out (logged) when it does not open: a listing then reports
 * it, by its storage key, until it is removed. */
static uint32_t build_entry(void *arg, const uint8_t *key, uint32_t key_len, const uint8_t *rec, uint32_t n) {
    const store_keys *k = arg;
    uint8_t hash[HASH_SIZE];
    uint32_t info_len, st = OPEN_CORRUPT;
    if (key_hash(key, key_len, hash))
        st = open_record(k, key, key_len, rec, n, NULL, 0, &opened, &info_len);
    if (st == OPEN_AUTH || st == OPEN_CORRUPT) {
        msg_reset();
        msg_str("secretstore: record ");
        msg_bytes(key, key_len < 18 ? key_len : 18);
        msg_str("… does not open under the store's key; left out of the manifest");
        msg_log(SESAME_LOG_WARN);
        return SESAME_OK;
    }
    if (st == SESAME_OK && hash[0] != building.idx) {
        if (building.n > 0)
            st = bucket_store(k, &built, &building);
        if (st == SESAME_OK)
            st = bucket_empty(&building, hash[0]);
    }
    if (st == SESAME_OK)
        st = bucket_put(&building, hash, rec + n - TAG_SIZE, opened.data, info_len);
    buf_wipe(&opened);
    return st;
}

/* build_manifest writes the manifest of every record that opens under k,
 * replacing any there was: a store of format v1 being upgraded, or one
 * whose records a rekey moved to new keys. */
uint32_t build_manifest(const store_keys *k) {
    memset(&built, 0, sizeof built);
    uint32_t st = each_entry(PREFIX_BUCKET, 2, drop_bucket, NULL);
    if (st == SESAME_OK)
        st = bucket_empty(&building, 0);
    if (st == SESAME_OK)
        st = each_entry(PREFIX_SECRET, 2, build_entry, (void *)k);
    if (st == SESAME_OK && building.n > 0)
        st = bucket_store(k, &built, &building);
    if (st == SESAME_OK)
        st = root_store(k, &built);
    buf_wipe(&building.plain);
    return st;
}

/* A walk over the manifest and the records together (walk_store): the
 * bucket being walked, its next entry, and what was found wrong. */
#define MAX_REPORTED 8
static struct {
    const store_keys *k;
    root r;
    bucket b;
    uint32_t off, i; /* the next entry of b: its offset and index */
    info_fn fn;
    void *arg;
    uint32_t problems;
    sesame_buf report;
} w;

/* problem notes a tampered record: by its name when the manifest has it,
 * else by the start of its storage key. */
static void problem(const uint8_t *entry, const uint8_t *key, uint32_t key_len, const char *what) {
    if (w.problems++ >= MAX_REPORTED)
        return;
    if (w.report.len > 0)
        buf_str(&w.report, "; ");
    buf_str(&w.report, "record ");
    if (entry != NULL) {
        const uint8_t *info = entry + ENTRY_HEAD;
        buf_str(&w.report, "of \"");
        sesame_buf_append(&w.report, info + 4, sesame_get_u32(info)); /* checked UTF-8; quoted by msg below */
        buf_str(&w.report, "\"");
    } else {
        sesame_buf_append(&w.report, key, key_len < 18 ? key_len : 18);
        buf_str(&w.report, "…");
    }
    buf_str(&w.report, what);
}

/* next_entry moves past the entry at w.off. */
static void next_entry(void) {
    w.off += entry_len(w.b.plain.data + w.off);
    w.i++;
}

/* finish reports the entries left in the bucket: their records are gone. */
static void finish(void) {
    for (; w.i < w.b.n; next_entry())
        problem(w.b.plain.data + w.off, NULL, 0, " was deleted");
}

/* reach finishes the buckets before idx and opens bucket idx. */
static uint32_t reach(uint32_t idx) {
    uint32_t st = SESAME_OK;
    while (st == SESAME_OK && w.b.idx < idx) {
        finish();
        st = bucket_load(w.k, &w.r, w.b.idx + 1, &w.b);
        w.off = 4;
        w.i = 0;
    }
    return st;
}

/* walk_record checks one record against its entry. */
static uint32_t walk_record(void *arg, const uint8_t *key, uint32_t key_len, const uint8_t *rec, uint32_t n) {
    (void)arg;
    uint8_t hash[HASH_SIZE];
    if (!key_hash(key, key_len, hash)) {
        problem(NULL, key, key_len, " is not in the manifest (planted?)");
        return SESAME_OK;
    }
    uint32_t st = reach(hash[0]);
    if (st != SESAME_OK)
        return st;
    int c = 1;
    for (; w.i < w.b.n && (c = memcmp(w.b.plain.data + w.off, hash, HASH_SIZE)) < 0; next_entry())
        problem(w.b.plain.data + w.off, NULL, 0, " was deleted");
    if (c != 0) {
        problem(NULL, key, key_len, " is not in the manifest (restored from an earlier copy, or planted?)");
        return SESAME_OK;
    }
    const uint8_t *e = w.b.plain.data + w.off;
    if (n < TAG_SIZE || !same(e + HASH_SIZE, rec + n - TAG_SIZE, TAG_SIZE))
        problem(e, NULL, 0, " is not the version the manifest names (restored from an earlier copy?)");
    else if (w.fn != NULL && (st = w.fn(w.arg, e + ENTRY_HEAD, entry_len(e) - ENTRY_HEAD)) != SESAME_OK)
        return st;
    next_entry();
    return SESAME_OK;
}

/* walk_store checks every record against the manifest, reading each
 * record's tag only (a record changed in place, its tag kept, fails when
 * it is opened), and calls fn with the info of each sound one, in storage
 * key order. A deleted record, one restored from an earlier version, or
 * one the manifest does not know fails the walk, which names them. */
uint32_t walk_store(const store_keys *k, info_fn fn, void *arg) {
    w.k = k;
    w.fn = fn;
    w.arg = arg;
    w.problems = 0;
    w.report.len = 0;
    uint32_t st = root_load(k, &w.r);
    if (st == SESAME_OK)
        st = bucket_load(k, &w.r, 0, &w.b);
    w.off = 4;
    w.i = 0;
    if (st == SESAME_OK)
        st = each_entry(PREFIX_SECRET, 2, walk_record, NULL);
    if (st == SESAME_OK)
        st = reach(BUCKETS - 1);
    if (st == SESAME_OK)
        finish();
    buf_wipe(&w.b.plain);
    if (st != SESAME_OK || w.problems == 0)
        return st;
    msg_reset();
    msg_str("the store was tampered with: ");
    msg_bytes(w.report.data, w.report.len);
    if (w.problems > MAX_REPORTED) {
        msg_str("; and ");
        msg_num(w.problems - MAX_REPORTED);
        msg_str(" more");
    }
    buf_wipe(&w.report);
    return msg_fail(SESAME_INTERNAL);
}
