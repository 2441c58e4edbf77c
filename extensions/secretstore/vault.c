/*
 * vault.c — builtin:secretstore, sesame's default local vault: an
 * encrypted store of secrets in the host's storage area, one
 * authenticated-encrypted record per secret, with metadata and
 * case-insensitive names, unlocked with a password (or, with
 * authentication = "none", protected by file permissions only).
 *
 * README.md gives the cryptography, the record layout and the threat
 * model; format.c the on-disk format, keys.c the keys. An instance keeps
 * nothing between calls but its parameters and scratch buffers, wiped after
 * each use.
 */
#include "secretstore.h"

#include <unistd.h>

SESAME_ABI_V1_MARKER

static const char manifest[] =
    "{\"abi\":1,\"name\":\"secretstore\",\"version\":\"1.0.0\","
    "\"description\":\"encrypted local store (Argon2id password, XChaCha20-Poly1305 records)\","
    "\"metadata\":true,\"case_sensitive\":false,\"datetime_offset\":true,\"atomic_calls\":true,\"set_reports\":true,"
    "\"operations\":[\"get\",\"stat\",\"set\",\"remove\",\"list\",\"set_metadata\",\"unlock\",\"lock\","
    "\"set_password\",\"test\"],"
    "\"grants\":[\"storage\"]}";

static sesame_buf arg;   /* the name, the pattern or the password      */
static sesame_buf arg2;  /* the value, the metadata or the new password */
static sesame_buf meta;  /* the metadata of a set                      */
static sesame_buf rec;   /* a record as stored                          */
static sesame_buf plain; /* a record opened                             */
static sesame_buf next;  /* a record's new plain text                   */
static sesame_buf out;   /* the output                                  */
static sesame_buf fpat, fname;

static uint32_t done(uint32_t st) {
    buf_wipe(&arg);
    buf_wipe(&arg2);
    buf_wipe(&meta);
    buf_wipe(&rec);
    buf_wipe(&plain);
    buf_wipe(&next);
    buf_wipe(&out);
    return st;
}

SESAME_EXPORT("sesame_manifest") uint32_t vault_manifest(void) {
    return sesame_output(manifest, sizeof manifest - 1);
}

/* The parameters in vaults.toml:
 *
 *   authentication    "password" (default) or "none", in any case
 *   password_timeout  seconds an unlock lasts, counted from the unlock
 *                     (reads do not extend it): 1 to 2147483, default 900;
 *                     -1 never expires (until lock, or the process ends).
 *                     0 is refused: a password used for a single call
 *                     cannot serve the calls after the unlock.
 *
 * Any other parameter is refused, so that a typo does not silently weaken
 * the vault. */
#define PARAM_AUTH "authentication"
#define PARAM_TIMEOUT "password_timeout"
#define MAX_TIMEOUT 2147483 /* SecretStore's bound: Int32.MaxValue/1000 */

static int is_space(uint8_t c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

static int same_word(const uint8_t *s, uint32_t n, const char *lower) {
    uint32_t i = 0;
    for (; i < n && lower[i] != 0; i++)
        if ((s[i] >= 'A' && s[i] <= 'Z' ? s[i] + ('a' - 'A') : s[i]) != lower[i])
            return 0;
    return i == n && lower[i] == 0;
}

static uint32_t param_fail(const char *name, const uint8_t *v, uint32_t n, int quote, const char *want) {
    msg_reset();
    msg_str("parameter ");
    msg_str(name);
    msg_str(" is ");
    if (quote)
        msg_quote(v, n);
    else
        msg_bytes(v, n);
    msg_str(want);
    return msg_fail(SESAME_INVALID_ARGUMENT);
}

/* parse_timeout reads a whole number as Go's strconv.Atoi does (a sign,
 * then decimal digits) into *secs; 0 when it is not one or overflows. */
static int parse_timeout(const uint8_t *s, uint32_t n, int64_t *secs) {
    uint32_t i = n > 0 && (s[0] == '+' || s[0] == '-');
    if (i == n)
        return 0;
    uint64_t v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9' || v > (UINT64_C(1) << 62) / 10)
            return 0;
        v = v * 10 + (s[i] - '0');
    }
    *secs = s[0] == '-' ? -(int64_t)v : (int64_t)v;
    return 1;
}

