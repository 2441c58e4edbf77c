/*
 * batch.c — the writes of a batch (SPEC.md §5.3, sesame_batch): between
 * its begin and its end, a set or a remove writes its record and a pending
 * entry, and the end applies every pending entry to the manifest at once,
 * so that each leaf, directory and the root is written once a batch (a
 * thousand secrets of `sesame import`) rather than once a secret.
 *
 *   m/batch  written at the begin, deleted at the end: the calls between
 *            are a batch's
 *   p/HEX    the pending entry of the record s/HEX: u8 kind (1 written,
 *            0 removed) | its tag (16) | u32 n | its info (n bytes) | MAC:
 *            the first 16 bytes of HMAC-SHA256(manifest key, label | HEX |
 *            every byte before)
 *
 * Neither reaches the disk: the batch commits after its end, which deletes
 * them, or not at all, and a host that never begins a batch never has
 * them written. The mark is written at the begin, not with the batch's
 * first change, because a later call, on any instance, learns only from
 * it that it is in a batch, and must then write a pending entry rather
 * than the manifest. A batch whose sets all found their secrets unchanged
 * sets the mark and deletes it, and writes nothing else: the host, finding
 * that its writes leave the store as it is, commits nothing (SPEC.md §5.3),
 * so such a batch leaves the file untouched. A read that finds a record other than its manifest entry
 * names (the batch wrote it) accepts it when its pending entry names it;
 * the MAC keeps one planted by someone who can write the file (and has no
 * key) from passing a restored record off as the batch's.
 */
#include "secretstore.h"

static const char label_pending[] = "sesame secretstore v2 pending"; /* and its NUL */
#define KEY_BATCH "m/batch"
#define PREFIX_PENDING "p/"
#define PENDING_HEAD (1 + TAG_SIZE + 4)

static sesame_buf pend, mac_buf;

/* batching reports whether the call is one of a batch that began. */
uint32_t batching(int *on) {
    uint32_t st = kv_read(&pend, KEY_BATCH);
    *on = st == SESAME_OK;
    return st == SESAME_NOT_FOUND ? SESAME_OK : st;
}

/* pending_key writes p/HEX, the key of the pending entry of record key. */
static void pending_key(const uint8_t *key, uint8_t *dst) {
    memcpy(dst, PREFIX_PENDING, 2);
    memcpy(dst + 2, key + 2, RECORD_KEY_LEN - 2);
}

/* pending_mac writes the MAC of the pending entry [p, p+n) of record key. */
static uint32_t pending_mac(const store_keys *k, const uint8_t *key, const uint8_t *p, uint32_t n, uint8_t *dst) {
    uint8_t mac[SESAME_KEY_HMAC];
    mac_buf.len = 0;
    if (!sesame_buf_append(&mac_buf, label_pending, sizeof label_pending) ||
        !sesame_buf_append(&mac_buf, key + 2, RECORD_KEY_LEN - 2) || !sesame_buf_append(&mac_buf, p, n))
        return sesame_fail(SESAME_TOO_LARGE, "the manifest does not fit in the vault's memory");
    uint32_t st = locked(sesame_key_hmac(k->manifest, mac_buf.data, mac_buf.len, mac));
    memcpy(dst, mac, TAG_SIZE);
    return st;
}

/* pending_put writes the pending entry of record key: its tag and info,
 * or (info NULL) its removal. */
uint32_t pending_put(const store_keys *k, const uint8_t *key, const uint8_t *tag, const uint8_t *info,
                     uint32_t info_len) {
    uint8_t pk[RECORD_KEY_LEN];
    pending_key(key, pk);
    pend.len = 0;
    if (!sesame_buf_reserve(&pend, PENDING_HEAD + info_len + TAG_SIZE))
        return sesame_fail(SESAME_TOO_LARGE, "the manifest does not fit in the vault's memory");
    pend.data[0] = info != NULL;
    memset(pend.data + 1, 0, TAG_SIZE);
    if (info != NULL) {
        memcpy(pend.data + 1, tag, TAG_SIZE);
        memcpy(pend.data + PENDING_HEAD, info, info_len);
    }
    sesame_put_u32(pend.data + 1 + TAG_SIZE, info != NULL ? info_len : 0);
    pend.len = PENDING_HEAD + (info != NULL ? info_len : 0);
    uint32_t st = pending_mac(k, key, pend.data, pend.len, pend.data + pend.len);
    if (st == SESAME_OK)
        st = sesame_kv_set(pk, sizeof pk, pend.data, pend.len + TAG_SIZE);
    buf_wipe(&pend);
    return st;
}

