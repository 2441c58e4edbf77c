/*
 * keys.c — where a store's keys come from, and the password operations.
 *
 *   authentication = "none": the c/key record, read on every call; its
 *     master key (in clear on disk) goes to the host with key_import, and
 *     the subkeys are derived from it for the call, the manifest key's
 *     fingerprint too (fingerprint).
 *   authentication = "password": an unlock derives the key-encryption key
 *     from the password with the parameters of c/config (key_argon2id),
 *     unwraps the master key (key_unwrap), derives the subkeys (key_hkdf),
 *     keeps them (key_keep) and records their handles, with the store id,
 *     in the keyring for password_timeout: id (16) | u32 record key | u32
 *     name key | u32 manifest key. Every call reads c/config too, and refuses a keyring of
 *     another store id (a store replaced since the unlock). Lock, or the
 *     timeout, wipes the kept keys in the host.
 *
 * No key of a password store is ever in guest memory. The store is created
 * by the first write (none) or the first unlock (password) with kv_add: of
 * several processes creating it at once exactly one writes its record, and
 * the others read and use the winner's.
 *
 * A key is never adopted from storage while records exist that it does not
 * open: a store is created (a new key, a first password) only when it holds
 * no record, and a store created without a password gets one by
 * set_password, which opens every record under its c/key, moves them all
 * to a new master key and deletes c/key, in one transaction (rekey.c).
 * Unlock never migrates.
 */
#include "secretstore.h"

#include <time.h>
#include <unistd.h>

int auth_password = 1;
uint32_t ttl_ms = 900 * 1000;

static const char label_record_key[] = "sesame secretstore v1 record key";
static const char label_name_key[] = "sesame secretstore v1 name key";
static const char label_manifest_key[] = "sesame secretstore v2 manifest key";
static const char label_fingerprint[] = "sesame secretstore v2 fingerprint"; /* and its NUL */

/* Messages users see. Locked states say what to do; the engine puts its
 * own "vault is locked" before them. */
#define MSG_LOCKED "unlock it with its password"
#define MSG_REPLACED "its store was replaced since the unlock; unlock it again"
#define MSG_NEW_PASSWORD "it has no password yet; unlock it with the password it should have"
#define MSG_MIGRATE                                                                                   \
    "it was created with authentication = none and has no password yet; give it one with set-password " \
    "(its secrets are kept, under a new key)"
#define MSG_HAS_PASSWORD                                                                                   \
    "its store has a password but its parameter authentication is \"none\"; unlock it with the password " \
    "once to remove the password, or set authentication = \"password\""
#define MSG_WRONG "wrong password"
#define MSG_NO_PASSWORD "vault does not use a password (authentication = none)"
#define MSG_KEYLESS                                                                                    \
    "the store holds secrets but has no key record (c/config or c/key): it was tampered with or is damaged; " \
    "nothing was written"
#define MSG_VANISHED "the store's key record disappeared while it was being created; retry"

/* STATUS_WRONG is unwrap's answer to a password that does not open the
 * master key; each caller says it in its own words. */
#define STATUS_WRONG 0x103

/* The records read: c/config and c/key. */
static sesame_buf conf_buf, key_buf, wrapped;

/* locked turns NOT_FOUND from a key function (a key wiped since the
 * keyring named it: locked, or the timeout ran out) into LOCKED. */
uint32_t locked(uint32_t st) {
    return st == SESAME_NOT_FOUND ? sesame_fail(SESAME_LOCKED, MSG_LOCKED) : st;
}

uint32_t corrupt(const char *key) {
    msg_reset();
    msg_str("the store's ");
    msg_str(key);
    msg_str(" record is corrupt");
    return msg_fail(SESAME_INTERNAL);
}

uint32_t kv_read(sesame_buf *b, const char *key) { return sesame_kv_read(b, key, (uint32_t)strlen(key)); }

/* load_config reads c/config; *found 0 without an error when there is none. */
uint32_t load_config(sesame_buf *b, config *c, int *found) {
    uint32_t st = kv_read(b, KEY_CONFIG);
    *found = st == SESAME_OK;
    if (st == SESAME_NOT_FOUND)
        return SESAME_OK;
    if (st == SESAME_OK && !parse_config(b->data, b->len, c))
        return corrupt(KEY_CONFIG);
    return st;
}