static uint32_t set_param(const uint8_t *k, uint32_t kn, const uint8_t *v, uint32_t vn) {
    while (vn > 0 && is_space(v[0]))
        v++, vn--;
    while (vn > 0 && is_space(v[vn - 1]))
        vn--;
    if (kn == sizeof PARAM_AUTH - 1 && memcmp(k, PARAM_AUTH, kn) == 0) {
        if (same_word(v, vn, "password"))
            auth_password = 1;
        else if (same_word(v, vn, "none"))
            auth_password = 0;
        else
            return param_fail(PARAM_AUTH, v, vn, 1, ": want \"password\" or \"none\"");
        return SESAME_OK;
    }
    if (kn == sizeof PARAM_TIMEOUT - 1 && memcmp(k, PARAM_TIMEOUT, kn) == 0) {
        int64_t secs;
        if (!parse_timeout(v, vn, &secs))
            return param_fail(PARAM_TIMEOUT, v, vn, 1, ": want a whole number of seconds, or -1 for never");
        if (secs == 0)
            return param_fail(PARAM_TIMEOUT, v, vn, 0,
                              ": an unlock must last at least 1 second (use -1 for never)");
        if (secs < -1 || secs > MAX_TIMEOUT)
            return param_fail(PARAM_TIMEOUT, v, vn, 0, ": want 1 to 2147483 seconds, or -1 for never");
        ttl_ms = secs == -1 ? 0 : (uint32_t)secs * 1000;
        return SESAME_OK;
    }
    msg_reset();
    msg_str("unknown parameter ");
    msg_quote(k, kn);
    msg_str(" (secretstore knows " PARAM_AUTH " and " PARAM_TIMEOUT ")");
    return msg_fail(SESAME_INVALID_ARGUMENT);
}

/* init reads the parameters, a sorted list of (str key, str value). */
SESAME_EXPORT("sesame_init") uint32_t vault_init(uint32_t vault_len, uint32_t params_len) {
    (void)vault_len;
    auth_password = 1;
    ttl_ms = 900 * 1000;
    uint32_t st = sesame_read_input(&arg, 1, params_len);
    if (st != SESAME_OK)
        return st;
    const uint8_t *p = arg.data;
    uint32_t left = arg.len, count = left >= 4 ? sesame_get_u32(p) : 0;
    for (p += 4, left -= left >= 4 ? 4 : left; count > 0; count--) {
        uint32_t kn, vn;
        if (left < 4 || (kn = sesame_get_u32(p)) > left - 4 || left - 4 - kn < 4 ||
            (vn = sesame_get_u32(p + 4 + kn)) > left - 8 - kn)
            return sesame_fail(SESAME_INVALID_ARGUMENT, "malformed parameters");
        if ((st = set_param(p + 4, kn, p + 8 + kn, vn)) != SESAME_OK)
            return st;
        p += 8 + kn + vn;
        left -= 8 + kn + vn;
    }
    return SESAME_OK;
}

/* keys gives the store's subkeys; a store that does not exist yet has no
 * secret. */
static uint32_t keys(int create, store_keys *k) {
    uint32_t st = get_keys(create, k);
    return st == STATUS_EMPTY ? SESAME_NOT_FOUND : st;
}

static root man;   /* the manifest's root, as find read it        */
static dir man_dir; /* the bucket of the name that find looked up  */
static bucket bkt; /* and its leaf                                  */

/* tampered_record says what is wrong with the record of the name in arg. */
static uint32_t tampered_record(const char *what) {
    msg_reset();
    msg_str("the store was tampered with: record of ");
    msg_quote(arg.data, arg.len);
    msg_str(what);
    return msg_fail(SESAME_INTERNAL);
}

/* manifest_of reads the root and the entry (hash, record tag) of the
 * record stored under key: *entry NULL when its bucket does not list it.
 * A read (full 0) reads the leaf's index only; a write (full 1) opens
 * the whole leaf into bkt, which record_changed then rewrites. */