/* pending_check checks the pending entry p (n bytes) of record key: its
 * layout and MAC. 0 with a message set when it is wrong. */
static uint32_t pending_check(const store_keys *k, const uint8_t *key, const uint8_t *p, uint32_t n) {
    uint8_t mac[TAG_SIZE];
    if (n < PENDING_HEAD + TAG_SIZE || p[0] > 1 || sesame_get_u32(p + 1 + TAG_SIZE) != n - PENDING_HEAD - TAG_SIZE)
        return tampered_store("a pending entry of a batch is malformed (planted?)");
    uint32_t st = pending_mac(k, key, p, n - TAG_SIZE, mac);
    if (st != SESAME_OK)
        return st;
    uint8_t d = 0;
    for (uint32_t i = 0; i < TAG_SIZE; i++)
        d |= mac[i] ^ p[n - TAG_SIZE + i];
    return d == 0 ? SESAME_OK : tampered_store("a pending entry of a batch does not authenticate (planted?)");
}

/* pending_of reads the pending entry of record key: *kind -1 when there is
 * none, else 1 (written, with *tag) or 0 (removed). */
uint32_t pending_of(const store_keys *k, const uint8_t *key, int *kind, uint8_t *tag) {
    uint8_t pk[RECORD_KEY_LEN];
    pending_key(key, pk);
    *kind = -1;
    uint32_t st = sesame_kv_read(&pend, pk, sizeof pk);
    if (st == SESAME_NOT_FOUND)
        return SESAME_OK;
    if (st == SESAME_OK && (st = pending_check(k, key, pend.data, pend.len)) == SESAME_OK) {
        *kind = pend.data[0];
        memcpy(tag, pend.data + 1, TAG_SIZE);
    }
    buf_wipe(&pend);
    return st;
}

/* The batch's end: its keys, and how many pending entries it applied. */
typedef struct {
    const store_keys *k;
    uint32_t applied;
} ending;

/* apply_one applies a pending entry to the manifest, and deletes it. */
static uint32_t apply_one(void *arg, const uint8_t *pk, uint32_t pk_len, const uint8_t *p, uint32_t n) {
    ending *e = arg;
    const store_keys *k = e->k;
    e->applied++;
    uint8_t key[RECORD_KEY_LEN], hash[HASH_SIZE];
    if (pk_len != RECORD_KEY_LEN)
        return tampered_store("a pending entry of a batch is malformed (planted?)");
    memcpy(key, PREFIX_SECRET, 2);
    memcpy(key + 2, pk + 2, RECORD_KEY_LEN - 2);
    if (!key_hash(key, sizeof key, hash))
        return tampered_store("a pending entry of a batch is malformed (planted?)");
    uint32_t st = pending_check(k, key, p, n);
    if (st == SESAME_OK)
        st = writer_put(k, hash, p + 1, p[0] ? p + PENDING_HEAD : NULL, sesame_get_u32(p + 1 + TAG_SIZE));
    return st == SESAME_OK ? sesame_kv_delete(pk, pk_len) : st;
}

/* batch_end applies the batch's pending entries to the manifest, in hash
 * order (the order of their keys), and ends the batch. A batch whose sets
 * all found their secrets unchanged has none, and leaves the manifest as
 * it is. */
static uint32_t batch_end(void) {
    store_keys k;
    ending e = {.k = &k};
    uint32_t st = get_keys(0, &k);
    if (st == STATUS_EMPTY) /* no store: nothing was written */
        st = SESAME_OK;
    else if (st == SESAME_OK && (st = writer_start(&k)) == SESAME_OK &&
             (st = each_entry(PREFIX_PENDING, 2, apply_one, &e)) == SESAME_OK && e.applied > 0)
        st = writer_finish(&k);
    if (st == SESAME_OK)
        st = sesame_kv_delete(KEY_BATCH, sizeof KEY_BATCH - 1);
    return st == SESAME_NOT_FOUND ? SESAME_OK : st;
}

/* sesame_batch: argument 0 is one byte, SESAME_BATCH_BEGIN or
 * SESAME_BATCH_END. */
SESAME_EXPORT("sesame_batch") uint32_t vault_batch(uint32_t len) {
    uint8_t phase;
    if (len != 1 || sesame_input(0, &phase, 1) != 1 || phase > SESAME_BATCH_END)
        return sesame_fail(SESAME_INVALID_ARGUMENT, "sesame_batch wants one byte: 0 (begin) or 1 (end)");
    if (phase == SESAME_BATCH_BEGIN)
        return sesame_kv_set(KEY_BATCH, sizeof KEY_BATCH - 1, (const uint8_t *)"1", 1);
    return batch_end();
}
