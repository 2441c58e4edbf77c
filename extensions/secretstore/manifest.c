/*
 * manifest.c — format v2's manifest: what makes a deleted record, or a
 * record (or a bucket of the manifest) restored from an earlier copy, an
 * error instead of a silent loss or an old value.
 *
 *   m/root  u8 version 2 | u64 epoch | 256 bucket digests (16 each) |
 *           HMAC-SHA256(manifest key, label | every byte before it)
 *   b/XX    a bucket of one leaf: its index, in clear: u8 version 2 |
 *           u32 n | n entries sorted by hash, each: name hash (32) | tag
 *           of its record (16) | the tag of b/XX/i's box (16);
 *           a bucket split in leaves: its directory, u8 version 3 | u8
 *           depth (1..8) | 2^depth leaf digests (16, zero: empty leaf)
 *   b/XX/i  the infos of a bucket of one leaf: u8 version 2 |
 *           XChaCha20-Poly1305 box (record key, AD label | u8 XX) of:
 *           u32 n | n entries in the index's order, each: name hash |
 *           record tag | u32 info length | info record (SPEC.md §7.5:
 *           the name as stored, type, metadata)
 *   b/XXYY  leaf j of a split bucket, YY = j << (8 - depth): the records
 *           whose hash's second byte has j in its depth top bits; its
 *           index, and b/XXYY/i its infos, as above, with u8 depth | u8 j
 *           after XX in the digest and the AD
 *
 * A bucket's digest in the root is the first 16 bytes of the HMAC of its
 * index, or its directory, under the manifest key (after a label and u8
 * XX), a leaf's digest in a directory that of its index: a get reads the
 * root, the directory, the leaf's index (48 bytes a record, no name) and
 * the record, with no box to open; the infos, which hold the names, are read by a listing and
 * by the writes, which rewrite them. The index says nothing the storage
 * keys and the records' last bytes do not already say.
 *
 * XX is the first byte of the name hash (of the record's storage key
 * s/HEX) in hex: a bucket holds about 1/256 of the records, and a leaf at
 * most LEAF_MAX once its bucket split (the write that would pass it
 * rewrites the bucket at a greater depth, bucket_split), so a get reads
 * and a write rewrites one small leaf, its directory and the root,
 * whatever the store's size. An empty
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
static const char label_dir[] = "sesame secretstore v2 directory"; /* and its NUL */

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

/* The root this instance last authenticated, or wrote, and the mark of
 * the manifest key it authenticates under (key_mark: zero, none). Every
 * call reads the root, and its MAC (4 KiB through the host's HMAC) was a
 * tenth of a get; the same bytes under the same key authenticate as they
 * did, and one mark names one key: a handle the host never gives twice
 * (SPEC.md §5.8), or the fingerprint of a store without a password, whose
 * handles are new at every call (keys.c). A root another process wrote
 * since, or an older one put back, has other bytes and is checked in
 * full. */
static uint8_t authentic[ROOT_LEN];
static key_mark authentic_under;

/* The root that root_read hands out, which no one changes: the epoch and
 * digests of authentic while read_current. A get reads the same root call
 * after call, and copying its 4 KiB out of the bytes read was the guest's
 * largest copy. */
static root read_root;
static int read_current;

/* equal compares n bytes, a word at a time: the root is public (it is in
 * the file in clear), so no constant time is needed. */
static int equal(const uint8_t *a, const uint8_t *b, uint32_t n) {
    uint32_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t x, y;
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        if (x != y)
            return 0;
    }
    for (; i < n; i++)
        if (a[i] != b[i])
            return 0;
    return 1;
}

/* marked_by reports whether mark, under which this instance checked what
 * it keeps, names the manifest key of k: a zero mark names no key. */
static int marked_by(const key_mark *mark, const store_keys *k) {
    if (mark->handle == 0 && digest_zero(mark->fingerprint))
        return 0;
    return mark->handle == k->mark.handle && same(mark->fingerprint, k->mark.fingerprint, DIGEST_SIZE);
}

/* root_authentic reports whether the root b (ROOT_LEN bytes) authenticates
 * under the manifest key of k, remembering it when it does. */
static uint32_t root_authentic(const store_keys *k, const uint8_t *b) {
    if (marked_by(&authentic_under, k) && equal(b, authentic, ROOT_LEN))
        return SESAME_OK;
    uint8_t mac[SESAME_KEY_HMAC];
    uint32_t st = root_mac(k, b, mac);
    if (st != SESAME_OK)
        return st;
    if (!same(mac, b + ROOT_BODY, sizeof mac))
        return tampered_store("its manifest (m/root) does not authenticate under the store's key");
    memcpy(authentic, b, ROOT_LEN);
    authentic_under = k->mark;
    read_current = 0;
    return SESAME_OK;
}