static uint32_t manifest_of(const store_keys *k, const uint8_t *key, int full, const uint8_t **entry) {
    uint8_t hash[HASH_SIZE];
    key_hash(key, RECORD_KEY_LEN, hash);
    *entry = NULL;
    if (!full) {
        const root *r;
        uint32_t st = root_read(k, &r);
        return st != SESAME_OK ? st : index_find(k, r, hash, entry);
    }
    uint32_t st = root_load(k, &man);
    if (st != SESAME_OK)
        return st;
    int listed;
    if ((st = dir_load(k, &man, hash[0], &man_dir)) == SESAME_OK)
        st = bucket_load(k, &man, &man_dir, leaf_of(hash, man_dir.depth), &bkt);
    if (st == SESAME_OK) {
        uint32_t at = bucket_find(&bkt, hash, &listed);
        *entry = listed ? bkt.plain.data + at : NULL;
    }
    return st;
}

/* check_record checks the record in rec (present 0: there is none)
 * against its entry in the manifest (NULL: none) or, when they differ, the
 * pending entry of a batch that wrote it (batch.c): SESAME_OK, NOT_FOUND
 * when neither names a record, or the tampering found. */
static uint32_t check_record(const store_keys *k, const uint8_t *key, int present, const uint8_t *entry) {
    const uint8_t *tag = present && rec.len >= TAG_SIZE ? rec.data + rec.len - TAG_SIZE : NULL;
    if (!present && entry == NULL)
        return SESAME_NOT_FOUND; /* the engine's own message says it best */
    if (tag != NULL && entry != NULL && memcmp(entry + HASH_SIZE, tag, TAG_SIZE) == 0)
        return SESAME_OK;
    int kind;
    uint8_t pending[TAG_SIZE];
    uint32_t st = pending_of(k, key, &kind, pending);
    if (st != SESAME_OK)
        return st;
    if (kind == 0 && !present)
        return SESAME_NOT_FOUND;
    if (kind == 1 && tag != NULL && memcmp(pending, tag, TAG_SIZE) == 0)
        return SESAME_OK;
    if (!present)
        return tampered_record(" was deleted");
    if (entry == NULL)
        return tampered_record(" is not in the manifest (restored from an earlier copy, or planted?)");
    return tampered_record(" is not the version the manifest names (restored from an earlier copy?)");
}

/* load reads the record of the name in arg, stored under key, checks it
 * (check_record) against its entry in the manifest (read for a write when
 * full), and opens it into plain. */
static uint32_t load(const store_keys *k, const uint8_t *key, int full, uint32_t *info_len) {
    const uint8_t *entry;
    uint32_t st = manifest_of(k, key, full, &entry);
    if (st == SESAME_OK)
        st = sesame_kv_read(&rec, key, RECORD_KEY_LEN);
    if (st == SESAME_OK || st == SESAME_NOT_FOUND)
        st = check_record(k, key, st == SESAME_OK, entry);
    if (st != SESAME_OK)
        return st;
    st = open_record(k, key, RECORD_KEY_LEN, rec.data, rec.len, arg.data, arg.len, &plain, info_len);
    if (st != OPEN_AUTH && st != OPEN_CORRUPT)
        return st;
    msg_reset();
    msg_str("record of ");
    msg_quote(arg.data, arg.len);
    msg_str(st == OPEN_AUTH ? " failed authentication: the store was tampered with or is corrupt" : " is corrupt");
    return msg_fail(SESAME_INTERNAL);
}

/* record_changed writes the entry of the record under key (its tag and
 * info; info NULL: deleted) into its leaf, and the leaf, its directory and
 * the root: after find or manifest_of read them, in the same call. In a
 * batch (batch) it writes the pending entry instead, which the batch's end
 * applies. */