/* load_key_record reads c/key; *found 0 without an error when there is none.
 * The caller wipes b once it has used the key. */
uint32_t load_key_record(sesame_buf *b, key_record *k, int *found) {
    uint32_t st = kv_read(b, KEY_MASTER);
    *found = st == SESAME_OK;
    if (st == SESAME_NOT_FOUND)
        return SESAME_OK;
    if (st == SESAME_OK && !parse_key_record(b->data, b->len, k)) {
        buf_wipe(b);
        return corrupt(KEY_MASTER);
    }
    return st;
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint32_t random_bytes(void *dst, uint32_t n) {
    return getentropy(dst, n) == 0 ? SESAME_OK : sesame_fail(SESAME_UNAVAILABLE, "no random bytes");
}

/* handle checks the result of a key function that makes a key. */
static uint32_t handle(int32_t h, int32_t *out) {
    if (h < 0)
        return locked((uint32_t)-h);
    *out = h;
    return SESAME_OK;
}

/* mark_handle marks k's manifest key by its handle (key_mark). */
static void mark_handle(store_keys *k) {
    memset(&k->mark, 0, sizeof k->mark);
    k->mark.handle = k->manifest;
}

/* derive makes the subkeys of the master key m of store id, marked by
 * their handles: new ones, which name them for this call. */
static uint32_t derive(int32_t m, const uint8_t *id, store_keys *k) {
    memcpy(k->id, id, STORE_ID_SIZE);
    uint32_t st = handle(sesame_key_hkdf(m, id, STORE_ID_SIZE, label_record_key, sizeof label_record_key - 1, 32),
                         &k->record);
    if (st == SESAME_OK)
        st = handle(sesame_key_hkdf(m, id, STORE_ID_SIZE, label_name_key, sizeof label_name_key - 1, 32), &k->name);
    if (st == SESAME_OK)
        st = handle(sesame_key_hkdf(m, id, STORE_ID_SIZE, label_manifest_key, sizeof label_manifest_key - 1, 32),
                    &k->manifest);
    if (st == SESAME_OK)
        mark_handle(k);
    return st;
}

/* fingerprint marks k's manifest key by the first DIGEST_SIZE bytes of its
 * HMAC of a fixed label: a store without a password derives its keys in
 * new handles at every call, and what manifest.c checked under them (the
 * root, the buckets) would be checked again at every call. One HMAC of 34
 * bytes a call, against the root's of 4 KiB and a bucket's read and HMAC
 * that it spares a get (bench/NOTES.md). Keeping the derived keys across
 * calls instead (key_keep) would spare their derivation too, but a lock
 * or a set_password's keyring_set wipes kept keys, and every call would
 * still have to tell that c/key is the one they came from. The
 * fingerprint says nothing of the key and is never stored; its label is
 * no other MAC's under this key. */
static uint32_t fingerprint(store_keys *k) {
    uint8_t mac[SESAME_KEY_HMAC];
    uint32_t st = locked(sesame_key_hmac(k->manifest, label_fingerprint, sizeof label_fingerprint, mac));
    if (st != SESAME_OK)
        return st;
    k->mark.handle = 0;
    memcpy(k->mark.fingerprint, mac, sizeof k->mark.fingerprint);
    return SESAME_OK;
}

/* new_manifest writes the manifest of a store just created: no record. */
static uint32_t new_manifest(const store_keys *k) {
    static root empty;
    memset(&empty, 0, sizeof empty);
    return root_store(k, &empty);
}

/* upgrade_key_record marks c/key as format v2, once build_manifest has
 * written the manifest of a store of format v1. */
static uint32_t upgrade_key_record(void) {
    uint32_t st = kv_read(&key_buf, KEY_MASTER);
    if (st == SESAME_OK && key_buf.len == KEY_RECORD_LEN) {
        key_buf.data[0] = STORE_VERSION;
        st = sesame_kv_set(KEY_MASTER, sizeof KEY_MASTER - 1, key_buf.data, key_buf.len);
    }
    buf_wipe(&key_buf);
    return st;
}

/* import_master gives the master key of a c/key record to the host, and
 * wipes the record. */
static uint32_t import_master(const key_record *kr, int32_t *m) {
    uint32_t st = handle(sesame_key_import(kr->key, MASTER_KEY_SIZE), m);
    buf_wipe(&key_buf);
    return st;
}

/* create_key_record adds the c/key of a new store without a password,
 * unless another process was first. */
static uint32_t create_key_record(int *created) {
    uint8_t rec[KEY_RECORD_LEN], id[STORE_ID_SIZE], key[MASTER_KEY_SIZE];
    uint32_t st = random_bytes(id, sizeof id);
    if (st == SESAME_OK)
        st = random_bytes(key, sizeof key);
    if (st == SESAME_OK) {
        put_key_record(rec, now_ms(), id, key);
        st = sesame_kv_add(KEY_MASTER, sizeof KEY_MASTER - 1, rec, sizeof rec);
        *created = st == SESAME_OK;
        if (st == SESAME_CONFLICT) /* the record of a creator that was first */
            st = SESAME_OK;
    }
    memset(key, 0, sizeof key);
    memset(rec, 0, sizeof rec);
    return st;
}

/* import_keys gives the subkeys of the store whose c/key is kr, for this
 * call, and wipes the record. */
static uint32_t import_keys(const key_record *kr, store_keys *k) {
    uint8_t id[STORE_ID_SIZE];
    int32_t m;
    memcpy(id, kr->id, sizeof id);
    uint32_t st = import_master(kr, &m);
    if (st != SESAME_OK)
        return st;
    st = derive(m, id, k);
    sesame_key_release(m);
    return st;
}

/* no_records fails unless the store holds no record: a store without a key
 * record is created only when it is empty, or a key record deleted by
 * someone would be replaced by a new key under which the old records never
 * open, and the new ones would be written beside them. */
static uint32_t no_records(void) {
    int any;
    uint32_t st = has_records(&any);
    return st != SESAME_OK ? st : any ? sesame_fail(SESAME_INTERNAL, MSG_KEYLESS) : SESAME_OK;
}

/* none_keys gives the subkeys of a store without a password. create makes
 * the store when there is none (writes); otherwise its absence is
 * STATUS_EMPTY. A store of format v1 is upgraded (build_manifest): the
 * call runs as a batch (SPEC.md §5.3), so the upgrade commits whole or not
 * at all. */
static uint32_t none_keys(int create, store_keys *k) {
    key_record kr;
    config c;
    int found, has_config, created = 0;
    uint32_t st = load_key_record(&key_buf, &kr, &found);
    if (st != SESAME_OK || found)
        goto loaded;
    if ((st = load_config(&conf_buf, &c, &has_config)) != SESAME_OK)
        return st;
    if (has_config)
        return sesame_fail(SESAME_LOCKED, MSG_HAS_PASSWORD);
    if (!create)
        return STATUS_EMPTY;
    if ((st = no_records()) != SESAME_OK || (st = create_key_record(&created)) != SESAME_OK)
        return st;
    st = load_key_record(&key_buf, &kr, &found); /* ours, or the first creator's */
    if (st == SESAME_OK && !found)
        return sesame_fail(SESAME_UNAVAILABLE, MSG_VANISHED);
loaded:
    if (st != SESAME_OK)
        return st;
    uint8_t version = kr.version;
    if ((st = import_keys(&kr, k)) != SESAME_OK || (st = fingerprint(k)) != SESAME_OK)
        return st;
    if (created)
        return new_manifest(k);
    if (version == 1 && (st = build_manifest(k)) == SESAME_OK)
        st = upgrade_key_record();
    return st;
}

/* exists reports in *found whether the storage has key. */
static uint32_t exists(const char *key, int *found) {
    int64_t n = sesame_kv_get(key, (uint32_t)strlen(key), NULL, 0);
    *found = n >= 0;
    return n >= 0 || n == -SESAME_NOT_FOUND ? SESAME_OK : sesame_status(n);
}

/* unlocked_keys gives the subkeys that an unlock left in the keyring. */
static uint32_t unlocked_keys(store_keys *k) {
    config c;
    int found;
    uint32_t st = load_config(&conf_buf, &c, &found);
    if (st != SESAME_OK)
        return st;
    if (!found) {
        if ((st = exists(KEY_MASTER, &found)) != SESAME_OK)
            return st;
        return sesame_fail(SESAME_LOCKED, found ? MSG_MIGRATE : MSG_NEW_PASSWORD);
    }
    if (c.version == 1) /* an unlock upgrades it */
        return sesame_fail(SESAME_LOCKED, MSG_LOCKED);
    uint8_t slot[STORE_ID_SIZE + 12];
    int64_t n = sesame_keyring_get(slot, sizeof slot);
    if (n == -SESAME_NOT_FOUND)
        return sesame_fail(SESAME_LOCKED, MSG_LOCKED);
    if (n < 0)
        return sesame_status(n);
    if (n != sizeof slot || memcmp(slot, c.id, STORE_ID_SIZE) != 0) {
        sesame_keyring_clear();
        return sesame_fail(SESAME_LOCKED, MSG_REPLACED);
    }
    memcpy(k->id, slot, STORE_ID_SIZE);
    k->record = (int32_t)sesame_get_u32(slot + STORE_ID_SIZE);
    k->name = (int32_t)sesame_get_u32(slot + STORE_ID_SIZE + 4);
    k->manifest = (int32_t)sesame_get_u32(slot + STORE_ID_SIZE + 8);
    mark_handle(k);
    return SESAME_OK;
}

/* get_keys gives the store's subkeys for this call. create makes a store
 * without a password when there is none yet (only writes ask for that);
 * otherwise an absent store is STATUS_EMPTY. */
uint32_t get_keys(int create, store_keys *k) { return auth_password ? unlocked_keys(k) : none_keys(create, k); }

/* remember keeps the subkeys of m in the host and their handles in the
 * keyring for the password timeout. */
static uint32_t remember(int32_t m, const uint8_t *id) {
    store_keys k;
    uint32_t st = derive(m, id, &k);
    if (st == SESAME_OK)
        st = locked(sesame_key_keep(k.record));
    if (st == SESAME_OK)
        st = locked(sesame_key_keep(k.name));
    if (st == SESAME_OK)
        st = locked(sesame_key_keep(k.manifest));
    if (st != SESAME_OK)
        return st;
    uint8_t slot[STORE_ID_SIZE + 12];
    memcpy(slot, id, STORE_ID_SIZE);
    sesame_put_u32(slot + STORE_ID_SIZE, (uint32_t)k.record);
    sesame_put_u32(slot + STORE_ID_SIZE + 4, (uint32_t)k.name);
    sesame_put_u32(slot + STORE_ID_SIZE + 8, (uint32_t)k.manifest);
    return sesame_keyring_set(slot, sizeof slot, ttl_ms);
}

/* kek derives the key-encryption key of a password. The parameters come
 * from c/config (or are ours): the host refuses them only if the record was
 * tampered with. */
static uint32_t kek(const uint8_t *pw, uint32_t n, const uint8_t *salt, uint32_t salt_len, uint32_t time,
                    uint32_t memory_kib, uint32_t threads, int32_t *out) {
    int32_t h = sesame_key_argon2id(pw, n, salt, salt_len, time, memory_kib, threads, MASTER_KEY_SIZE);
    if (h == -SESAME_INVALID_ARGUMENT)
        return corrupt(KEY_CONFIG);
    return handle(h, out);
}

/* unwrap makes the master key that c keeps under the password, or returns
 * STATUS_WRONG. */
static uint32_t unwrap(const config *c, const uint8_t *pw, uint32_t n, int32_t *m) {
    int32_t k;
    uint32_t st = kek(pw, n, c->salt, c->salt_len, c->time, c->memory_kib, c->threads, &k);
    if (st != SESAME_OK)
        return st;
    uint8_t ad[64 + 21 + 255 + STORE_ID_SIZE];
    uint32_t ad_len = wrap_ad(ad, c->raw, c->header_len);
    int32_t h = sesame_key_unwrap(k, c->box, NONCE_SIZE + MASTER_KEY_SIZE + TAG_SIZE, ad, ad_len);
    sesame_key_release(k);
    return h == -SESAME_PERMISSION_DENIED ? STATUS_WRONG : handle(h, m);
}

/* wrong says STATUS_WRONG as msg. */
static uint32_t wrong(uint32_t st, const char *msg) {
    return st == STATUS_WRONG ? sesame_fail(SESAME_LOCKED, msg) : st;
}

/* wrap puts in `wrapped` the c/config that keeps the master key m of store
 * id under the password, with a new salt and the default parameters.
 * created 0 stands for now, taken after the key derivation. */
static uint32_t wrap(int32_t m, const uint8_t *id, const uint8_t *pw, uint32_t n, int64_t created) {
    uint8_t salt[SALT_SIZE];
    int32_t k;
    uint32_t st = random_bytes(salt, sizeof salt);
    if (st == SESAME_OK)
        st = kek(pw, n, salt, sizeof salt, 3, 64 << 10, 4, &k);
    if (st != SESAME_OK)
        return st;
    enum { header = 21 + SALT_SIZE + STORE_ID_SIZE, box = MASTER_KEY_SIZE + BOX_OVERHEAD };
    wrapped.len = 0;
    if (!sesame_buf_reserve(&wrapped, header + box)) {
        sesame_key_release(k);
        return sesame_fail(SESAME_TOO_LARGE, "out of memory");
    }
    put_config_header(wrapped.data, created ? created : now_ms(), salt, id);
    uint8_t ad[64 + header];
    uint32_t ad_len = wrap_ad(ad, wrapped.data, header);
    int64_t got = sesame_key_wrap(k, m, ad, ad_len, wrapped.data + header, box);
    sesame_key_release(k);
    if (got != box)
        return got < 0 ? locked(sesame_status(got)) : SESAME_INTERNAL;
    wrapped.len = header + box;
    return SESAME_OK;
}

static uint32_t check_password(uint32_t n) {
    if (n == 0)
        return sesame_fail(SESAME_INVALID_ARGUMENT, "the password cannot be empty");
    if (n > MAX_PASSWORD)
        return sesame_fail(SESAME_INVALID_ARGUMENT, "the password is longer than 1024 bytes");
    return SESAME_OK;
}

/* rotate makes a new master key *m and store id, and moves every record
 * from the keys from to the subkeys of the new key (rekey.c), with a new
 * manifest. A store of format v2 (version) is checked against its
 * manifest first, so that a rekey does not make a deleted or restored
 * record the truth. */
static uint32_t rotate(const store_keys *from, uint8_t version, int32_t *m, uint8_t *id) {
    store_keys to;
    uint32_t count, st = version == 1 ? SESAME_OK : walk_store(from, NULL, NULL);
    if (st == SESAME_OK)
        st = random_bytes(id, STORE_ID_SIZE);
    if (st == SESAME_OK)
        st = handle(sesame_key_generate(MASTER_KEY_SIZE), m);
    if (st != SESAME_OK)
        return st;
    if ((st = derive(*m, id, &to)) == SESAME_OK)
        st = reseal_all(from, &to, &count);
    if (st == SESAME_OK)
        st = build_manifest(&to);
    if (st != SESAME_OK)
        return st;
    msg_reset();
    msg_str("secretstore: the store has a new master key; records re-encrypted: ");
    msg_num(count);
    msg_log(SESAME_LOG_INFO);
    return SESAME_OK;
}

/* add_password gives a password to a store created without one: a new
 * master key for every record (the old one was on disk in clear), wrapped
 * under the password in c/config, and c/key deleted. Every record must open
 * under c/key, or nothing is written: a planted c/key is refused. */
static uint32_t add_password(const key_record *kr, const uint8_t *pw, uint32_t n, int32_t *m, uint8_t *id) {
    store_keys from;
    uint8_t version = kr->version;
    uint32_t st = import_keys(kr, &from);
    if (st == SESAME_OK)
        st = rotate(&from, version, m, id);
    if (st == SESAME_OK)
        st = wrap(*m, id, pw, n, 0);
    if (st == SESAME_OK)
        st = sesame_kv_add(KEY_CONFIG, sizeof KEY_CONFIG - 1, wrapped.data, wrapped.len);
    if (st == SESAME_OK)
        st = sesame_kv_delete(KEY_MASTER, sizeof KEY_MASTER - 1);
    return st;
}

/* set_first_password creates c/config around a new master key, in a store
 * that holds no record. Of two processes doing so at once, the one that
 * adds the record first wins; the other then unlocks the winner's record
 * with its own password. It makes the master key *m and sets the store
 * id. */
static uint32_t set_first_password(const uint8_t *pw, uint32_t n, int32_t *m, uint8_t *id) {
    config c;
    int found;
    uint32_t st = no_records();
    if (st == SESAME_OK)
        st = random_bytes(id, STORE_ID_SIZE);
    if (st == SESAME_OK)
        st = handle(sesame_key_generate(MASTER_KEY_SIZE), m);
    if (st != SESAME_OK || (st = wrap(*m, id, pw, n, 0)) != SESAME_OK)
        return st;
    /* Created only if no other unlock created it meanwhile; on CONFLICT the
     * other one's record is read below. */
    st = sesame_kv_add(KEY_CONFIG, sizeof KEY_CONFIG - 1, wrapped.data, wrapped.len);
    if (st != SESAME_OK && st != SESAME_CONFLICT)
        return st;
    if ((st = load_config(&conf_buf, &c, &found)) != SESAME_OK)
        return st;
    if (!found)
        return sesame_fail(SESAME_UNAVAILABLE, MSG_VANISHED);
    if (conf_buf.len == wrapped.len && memcmp(conf_buf.data, wrapped.data, wrapped.len) == 0) {
        store_keys k;
        if ((st = derive(*m, id, &k)) == SESAME_OK)
            st = new_manifest(&k);
        return st;
    }
    /* Another unlock created the store at the same moment and was first:
     * its password and key win. */
    sesame_key_release(*m);
    memcpy(id, c.id, STORE_ID_SIZE);
    return wrong(unwrap(&c, pw, n, m), "wrong password: another process set the vault's password at the same moment");
}

/* same_master reports whether the master key m of store id is the one in
 * the c/key record kr: their HMACs of one message are compared, since no
 * key leaves the host. */
static uint32_t same_master(int32_t m, const uint8_t *id, const key_record *kr, int *same) {
    static const char probe[] = "sesame secretstore v1 same key";
    uint8_t a[SESAME_KEY_HMAC], b[SESAME_KEY_HMAC];
    int32_t o;
    *same = 0;
    if (memcmp(id, kr->id, STORE_ID_SIZE) != 0) {
        buf_wipe(&key_buf);
        return SESAME_OK;
    }
    uint32_t st = import_master(kr, &o);
    if (st != SESAME_OK)
        return st;
    st = locked(sesame_key_hmac(m, probe, sizeof probe - 1, a));
    if (st == SESAME_OK)
        st = locked(sesame_key_hmac(o, probe, sizeof probe - 1, b));
    sesame_key_release(o);
    *same = st == SESAME_OK && memcmp(a, b, sizeof a) == 0;
    return st;
}

/* drop_key_record deletes a c/key left beside c/config by an interrupted
 * migration, once the password has unlocked the same master key. */
static uint32_t drop_key_record(int32_t m, const uint8_t *id) {
    key_record kr;
    int found, same;
    uint32_t st = load_key_record(&key_buf, &kr, &found);
    if (st != SESAME_OK || !found || (st = same_master(m, id, &kr, &same)) != SESAME_OK)
        return st;
    if (!same) {
        msg_reset();
        msg_str("secretstore: c/key holds another key than the password unlocks; left in place");
        msg_log(SESAME_LOG_WARN);
        return SESAME_OK;
    }
    st = sesame_kv_delete(KEY_MASTER, sizeof KEY_MASTER - 1);
    return st == SESAME_NOT_FOUND ? SESAME_OK : st;
}

/* unlocked finishes an unlock or a password change: the keys of m go to
 * the keyring, and a c/key of the same key goes. */
static uint32_t unlocked(int32_t m, const uint8_t *id) {
    uint32_t st = remember(m, id);
    if (st == SESAME_OK)
        st = drop_key_record(m, id);
    sesame_key_release(m);
    return st;
}

/* export_master writes the bytes of the master key m to dst: for
 * remove_password alone, which stores them in clear in c/key, as a store
 * without a password has them. The host gives no key out, but a box of
 * key_wrap is one of key_seal (SPEC.md §5.8): wrapped under a key of this
 * call, it opens with key_open. */
static uint32_t export_master(int32_t m, uint8_t *dst) {
    uint8_t box[MASTER_KEY_SIZE + BOX_OVERHEAD];
    int32_t t;
    uint32_t st = handle(sesame_key_generate(32), &t);
    if (st != SESAME_OK)
        return st;
    int64_t got = sesame_key_wrap(t, m, NULL, 0, box, sizeof box);
    if (got == sizeof box)
        got = sesame_key_open(t, box, sizeof box, NULL, 0, dst, MASTER_KEY_SIZE);
    sesame_key_release(t);
    if (got != MASTER_KEY_SIZE)
        return got < 0 ? locked(sesame_status(got)) : SESAME_INTERNAL;
    return SESAME_OK;
}

/* put_master, when st is SESAME_OK, writes c/key: the master key m of the
 * store id, created at created (Unix ms). It releases m whatever st is,
 * wipes the key's bytes, and returns the first failure. */
static uint32_t put_master(uint32_t st, int32_t m, int64_t created, const uint8_t *id) {
    uint8_t key[MASTER_KEY_SIZE], rec[KEY_RECORD_LEN];
    if (st == SESAME_OK)
        st = export_master(m, key);
    sesame_key_release(m);
    if (st == SESAME_OK) {
        put_key_record(rec, created, id, key);
        st = sesame_kv_set(KEY_MASTER, sizeof KEY_MASTER - 1, rec, sizeof rec);
    }
    memset(key, 0, sizeof key);
    memset(rec, 0, sizeof rec);
    return st;
}

/* remove_password is unlock with authentication = "none". A store that has
 * a password (c/config and no c/key) loses it: the password unlocks the
 * master key, which goes to c/key, and c/config is deleted. Otherwise
 * there is no password to give. */
static uint32_t remove_password(const uint8_t *pw, uint32_t n) {
    config c;
    key_record kr;
    int found;
    uint32_t st = load_config(&conf_buf, &c, &found);
    if (st != SESAME_OK)
        return st;
    if (!found)
        return sesame_fail(SESAME_INVALID_ARGUMENT, MSG_NO_PASSWORD);
    if ((st = load_key_record(&key_buf, &kr, &found)) != SESAME_OK)
        return st;
    buf_wipe(&key_buf);
    if (found) /* c/key in use; c/config is a harmless leftover */
        return sesame_fail(SESAME_INVALID_ARGUMENT, MSG_NO_PASSWORD);
    int32_t m;
    if ((st = check_password(n)) != SESAME_OK || (st = wrong(unwrap(&c, pw, n, &m), MSG_WRONG)) != SESAME_OK)
        return st;
    store_keys k;
    st = c.version == 1 ? derive(m, c.id, &k) : SESAME_OK;
    if (st == SESAME_OK && c.version == 1)
        st = build_manifest(&k); /* the new c/key says format v2 */
    st = put_master(st, m, now_ms(), c.id);
    if (st != SESAME_OK)
        return st;
    st = sesame_kv_delete(KEY_CONFIG, sizeof KEY_CONFIG - 1);
    if (st != SESAME_OK && st != SESAME_NOT_FOUND)
        return st;
    sesame_keyring_clear();
    msg_reset();
    msg_str("secretstore: the store's password was removed (authentication = none)");
    msg_log(SESAME_LOG_INFO);
    return SESAME_OK;
}

/* upgrade_config upgrades a store of format v1, whose c/config is c and
 * master key m, to v2 once its password is known: the manifest of its
 * records (build_manifest), and c/config wrapped again, saying v2. The
 * call runs as a batch (SPEC.md §5.3): the upgrade commits whole, or the
 * store stays v1. */
static uint32_t upgrade_config(const config *c, int32_t m, const uint8_t *pw, uint32_t n) {
    store_keys k;
    int64_t created = c->created;
    uint8_t id[STORE_ID_SIZE];
    memcpy(id, c->id, sizeof id);
    uint32_t st = derive(m, id, &k);
    if (st == SESAME_OK)
        st = build_manifest(&k);
    if (st == SESAME_OK)
        st = wrap(m, id, pw, n, created);
    if (st == SESAME_OK)
        st = sesame_kv_set(KEY_CONFIG, sizeof KEY_CONFIG - 1, wrapped.data, wrapped.len);
    if (st == SESAME_OK) {
        msg_reset();
        msg_str("secretstore: the store was upgraded to format v2 (a manifest of its records)");
        msg_log(SESAME_LOG_INFO);
    }
    return st;
}

/* unlock checks the password and keeps the store's keys for the password
 * timeout. The first unlock of an empty store sets the password; a store
 * created with authentication = none gets one by set_password only. A
 * wrong password writes nothing. */
uint32_t unlock(const uint8_t *pw, uint32_t n) {
    if (!auth_password)
        return remove_password(pw, n);
    config c;
    int found;
    int32_t m;
    uint8_t id[STORE_ID_SIZE];
    uint32_t st = check_password(n);
    if (st == SESAME_OK)
        st = load_config(&conf_buf, &c, &found);
    if (st != SESAME_OK)
        return st;
    if (!found) {
        if ((st = exists(KEY_MASTER, &found)) != SESAME_OK)
            return st;
        if (found)
            return sesame_fail(SESAME_LOCKED, MSG_MIGRATE);
        st = set_first_password(pw, n, &m, id);
    } else {
        memcpy(id, c.id, sizeof id);
        st = wrong(unwrap(&c, pw, n, &m), MSG_WRONG);
        if (st == SESAME_OK && c.version == 1)
            st = upgrade_config(&c, m, pw, n);
    }
    return st != SESAME_OK ? st : unlocked(m, id);
}

/* lock empties the keyring, which wipes the kept keys: every instance is
 * locked at once. */
uint32_t lock(void) {
    if (!auth_password)
        return sesame_fail(SESAME_INVALID_ARGUMENT, MSG_NO_PASSWORD);
    return sesame_keyring_clear();
}

/* rekey_none gives a store without a password a new master key, for
 * set_password with two empty passwords: every record moves to it, and
 * c/key holds it. */
static uint32_t rekey_none(void) {
    key_record kr;
    config c;
    int found;
    uint32_t st = load_key_record(&key_buf, &kr, &found);
    if (st == SESAME_OK && !found && (st = load_config(&conf_buf, &c, &found)) == SESAME_OK)
        return found ? sesame_fail(SESAME_LOCKED, MSG_HAS_PASSWORD) : no_records();
    if (st != SESAME_OK)
        return st;
    int64_t created = kr.created;
    uint8_t version = kr.version;
    store_keys from;
    int32_t m;
    uint8_t id[STORE_ID_SIZE];
    if ((st = import_keys(&kr, &from)) != SESAME_OK || (st = rotate(&from, version, &m, id)) != SESAME_OK)
        return st;
    return put_master(SESAME_OK, m, created, id); /* rotate built the manifest under m */
}

/* set_password wraps the master key again under the new password with a
 * new salt: every secret stays readable. A store with a password needs the
 * current one in old (an unlocked vault is not enough: whoever sits at an
 * unlocked session must not be able to lock the owner out); when new is
 * old, the password stays and the store gets a new master key (a rekey:
 * every record is re-encrypted). A store without c/config takes the new
 * password as its first: an empty store as unlock would, one created with
 * authentication = none with a new master key (add_password). Without a
 * password (authentication = none), two empty passwords rekey the store.
 * The vault is unlocked afterwards. The host runs the call as one batch. */
uint32_t set_password(const uint8_t *old, uint32_t old_len, const uint8_t *pw, uint32_t n) {
    if (!auth_password)
        return old_len == 0 && n == 0 ? rekey_none() : sesame_fail(SESAME_INVALID_ARGUMENT, MSG_NO_PASSWORD);
    config c;
    key_record kr;
    int found;
    int32_t m;
    uint8_t id[STORE_ID_SIZE];
    uint32_t st = check_password(n);
    if (st == SESAME_OK)
        st = load_config(&conf_buf, &c, &found);
    if (st != SESAME_OK)
        return st;
    if (!found && old_len > 0)
        return sesame_fail(SESAME_INVALID_ARGUMENT, "vault has no password yet: give an empty old password to set one");
    if (!found) {
        if ((st = load_key_record(&key_buf, &kr, &found)) != SESAME_OK)
            return st;
        st = found ? add_password(&kr, pw, n, &m, id) : set_first_password(pw, n, &m, id);
    } else if (old_len == 0) {
        return sesame_fail(SESAME_LOCKED, "the current password is required to change it");
    } else {
        memcpy(id, c.id, sizeof id);
        int64_t created = c.created;
        st = wrong(unwrap(&c, old, old_len, &m), MSG_WRONG);
        store_keys from;
        if (st == SESAME_OK)
            st = derive(m, id, &from);
        if (st == SESAME_OK && old_len == n && memcmp(old, pw, n) == 0) {
            sesame_key_release(m);
            st = rotate(&from, c.version, &m, id);
        } else if (st == SESAME_OK && c.version == 1) {
            st = build_manifest(&from); /* the new c/config says format v2 */
        }
        if (st == SESAME_OK && (st = wrap(m, id, pw, n, created)) == SESAME_OK)
            st = sesame_kv_set(KEY_CONFIG, sizeof KEY_CONFIG - 1, wrapped.data, wrapped.len);
    }
    return st != SESAME_OK ? st : unlocked(m, id);
}