/* root_check reads m/root into raw and checks its MAC under the manifest
 * key. */
static uint32_t root_check(const store_keys *k) {
    uint32_t st = kv_read(&raw, KEY_ROOT);
    if (st == SESAME_NOT_FOUND)
        return tampered_store("its manifest (m/root) is missing");
    if (st != SESAME_OK)
        return st;
    if (raw.len != ROOT_LEN || raw.data[0] != STORE_VERSION)
        return tampered_store("its manifest (m/root) is malformed");
    return root_authentic(k, raw.data);
}

/* root_copy copies the epoch and digests of the root in raw into r. */
static void root_copy(root *r) {
    r->epoch = (uint64_t)sesame_get_i64(raw.data + 1);
    memcpy(r->digest, raw.data + 9, sizeof r->digest);
}

/* root_load reads m/root into r, which the caller may change and store,
 * and checks its MAC under the manifest key. */
uint32_t root_load(const store_keys *k, root *r) {
    uint32_t st = root_check(k);
    if (st == SESAME_OK)
        root_copy(r);
    return st;
}

/* root_read is root_load for a read: *r is a root of manifest.c's own,
 * copied again only when the root changed since the last read. */
uint32_t root_read(const store_keys *k, const root **r) {
    uint32_t st = root_check(k);
    if (st != SESAME_OK)
        return st;
    if (!read_current)
        root_copy(&read_root);
    read_current = 1;
    *r = &read_root;
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
    if (st != SESAME_OK)
        return st;
    memcpy(authentic, b, ROOT_LEN); /* its MAC was just made under k */
    authentic_under = k->mark;
    read_current = 0;
    return sesame_kv_set(KEY_ROOT, sizeof KEY_ROOT - 1, b, sizeof b);
}

/* leaf_tail writes what names leaf j of bucket idx at depth: u8 idx, and
 * below a directory u8 depth and u8 j; its length. The digest of a leaf's
 * index and the AD of its infos end with it, so that a leaf is valid in
 * its place only (for a bucket of one leaf, exactly format v2's first
 * layout). */
static uint32_t leaf_tail(uint8_t *dst, uint32_t idx, uint32_t depth, uint32_t j) {
    dst[0] = (uint8_t)idx;
    if (depth == 0)
        return 1;
    dst[1] = (uint8_t)depth;
    dst[2] = (uint8_t)j;
    return 3;
}

/* leaf_key writes the storage key of leaf j of bucket idx at depth: b/XX
 * for a bucket of one leaf, else b/XXYY, YY the first hash byte after XX
 * that the leaf holds; with infos, its infos' key, and /i. One prefix, so
 * that a scan of b/ finds them all. */
static void leaf_key(uint32_t idx, uint32_t depth, uint32_t j, int infos, char *dst) {
    static const char hex[] = "0123456789abcdef";
    memcpy(dst, PREFIX_BUCKET, 2);
    dst[2] = hex[idx >> 4];
    dst[3] = hex[idx & 15];
    uint32_t n = 4;
    if (depth > 0) {
        uint32_t y = j << (MAX_DEPTH - depth);
        dst[n++] = hex[y >> 4];
        dst[n++] = hex[y & 15];
    }
    memcpy(dst + n, infos ? "/i" : "", infos ? 3 : 1);
}

/* leaf_of returns the leaf of a bucket at depth that holds hash. */
uint32_t leaf_of(const uint8_t *hash, uint32_t depth) { return depth == 0 ? 0 : hash[1] >> (MAX_DEPTH - depth); }

/* digest_of writes to dst the first DIGEST_SIZE bytes of the HMAC under
 * the manifest key of label (and its NUL), tail and [p, p+n). */
static uint32_t digest_of(const store_keys *k, const char *label, uint32_t label_len, const uint8_t *tail,
                          uint32_t tail_len, const uint8_t *p, uint32_t n, uint8_t *dst) {
    uint8_t mac[SESAME_KEY_HMAC];
    mac_in.len = 0;
    if (!sesame_buf_append(&mac_in, label, label_len) || !sesame_buf_append(&mac_in, tail, tail_len) ||
        !sesame_buf_append(&mac_in, p, n))
        return sesame_fail(SESAME_TOO_LARGE, "the manifest does not fit in the vault's memory");
    uint32_t st = locked(sesame_key_hmac(k->manifest, mac_in.data, mac_in.len, mac));
    memcpy(dst, mac, DIGEST_SIZE);
    return st;
}