static uint32_t record_changed(const store_keys *k, const uint8_t *key, int batch, const uint8_t *tag,
                               const uint8_t *info, uint32_t info_len) {
    if (batch)
        return pending_put(k, key, tag, info, info_len);
    uint8_t hash[HASH_SIZE];
    key_hash(key, RECORD_KEY_LEN, hash);
    uint32_t st = bucket_put(&bkt, hash, tag, info, info_len);
    if (st == SESAME_OK)
        st = bucket_write(k, &man, &man_dir, &bkt);
    if (st == SESAME_OK)
        st = root_store(k, &man);
    buf_wipe(&bkt.plain);
    return st;
}

/* find reads the name (argument 0) and loads its record; for a write
 * outside a batch (full), with the whole of its leaf of the manifest. */
static uint32_t find(uint32_t name_len, int create, int full, store_keys *k, uint8_t *key, uint32_t *info_len) {
    uint32_t st = sesame_read_input(&arg, 0, name_len);
    if (st == SESAME_OK)
        st = keys(create, k);
    if (st == SESAME_OK)
        st = record_key(k, arg.data, arg.len, key);
    if (st == SESAME_OK)
        st = load(k, key, full, info_len);
    return st;
}

SESAME_EXPORT("sesame_get") uint32_t vault_get(uint32_t name_len) {
    store_keys k;
    uint8_t key[RECORD_KEY_LEN];
    uint32_t info_len, st = find(name_len, 0, 0, &k, key, &info_len);
    return done(st != SESAME_OK ? st : sesame_output(plain.data, plain.len));
}

SESAME_EXPORT("sesame_stat") uint32_t vault_stat(uint32_t name_len) {
    store_keys k;
    uint8_t key[RECORD_KEY_LEN];
    uint32_t info_len, st = find(name_len, 0, 0, &k, key, &info_len);
    return done(st != SESAME_OK ? st : sesame_output(plain.data, info_len));
}

/* store seals the secret (name, md, value), writes it under key, and its
 * entry in the manifest that find read (in a batch: its pending entry). */
static uint32_t store(const store_keys *k, const uint8_t *key, int batch, const uint8_t *name, uint32_t name_len,
                      const uint8_t *md, uint32_t md_len, const uint8_t *value, uint32_t value_len) {
    uint32_t n = sesame_secret_len(name_len, md_len, value_len);
    next.len = 0;
    if (!sesame_buf_reserve(&next, n))
        return sesame_fail(SESAME_TOO_LARGE, "the secret does not fit in the vault's memory");
    next.len = sesame_put_secret(next.data, name, name_len, md, md_len, value, value_len);
    uint32_t st = seal_record(k, key, RECORD_KEY_LEN, next.data, next.len, &rec);
    if (st == SESAME_OK)
        st = sesame_kv_set(key, RECORD_KEY_LEN, rec.data, rec.len);
    if (st == SESAME_OK)
        st = record_changed(k, key, batch, rec.data + rec.len - TAG_SIZE, next.data,
                            sesame_info_size(next.data, next.len));
    buf_wipe(&next);
    return st;
}

/* reported outputs what a set did (SPEC.md §4, set_reports) once st, its
 * outcome, is OK. */
static uint32_t reported(uint32_t st, uint8_t what) {
    return st == SESAME_OK ? sesame_output(&what, 1) : st;
}

/* same_secret reports whether the secret opened in plain (its info
 * info_len bytes long) already holds the value in arg2 and, when the set
 * gives metadata (meta_len > 0), the metadata in meta: the bytes the host
 * sent when it was stored, which it encodes one way only. */
static int same_secret(uint32_t info_len, uint32_t meta_len) {
    uint32_t head = 4 + sesame_get_u32(plain.data) + 1;
    if (plain.len - info_len != arg2.len || memcmp(plain.data + info_len, arg2.data, arg2.len) != 0)
        return 0;
    return meta_len == 0 || (info_len - head == meta.len && memcmp(plain.data + head, meta.data, meta.len) == 0);
}

/* set keeps the stored spelling of a name that differs only in case, and
 * the stored metadata when none is given (SPEC.md §4); it writes nothing
 * when the secret is already what the set gives, and says which it did. */
SESAME_EXPORT("sesame_set") uint32_t vault_set(uint32_t name_len, uint32_t value_len, uint32_t meta_len) {
    store_keys k;
    uint8_t key[RECORD_KEY_LEN];
    int batch = 0;
    uint32_t info_len, st = sesame_read_input(&arg2, 1, value_len);
    if (st == SESAME_OK && meta_len > 0)
        st = sesame_read_input(&meta, 2, meta_len);
    if (st == SESAME_OK)
        st = batching(&batch);
    if (st == SESAME_OK)
        st = find(name_len, 1, !batch, &k, key, &info_len);
    if (st == SESAME_NOT_FOUND)
        return done(reported(store(&k, key, batch, arg.data, arg.len, meta.data, meta_len, arg2.data, arg2.len),
                             SESAME_SET_CREATED));
    if (st != SESAME_OK)
        return done(st);
    if (same_secret(info_len, meta_len)) {
        buf_wipe(&bkt.plain); /* find read the leaf for a write that is not needed */
        return done(reported(SESAME_OK, SESAME_SET_UNCHANGED));
    }
    uint32_t stored = sesame_get_u32(plain.data), head = 4 + stored + 1;
    const uint8_t *md = meta_len > 0 ? meta.data : plain.data + head;
    uint32_t md_len = meta_len > 0 ? meta_len : info_len - head;
    return done(reported(store(&k, key, batch, plain.data + 4, stored, md, md_len, arg2.data, arg2.len),
                         SESAME_SET_REPLACED));
}

SESAME_EXPORT("sesame_set_metadata") uint32_t vault_set_metadata(uint32_t name_len, uint32_t meta_len) {
    store_keys k;
    uint8_t key[RECORD_KEY_LEN];
    int batch = 0;
    uint32_t info_len, st = sesame_read_input(&meta, 1, meta_len);
    if (st == SESAME_OK)
        st = batching(&batch);
    if (st == SESAME_OK)
        st = find(name_len, 0, !batch, &k, key, &info_len);
    if (st != SESAME_OK)
        return done(st);
    return done(store(&k, key, batch, plain.data + 4, sesame_get_u32(plain.data), meta.data, meta.len,
                      plain.data + info_len, plain.len - info_len));
}

SESAME_EXPORT("sesame_remove") uint32_t vault_remove(uint32_t name_len) {
    store_keys k;
    uint8_t key[RECORD_KEY_LEN];
    int batch = 0, listed = 0, kind;
    uint8_t tag[TAG_SIZE];
    uint32_t st = sesame_read_input(&arg, 0, name_len);
    if (st == SESAME_OK)
        st = batching(&batch);
    if (st == SESAME_OK)
        st = keys(0, &k);
    if (st == SESAME_OK)
        st = record_key(&k, arg.data, arg.len, key);
    const uint8_t *entry = NULL;
    if (st == SESAME_OK)
        st = manifest_of(&k, key, !batch, &entry);
    listed = entry != NULL;
    if (st == SESAME_OK && batch && (st = pending_of(&k, key, &kind, tag)) == SESAME_OK && kind >= 0)
        listed = kind; /* what the batch wrote before */
    if (st == SESAME_OK)
        st = sesame_kv_delete(key, RECORD_KEY_LEN);
    if (st == SESAME_NOT_FOUND && listed) /* deleted behind our back: the entry goes too */
        st = SESAME_OK;
    if (st == SESAME_OK && (listed || batch))
        st = record_changed(&k, key, batch, NULL, NULL, 0);
    return done(st);
}

/* A listing: the folded pattern (all: every name, no folding) and the
 * count of infos appended to out. */
typedef struct {
    int all;
    uint32_t count;
} listing;

/* list_info appends an info of the manifest to out when its name matches
 * the folded pattern. */
static uint32_t list_info(void *arg, const uint8_t *info, uint32_t len) {
    listing *l = arg;
    if (!l->all && !fold(info + 4, sesame_get_u32(info), &fname))
        return sesame_fail(SESAME_TOO_LARGE, "the list does not fit in the vault's memory");
    if (l->all || sesame_match(fpat.data, fpat.len, fname.data, fname.len)) {
        if (!sesame_buf_append(&out, info, len))
            return sesame_fail(SESAME_TOO_LARGE, "the list does not fit in the vault's memory");
        l->count++;
    }
    return SESAME_OK;
}