/* index_digest writes to dst the digest of the index [p, p+n) of leaf j
 * of bucket idx at depth. */
static uint32_t index_digest(const store_keys *k, uint32_t idx, uint32_t depth, uint32_t j, const uint8_t *p,
                             uint32_t n, uint8_t *dst) {
    uint8_t tail[3];
    return digest_of(k, label_index, sizeof label_index, tail, leaf_tail(tail, idx, depth, j), p, n, dst);
}

/* in_leaf reports whether hash belongs in leaf j of bucket idx at depth. */
static int in_leaf(const uint8_t *hash, uint32_t idx, uint32_t depth, uint32_t j) {
    return hash[0] == idx && leaf_of(hash, depth) == j;
}

/* index_parse checks the layout of the index of leaf b: version, count,
 * entries of that leaf in strictly ascending hash order, the infos' tag. */
static int index_parse(const uint8_t *p, uint32_t n, const bucket *b, uint32_t *count) {
    if (n < INDEX_HEAD + TAG_SIZE || p[0] != STORE_VERSION)
        return 0;
    uint32_t c = sesame_get_u32(p + 1);
    if (c == 0 || c > (n - INDEX_HEAD - TAG_SIZE) / INDEX_ENTRY || n != INDEX_HEAD + c * INDEX_ENTRY + TAG_SIZE)
        return 0;
    for (uint32_t i = 0; i < c; i++) {
        const uint8_t *e = p + INDEX_HEAD + i * INDEX_ENTRY;
        if (!in_leaf(e, b->idx, b->depth, b->j) || (i > 0 && memcmp(e - INDEX_ENTRY, e, HASH_SIZE) >= 0))
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

static sesame_buf ix;   /* the index that index_load read           */
static uint32_t ix_one; /* 1 + XX when ix holds b/XX as dir_load read it */
static int ix_known;    /* and b/XX came from known: checked already     */

/* What this instance has checked of each bucket's b/XX (a directory, or
 * the index of its one leaf): its bytes, the digest the root named for
 * them, and the mark of the manifest key that digest is under (zero:
 * none). A root that names that digest under that key names those very
 * bytes, so a read needs neither b/XX nor its HMAC again: a get reads the
 * root, the index of its leaf (none more in a store of a few thousand
 * records, where b/XX is that index) and the record. The bytes are public (the file holds them in
 * clear); a b/XX another process wrote since has another digest in the
 * root, and is read and checked in full. What is left unread is not
 * checked again: a b/XX damaged in the file behind a root that still
 * names the one checked here is found by an instance that reads it anew
 * (another process, or this one's next instance), and meanwhile this
 * instance's gets, listings and writes use what the root names. Up to
 * KNOWN_MAX bytes a bucket: a full leaf's index, a directory of depth 6
 * or less (400 KiB at most). */
#define KNOWN_MAX (INDEX_HEAD + LEAF_MAX * INDEX_ENTRY + TAG_SIZE)
static struct {
    key_mark under;
    uint8_t digest[DIGEST_SIZE];
    sesame_buf bytes;
} known[BUCKETS];

/* known_get puts in ix the b/XX of bucket idx that known holds, if the
 * root r names it under the manifest key of k; 1 when it did. */
static int known_get(const store_keys *k, const root *r, uint32_t idx) {
    if (!marked_by(&known[idx].under, k) || !equal(known[idx].digest, r->digest[idx], DIGEST_SIZE))
        return 0;
    ix.len = 0;
    if (!sesame_buf_append(&ix, known[idx].bytes.data, known[idx].bytes.len))
        return 0;
    return 1;
}

/* known_put keeps ix, bucket idx's b/XX just checked against its digest
 * in r, in known; bigger than KNOWN_MAX, or out of memory, it forgets the
 * bucket's. */
static void known_put(const store_keys *k, const root *r, uint32_t idx) {
    memset(&known[idx].under, 0, sizeof known[idx].under);
    known[idx].bytes.len = 0;
    if (ix.len > KNOWN_MAX || !sesame_buf_append(&known[idx].bytes, ix.data, ix.len))
        return;
    memcpy(known[idx].digest, r->digest[idx], DIGEST_SIZE);
    known[idx].under = k->mark;
}

/* dir_load reads bucket idx's directory into d, checked against its
 * digest in r: b/XX of version 3, u8 depth (1..8) and 2^depth leaf
 * digests. A b/XX of version 2 is the bucket's one leaf (depth 0), checked
 * by index_load, which finds it in ix. */
uint32_t dir_load(const store_keys *k, const root *r, uint32_t idx, dir *d) {
    d->idx = idx;
    d->depth = 0;
    ix.len = 0;
    ix_one = 0;
    if (digest_zero(r->digest[idx]))
        return SESAME_OK;
    char key[10];
    leaf_key(idx, 0, 0, 0, key);
    int checked = known_get(k, r, idx);
    uint32_t st = checked ? SESAME_OK : kv_read(&ix, key);
    if (st == SESAME_NOT_FOUND)
        return bucket_problem(key, " of its manifest is missing");
    if (st != SESAME_OK)
        return st;
    if (ix.len == 0 || ix.data[0] != DIR_VERSION) {
        ix_one = 1 + idx;
        ix_known = checked;
        return SESAME_OK;
    }
    uint8_t dg[DIGEST_SIZE], tail = (uint8_t)idx;
    if (!checked && (st = digest_of(k, label_dir, sizeof label_dir, &tail, 1, ix.data, ix.len, dg)) != SESAME_OK)
        return st;
    if (!checked && !same(dg, r->digest[idx], DIGEST_SIZE))
        return bucket_problem(key, " of its manifest is not the one its root names (restored from an earlier copy?)");
    uint32_t depth = ix.len > 1 ? ix.data[1] : 0;
    if (depth == 0 || depth > MAX_DEPTH || ix.len != DIR_HEAD + ((uint32_t)DIGEST_SIZE << depth))
        return tampered_store("a bucket of its manifest is malformed");
    if (!checked)
        known_put(k, r, idx);
    d->depth = depth;
    memcpy(d->digest, ix.data + DIR_HEAD, (size_t)DIGEST_SIZE << depth);
    ix.len = 0;
    return SESAME_OK;
}

/* leaf_digest returns the digest the manifest names for leaf j of d. */
static const uint8_t *leaf_digest(const root *r, const dir *d, uint32_t j) {
    return d->depth == 0 ? r->digest[d->idx] : d->digest[j];
}

/* index_load reads the index of leaf b (of d, just read by dir_load) into
 * ix and checks it against its digest: *n entries (0 for an empty leaf). */
static uint32_t index_load(const store_keys *k, const root *r, const dir *d, const bucket *b, uint32_t *n) {
    *n = 0;
    const uint8_t *want = leaf_digest(r, d, b->j);
    char key[10];
    leaf_key(b->idx, b->depth, b->j, 0, key);
    if (digest_zero(want)) {
        ix.len = 0;
        return SESAME_OK;
    }
    uint32_t st = SESAME_OK;
    int one = d->depth == 0 && ix_one == 1 + d->idx, checked = one && ix_known;
    if (!one)
        st = kv_read(&ix, key);
    ix_one = 0;
    if (st == SESAME_NOT_FOUND)
        return bucket_problem(key, " of its manifest is missing");
    if (st != SESAME_OK)
        return st;
    uint8_t dg[DIGEST_SIZE];
    if (!checked && (st = index_digest(k, b->idx, b->depth, b->j, ix.data, ix.len, dg)) != SESAME_OK)
        return st;
    if (!checked && !same(dg, want, DIGEST_SIZE))
        return bucket_problem(key, d->depth == 0 ? " of its manifest is not the one its root names (restored from an earlier copy?)"
                                                 : " of its manifest is not the one its directory names (restored from an earlier copy?)");
    if (!index_parse(ix.data, ix.len, b, n))
        return tampered_store("a bucket of its manifest is malformed");
    if (one && !checked)
        known_put(k, r, d->idx);
    return SESAME_OK;
}

/* bucket_empty makes b the empty leaf j of d. */
static uint32_t bucket_empty(bucket *b, const dir *d, uint32_t j) {
    b->idx = d->idx;
    b->depth = d->depth;
    b->j = j;
    b->n = 0;
    b->plain.len = 0;
    if (!sesame_buf_reserve(&b->plain, 4))
        return sesame_fail(SESAME_TOO_LARGE, "out of memory");
    sesame_put_u32(b->plain.data, 0);
    b->plain.len = 4;
    return SESAME_OK;
}

/* index_find returns the entry (hash, tag) of hash in r, or NULL when its
 * leaf does not list it: its bucket's directory, then a binary search of
 * its leaf's index. */
uint32_t index_find(const store_keys *k, const root *r, const uint8_t *hash, const uint8_t **entry) {
    static dir d;
    static bucket b;
    uint32_t n = 0, st = dir_load(k, r, hash[0], &d);
    *entry = NULL;
    if (st == SESAME_OK) {
        b.idx = d.idx, b.depth = d.depth, b.j = leaf_of(hash, d.depth);
        st = index_load(k, r, &d, &b, &n);
    }
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

/* bucket_parse checks the plain text of a leaf's infos: its entries in
 * strictly ascending hash order, all of leaf b, each info well formed,
 * each (hash, tag) the one the index ix (of *count entries) names. */
static int bucket_parse(const uint8_t *p, uint32_t n, const bucket *b, uint32_t *count) {
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
        if (!in_leaf(e, b->idx, b->depth, b->j) || memcmp(e, ix.data + INDEX_HEAD + i * INDEX_ENTRY, INDEX_ENTRY) != 0 ||
            len > n - off - ENTRY_HEAD || !check_info(e + ENTRY_HEAD, len))
            return 0;
        off += ENTRY_HEAD + len;
    }
    return off == n;
}

/* leaf_ad writes the AD of the infos of leaf b; its length. */
static uint32_t leaf_ad(uint8_t *ad, const bucket *b) {
    memcpy(ad, label_bucket, sizeof label_bucket);
    return sizeof label_bucket + leaf_tail(ad + sizeof label_bucket, b->idx, b->depth, b->j);
}

/* bucket_load opens leaf j of d (just read by dir_load) into b->plain
 * (empty when its digest is zero): its index, checked against its digest,
 * then its infos, checked against the index. */
uint32_t bucket_load(const store_keys *k, const root *r, const dir *d, uint32_t j, bucket *b) {
    uint32_t st = bucket_empty(b, d, j);
    if (st == SESAME_OK)
        st = index_load(k, r, d, b, &b->n);
    if (st != SESAME_OK || b->n == 0)
        return st;
    char key[10];
    leaf_key(b->idx, b->depth, b->j, 1, key);
    st = kv_read(&raw, key);
    if (st == SESAME_NOT_FOUND)
        return bucket_problem(key, " of its manifest is missing");
    if (st != SESAME_OK)
        return st;
    if (raw.len < 1 + BOX_OVERHEAD + 4 || raw.data[0] != STORE_VERSION ||
        !same(raw.data + raw.len - TAG_SIZE, ix.data + ix.len - TAG_SIZE, TAG_SIZE))
        return bucket_problem(key, " of its manifest is not the one its index names (restored from an earlier copy?)");
    uint8_t ad[sizeof label_bucket + 3];
    uint32_t size = raw.len - 1 - BOX_OVERHEAD;
    if (!sesame_buf_reserve(&b->plain, size))
        return sesame_fail(SESAME_TOO_LARGE, "the manifest does not fit in the vault's memory");
    int64_t got = sesame_key_open(k->record, raw.data + 1, raw.len - 1, ad, leaf_ad(ad, b), b->plain.data, b->plain.cap);
    if (got == -SESAME_PERMISSION_DENIED || (got >= 0 && !bucket_parse(b->plain.data, (uint32_t)got, b, &b->n))) {
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

/* leaf_drop deletes the index and the infos of leaf j of bucket idx at
 * depth, absent or not. */
static uint32_t leaf_drop(uint32_t idx, uint32_t depth, uint32_t j) {
    char key[10];
    leaf_key(idx, depth, j, 1, key);
    uint32_t st = delete_key(key);
    leaf_key(idx, depth, j, 0, key);
    return st == SESAME_OK ? delete_key(key) : st;
}

/* leaf_store seals b->plain as the infos of leaf b, writes them and its
 * index, and sets the index's digest in its place (d's, or r's for a
 * bucket of one leaf); an empty leaf has neither, and digest zero. A leaf
 * below a directory needs dir_store afterwards. */
static uint32_t leaf_store(const store_keys *k, root *r, dir *d, bucket *b) {
    uint8_t *digest = d->depth == 0 ? r->digest[d->idx] : d->digest[b->j];
    if (b->n == 0) {
        memset(digest, 0, DIGEST_SIZE);
        return d->depth == 0 ? leaf_drop(b->idx, 0, 0) : leaf_drop(b->idx, b->depth, b->j);
    }
    char key[10], infos[10];
    leaf_key(b->idx, b->depth, b->j, 0, key);
    leaf_key(b->idx, b->depth, b->j, 1, infos);
    uint8_t ad[sizeof label_bucket + 3];
    raw.len = 0;
    ix.len = 0;
    ix_one = 0;
    if (!sesame_buf_reserve(&raw, 1 + b->plain.len + BOX_OVERHEAD) ||
        !sesame_buf_reserve(&ix, INDEX_HEAD + b->n * INDEX_ENTRY + TAG_SIZE))
        return sesame_fail(SESAME_TOO_LARGE, "the manifest does not fit in the vault's memory");
    raw.data[0] = STORE_VERSION;
    int64_t got = sesame_key_seal(k->record, b->plain.data, b->plain.len, ad, leaf_ad(ad, b), raw.data + 1, raw.cap - 1);
    if (got < 0)
        return locked(sesame_status(got));
    raw.len = 1 + (uint32_t)got;
    ix.data[0] = STORE_VERSION;
    sesame_put_u32(ix.data + 1, b->n);
    ix.len = INDEX_HEAD;
    for (uint32_t i = 0, off = 4; i < b->n; i++, off += entry_len(b->plain.data + off))
        sesame_buf_append(&ix, b->plain.data + off, INDEX_ENTRY); /* room reserved above */
    sesame_buf_append(&ix, raw.data + raw.len - TAG_SIZE, TAG_SIZE);
    uint32_t st = index_digest(k, b->idx, b->depth, b->j, ix.data, ix.len, digest);
    if (st == SESAME_OK)
        st = sesame_kv_set(infos, (uint32_t)strlen(infos), raw.data, raw.len);
    return st == SESAME_OK ? sesame_kv_set(key, (uint32_t)strlen(key), ix.data, ix.len) : st;
}

/* dir_store writes the directory d, b/XX, and its digest in r; a
 * directory whose leaves are all empty is deleted, its bucket empty. A
 * bucket of one leaf has no directory. */
static uint32_t dir_store(const store_keys *k, root *r, const dir *d) {
    if (d->depth == 0)
        return SESAME_OK;
    uint32_t size = (uint32_t)DIGEST_SIZE << d->depth, any = 0;
    for (uint32_t j = 0; j < (1u << d->depth); j++)
        any |= !digest_zero(d->digest[j]);
    char key[10];
    leaf_key(d->idx, 0, 0, 0, key);
    if (!any) {
        memset(r->digest[d->idx], 0, DIGEST_SIZE);
        return delete_key(key);
    }
    raw.len = 0;
    if (!sesame_buf_reserve(&raw, DIR_HEAD + size))
        return sesame_fail(SESAME_TOO_LARGE, "the manifest does not fit in the vault's memory");
    raw.data[0] = DIR_VERSION;
    raw.data[1] = (uint8_t)d->depth;
    memcpy(raw.data + DIR_HEAD, d->digest, size);
    raw.len = DIR_HEAD + size;
    uint8_t tail = (uint8_t)d->idx;
    uint32_t st = digest_of(k, label_dir, sizeof label_dir, &tail, 1, raw.data, raw.len, r->digest[d->idx]);
    return st == SESAME_OK ? sesame_kv_set(key, 4, raw.data, raw.len) : st;
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

static bucket part; /* a leaf being cut out of a whole bucket */

/* max_leaf returns the largest count of entries that one leaf would hold
 * if the n entries of all (a bucket's, sorted) were cut at depth. */
static uint32_t max_leaf(const sesame_buf *all, uint32_t n, uint32_t depth) {
    uint32_t most = 0, run = 0, prev = 0;
    for (uint32_t i = 0, off = 4; i < n; i++, off += entry_len(all->data + off)) {
        uint32_t j = leaf_of(all->data + off, depth);
        run = i > 0 && j == prev ? run + 1 : 1;
        prev = j;
        most = run > most ? run : most;
    }
    return most;
}

/* group_store writes every entry of bucket d->idx, the n entries of all
 * (sorted by hash), as leaves of the least depth of at least min_depth at
 * which none holds more than LEAF_MAX (at most MAX_DEPTH), and its
 * directory; r gets the bucket's digest. The keys of the bucket's leaves
 * as they were are the caller's to delete first. */
static uint32_t group_store(const store_keys *k, root *r, dir *d, const sesame_buf *all, uint32_t n,
                            uint32_t min_depth) {
    uint32_t depth = min_depth, st = SESAME_OK;
    while (depth < MAX_DEPTH && max_leaf(all, n, depth) > LEAF_MAX)
        depth++;
    d->depth = depth;
    memset(d->digest, 0, sizeof d->digest);
    for (uint32_t i = 0, off = 4; st == SESAME_OK && i < n;) {
        const uint8_t *e = all->data + off;
        if ((st = bucket_empty(&part, d, leaf_of(e, depth))) != SESAME_OK)
            break;
        for (; st == SESAME_OK && i < n && leaf_of(all->data + off, depth) == part.j; i++) {
            e = all->data + off;
            uint32_t len = entry_len(e);
            st = entry_append(&part.plain, &part.n, e, e + HASH_SIZE, e + ENTRY_HEAD, len - ENTRY_HEAD);
            off += len;
        }
        if (st == SESAME_OK)
            st = leaf_store(k, r, d, &part);
    }
    buf_wipe(&part.plain);
    if (st == SESAME_OK && n == 0)
        memset(r->digest[d->idx], 0, DIGEST_SIZE);
    return st == SESAME_OK ? dir_store(k, r, d) : st;
}

static bucket other; /* a leaf that bucket_split reads */
static sesame_buf whole;

/* bucket_split rewrites the bucket of b, a leaf of d grown past LEAF_MAX,
 * at a greater depth: every leaf of it read (b as it is in memory), their
 * keys deleted, and its entries written again by group_store. */
static uint32_t bucket_split(const store_keys *k, root *r, dir *d, bucket *b) {
    uint32_t n = 0, st = SESAME_OK;
    whole.len = 0;
    if (!sesame_buf_reserve(&whole, 4))
        return sesame_fail(SESAME_TOO_LARGE, "out of memory");
    sesame_put_u32(whole.data, 0);
    whole.len = 4;
    for (uint32_t j = 0; st == SESAME_OK && j < (1u << d->depth); j++) {
        bucket *from = b;
        if (j != b->j && (st = bucket_load(k, r, d, j, from = &other)) != SESAME_OK)
            break;
        if (!sesame_buf_append(&whole, from->plain.data + 4, from->plain.len - 4))
            st = sesame_fail(SESAME_TOO_LARGE, "the manifest does not fit in the vault's memory");
        n += from->n;
        if (st == SESAME_OK)
            st = leaf_drop(d->idx, d->depth, j); /* b/XX of one leaf: the directory replaces it */
    }
    buf_wipe(&other.plain);
    if (st == SESAME_OK) {
        sesame_put_u32(whole.data, n);
        st = group_store(k, r, d, &whole, n, d->depth + 1);
    }
    buf_wipe(&whole);
    return st;
}

/* bucket_write writes the leaf b of d after a change, with its directory,
 * into r: its bucket split at a greater depth when b grew past LEAF_MAX.
 * The root is the caller's to store. */
uint32_t bucket_write(const store_keys *k, root *r, dir *d, bucket *b) {
    if (b->n > LEAF_MAX && d->depth < MAX_DEPTH)
        return bucket_split(k, r, d, b);
    uint32_t st = leaf_store(k, r, d, b);
    return st == SESAME_OK ? dir_store(k, r, d) : st;
}

/* What build_manifest keeps between records: the root, and the entries
 * of the bucket being built (idx; n entries). */
static root built;
static dir built_dir;
static struct {
    uint32_t idx, n;
    sesame_buf all;
} group;
static sesame_buf opened;

static uint32_t drop_bucket(void *arg, const uint8_t *key, uint32_t key_len, const uint8_t *v, uint32_t vn) {
    (void)arg, (void)v, (void)vn;
    return sesame_kv_delete(key, key_len);
}

/* group_start makes group the empty bucket idx. */
static uint32_t group_start(uint32_t idx) {
    group.idx = idx;
    group.n = 0;
    group.all.len = 0;
    if (!sesame_buf_reserve(&group.all, 4))
        return sesame_fail(SESAME_TOO_LARGE, "out of memory");
    sesame_put_u32(group.all.data, 0);
    group.all.len = 4;
    return SESAME_OK;
}

/* group_flush writes the bucket being built, if it has entries. */
static uint32_t group_flush(const store_keys *k) {
    built_dir.idx = group.idx;
    return group.n == 0 ? SESAME_OK : group_store(k, &built, &built_dir, &group.all, group.n, 0);
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
    if (st == SESAME_OK && hash[0] != group.idx) {
        st = group_flush(k);
        if (st == SESAME_OK)
            st = group_start(hash[0]);
    }
    if (st == SESAME_OK)
        st = entry_append(&group.all, &group.n, hash, rec + n - TAG_SIZE, opened.data, info_len);
    buf_wipe(&opened);
    return st;
}

/* build_manifest writes the manifest of every record that opens under k,
 * replacing any there was: a store of format v1 being upgraded, or one
 * whose records a rekey moved to new keys. Records come in key order,
 * so a bucket's entries come together, sorted. */
uint32_t build_manifest(const store_keys *k) {
    memset(&built, 0, sizeof built);
    uint32_t st = each_entry(PREFIX_BUCKET, 2, drop_bucket, NULL);
    if (st == SESAME_OK)
        st = group_start(0);
    if (st == SESAME_OK)
        st = each_entry(PREFIX_SECRET, 2, build_entry, (void *)k);
    if (st == SESAME_OK)
        st = group_flush(k);
    if (st == SESAME_OK)
        st = root_store(k, &built);
    buf_wipe(&group.all);
    return st;
}

/* A walk over the manifest and the records together (walk_store): the
 * bucket and the leaf being walked, its next entry, and what was found
 * wrong. */
#define MAX_REPORTED 8
static struct {
    const store_keys *k;
    root r;
    dir d;
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

/* finish reports the entries left in the leaf: their records are gone. */
static void finish(void) {
    for (; w.i < w.b.n; next_entry())
        problem(w.b.plain.data + w.off, NULL, 0, " was deleted");
}

/* open_leaf opens leaf j of w.d into w.b, at its first entry. */
static uint32_t open_leaf(uint32_t j) {
    w.off = 4;
    w.i = 0;
    return bucket_load(w.k, &w.r, &w.d, j, &w.b);
}

/* last_leaf reports whether w.b is the last leaf of its bucket. */
static int last_leaf(void) { return w.b.j + 1 == 1u << w.d.depth; }

/* advance finishes the leaf w.b and opens the next one: of its bucket, or
 * the first of the next bucket. */
static uint32_t advance(void) {
    finish();
    if (!last_leaf())
        return open_leaf(w.b.j + 1);
    uint32_t st = dir_load(w.k, &w.r, w.b.idx + 1, &w.d);
    return st == SESAME_OK ? open_leaf(0) : st;
}

/* reach finishes the leaves before the one of hash and opens it. */
static uint32_t reach(const uint8_t *hash) {
    uint32_t st = SESAME_OK;
    while (st == SESAME_OK && w.b.idx < hash[0])
        st = advance();
    while (st == SESAME_OK && w.b.j < leaf_of(hash, w.d.depth))
        st = advance();
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
    uint32_t st = reach(hash);
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
        st = dir_load(k, &w.r, 0, &w.d);
    if (st == SESAME_OK)
        st = open_leaf(0);
    if (st == SESAME_OK)
        st = each_entry(PREFIX_SECRET, 2, walk_record, NULL);
    while (st == SESAME_OK && !(w.b.idx == BUCKETS - 1 && last_leaf()))
        st = advance();
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

/* A writer applies changes of entries, in hash order, to the manifest:
 * each leaf read and written once, each directory and the root once
 * (batch.c, at the end of a batch). */
static struct {
    root r;
    dir d;
    bucket b;
    int open; /* b (and d) hold a leaf */
} wr;

/* writer_start reads the root that the changes apply to. */
uint32_t writer_start(const store_keys *k) {
    wr.open = 0;
    return root_load(k, &wr.r);
}

/* writer_flush writes the open leaf (its bucket split when it grew past
 * LEAF_MAX), and with dir its directory. */
static uint32_t writer_flush(const store_keys *k, int with_dir) {
    if (!wr.open)
        return SESAME_OK;
    uint32_t st;
    if (wr.b.n > LEAF_MAX && wr.d.depth < MAX_DEPTH)
        st = bucket_split(k, &wr.r, &wr.d, &wr.b);
    else if ((st = leaf_store(k, &wr.r, &wr.d, &wr.b)) == SESAME_OK && with_dir)
        st = dir_store(k, &wr.r, &wr.d);
    buf_wipe(&wr.b.plain);
    wr.open = 0;
    return st;
}

/* writer_put replaces the entry of hash with tag and info (info NULL: the
 * record is gone). Hashes come in ascending order. */
uint32_t writer_put(const store_keys *k, const uint8_t *hash, const uint8_t *tag, const uint8_t *info,
                    uint32_t info_len) {
    uint32_t st = SESAME_OK;
    int same_bucket = wr.open && hash[0] == wr.b.idx;
    if (wr.open && (!same_bucket || leaf_of(hash, wr.d.depth) != wr.b.j)) {
        st = writer_flush(k, !same_bucket);
        if (st == SESAME_OK && same_bucket) /* the next leaf of the bucket (at its depth after a split) */
            st = bucket_load(k, &wr.r, &wr.d, leaf_of(hash, wr.d.depth), &wr.b);
        wr.open = st == SESAME_OK && same_bucket;
    }
    if (st == SESAME_OK && !wr.open) {
        if ((st = dir_load(k, &wr.r, hash[0], &wr.d)) == SESAME_OK)
            st = bucket_load(k, &wr.r, &wr.d, leaf_of(hash, wr.d.depth), &wr.b);
        wr.open = st == SESAME_OK;
    }
    return st == SESAME_OK ? bucket_put(&wr.b, hash, tag, info, info_len) : st;
}

/* writer_finish writes the last leaf, its directory and the root. */
uint32_t writer_finish(const store_keys *k) {
    uint32_t st = writer_flush(k, 1);
    return st == SESAME_OK ? root_store(k, &wr.r) : st;
}