/* list_all appends the info of every secret whose name matches to out:
 * from the manifest, whose buckets hold them, after checking every record
 * against it (walk_store), so that a deleted or restored record fails the
 * listing, named, instead of being left out. */
static uint32_t list_all(const store_keys *k, uint32_t *count) {
    listing l = {.all = fpat.len == 1 && fpat.data[0] == '*'};
    uint32_t st = walk_store(k, list_info, &l);
    *count = l.count;
    return st;
}

/* list reads the names from the manifest (they are only inside it and
 * the records). */
SESAME_EXPORT("sesame_list") uint32_t vault_list(uint32_t pattern_len) {
    store_keys k;
    uint32_t count = 0, st = sesame_read_input(&arg, 0, pattern_len);
    if (st == SESAME_OK && !fold(arg.data, arg.len, &fpat))
        st = SESAME_TOO_LARGE;
    out.len = 0;
    if (st == SESAME_OK && !sesame_buf_reserve(&out, 4))
        st = SESAME_TOO_LARGE;
    if (st == SESAME_OK) {
        out.len = 4;
        st = get_keys(0, &k);
        if (st == SESAME_OK)
            st = list_all(&k, &count);
        else if (st == STATUS_EMPTY)
            st = SESAME_OK;
    }
    if (st != SESAME_OK)
        return done(st);
    sesame_put_u32(out.data, count);
    return done(sesame_output(out.data, out.len));
}

SESAME_EXPORT("sesame_unlock") uint32_t vault_unlock(uint32_t password_len) {
    uint32_t st = sesame_read_input(&arg, 0, password_len);
    return done(st != SESAME_OK ? st : unlock(arg.data, arg.len));
}

SESAME_EXPORT("sesame_lock") uint32_t vault_lock(void) { return lock(); }

SESAME_EXPORT("sesame_set_password") uint32_t vault_set_password(uint32_t old_len, uint32_t new_len) {
    uint32_t st = sesame_read_input(&arg, 0, old_len);
    if (st == SESAME_OK)
        st = sesame_read_input(&arg2, 1, new_len);
    return done(st != SESAME_OK ? st : set_password(arg.data, arg.len, arg2.data, arg2.len));
}

/* test writes, reads back and deletes a probe under a random key (several
 * processes may test at once), and checks that the store's key records
 * parse. It does not need the vault unlocked. */
SESAME_EXPORT("sesame_test") uint32_t vault_test(void) {
    static const char hex[] = "0123456789abcdef";
    uint8_t id[8], probe[16], key[sizeof PREFIX_PROBE - 1 + 2 * sizeof id];
    if (getentropy(id, sizeof id) != 0 || getentropy(probe, sizeof probe) != 0)
        return sesame_fail(SESAME_UNAVAILABLE, "no random bytes");
    memcpy(key, PREFIX_PROBE, sizeof PREFIX_PROBE - 1);
    for (uint32_t i = 0; i < sizeof id; i++) {
        key[sizeof PREFIX_PROBE - 1 + 2 * i] = (uint8_t)hex[id[i] >> 4];
        key[sizeof PREFIX_PROBE + 2 * i] = (uint8_t)hex[id[i] & 15];
    }
    uint32_t st = sesame_kv_set(key, sizeof key, probe, sizeof probe);
    if (st == SESAME_OK)
        st = sesame_kv_read(&rec, key, sizeof key);
    if (st == SESAME_OK && (rec.len != sizeof probe || memcmp(rec.data, probe, sizeof probe) != 0))
        st = sesame_fail(SESAME_UNAVAILABLE, "storage returned other bytes than were written");
    if (st == SESAME_OK)
        st = sesame_kv_delete(key, sizeof key);
    config c;
    key_record kr;
    int found;
    if (st == SESAME_OK)
        st = load_config(&rec, &c, &found);
    if (st == SESAME_OK)
        st = load_key_record(&rec, &kr, &found);
    return done(st);
}
