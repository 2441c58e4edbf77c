/*
 * secretstore.h — what the files of the secretstore vault share.
 *
 *   format.c  the on-disk format (internal/secretstore/format is its
 *             spec): c/config, c/key, the records and their storage keys
 *   manifest.c format v2's manifest: m/root and the buckets (a leaf's
 *             index b/XX and infos b/XX/i, or a directory b/XX of
 *             leaves b/XXYY), which make a deleted or restored record
 *             an error
 *   batch.c   a batch's writes: pending entries p/HEX, applied to the
 *             manifest once, at the batch's end
 *   fold.c    abi.Fold in C: the case folding of names (foldtable.h)
 *   secret.c  the secret encoding of a record, checked as abi.DecodeSecret
 *   keys.c    where the keys come from: c/key, the password, the keyring;
 *             unlock, lock, set password
 *   rekey.c   moving every record to a new master key (rekey, a first
 *             password for a store created without one)
 *   scan.c    walking the records under a prefix, a page of kv_scan at a
 *             time
 *   text.c    messages: ../clib/text.c, shared with the other C extensions
 *   vault.c   the sesame exports
 *
 * No key of a password store enters guest memory: the host derives, wraps,
 * unwraps, seals, opens and hashes with keys the vault names by handles
 * (SPEC.md §5.8). A store without a password keeps its master key in clear
 * in c/key, which the vault reads and gives to the host (key_import).
 *
 * Every function that can fail returns a status, with its message already
 * set (sesame_error) when the status goes out to the user.
 */
#ifndef SECRETSTORE_H
#define SECRETSTORE_H

#include "../clib/text.h"

/* Sizes and constants of the format (format.go). VERSION is the records'
 * layout, unchanged since v1; STORE_VERSION that of c/config, c/key and
 * the manifest: 2 (format v2), and 1 in a store of an earlier release,
 * which the vault upgrades once it has the keys. */
#define VERSION 1
#define STORE_VERSION 2
#define HASH_SIZE 32                              /* a name hash, the HEX of s/HEX */
#define DIGEST_SIZE 16                            /* a bucket's digest in the root */
#define BUCKETS 256
#define DIR_VERSION 3                             /* b/XX when its bucket is split in leaves */
#define MAX_DEPTH 8                               /* a bucket splits in at most 2^8 leaves */
#define LEAF_MAX 32                               /* a leaf with more entries splits its bucket */
#define DIR_HEAD 2                                /* a directory's version and depth */
#define ENTRY_HEAD (HASH_SIZE + TAG_SIZE + 4)     /* hash, record tag, info length */
#define INDEX_HEAD 5                              /* an index's version and count */
#define INDEX_ENTRY (HASH_SIZE + TAG_SIZE)        /* an index's entry: hash, record tag */
#define ROOT_BODY (1 + 8 + BUCKETS * DIGEST_SIZE) /* version, epoch, digests */
#define ROOT_LEN (ROOT_BODY + 32)                 /* and the MAC */
#define MASTER_KEY_SIZE 32
#define STORE_ID_SIZE 16
#define SALT_SIZE 16
#define NONCE_SIZE 24
#define TAG_SIZE 16
#define BOX_OVERHEAD (NONCE_SIZE + TAG_SIZE)
#define RECORD_HEADER 2                       /* version, type; the box follows */
#define RECORD_KEY_LEN (2 + 64)               /* "s/" and 64 hex digits */
#define KEY_RECORD_LEN (10 + STORE_ID_SIZE + MASTER_KEY_SIZE)
#define AUTH_NONE 0
#define AUTH_PASSWORD 1
#define KDF_ARGON2ID 1
#define MAX_PASSWORD 1024

#define KEY_CONFIG "c/config"
#define KEY_MASTER "c/key"
#define KEY_ROOT "m/root"
#define PREFIX_BUCKET "b/"
#define PREFIX_SECRET "s/"
#define PREFIX_PROBE "t/probe/"
#define PREFIX_STAGED "r/" /* a rekey's new records, within its transaction */

/* STATUS_EMPTY is the internal answer of a read of a store that does not
 * exist yet: no secret (NOT_FOUND), an empty list. It never goes out. */
#define STATUS_EMPTY 0x100

/* A parsed c/config (format.Config): the fields point into the record. */
typedef struct {
    const uint8_t *raw;   /* the record                                   */
    uint8_t version;      /* STORE_VERSION, or 1                          */
    uint32_t header_len;  /* bytes before the nonce: the wrap's AD tail   */
    int64_t created;      /* Unix milliseconds                            */
    uint32_t time, memory_kib, threads;
    const uint8_t *salt;
    uint32_t salt_len;
    const uint8_t *id;    /* STORE_ID_SIZE bytes                          */
    const uint8_t *box;   /* nonce, wrapped master key, tag               */
} config;

/* A parsed c/key (format.ParseKeyRecord): the fields point into the record. */
typedef struct {
    uint8_t version; /* STORE_VERSION, or 1 */
    int64_t created;
    const uint8_t *id;
    const uint8_t *key; /* MASTER_KEY_SIZE bytes, in clear */
} key_record;

/* What names a store's manifest key from call to call, so that what
 * manifest.c checked under it is kept between calls (key_mark_same): the
 * handle of a key that lives across calls (a password store's, kept while
 * it is unlocked; the host never gives a handle twice, SPEC.md §5.8), or,
 * for a store without a password, whose keys are derived anew in new
 * handles at every call, handle 0 and the key's fingerprint (keys.c). All
 * zero: nothing names it, and nothing is kept. */
typedef struct {
    int32_t handle;
    uint8_t fingerprint[DIGEST_SIZE];
} key_mark;

/* A store's subkeys, as host handles, and its id. */
typedef struct {
    uint8_t id[STORE_ID_SIZE];
    int32_t record; /* XChaCha20-Poly1305 of the records */
    int32_t name;   /* HMAC-SHA256 of the folded names   */
    int32_t manifest; /* HMAC-SHA256 of the manifest's root */
    key_mark mark;    /* of the manifest key */
} store_keys;

/* The manifest's root, a bucket's directory, and an opened leaf
 * (manifest.c). */
typedef struct {
    uint64_t epoch;
    uint8_t digest[BUCKETS][DIGEST_SIZE];
} root;

typedef struct {
    uint32_t idx;   /* which bucket                                       */
    uint32_t depth; /* 0: b/XX is its one leaf; else 2^depth leaves below */
    uint8_t digest[1 << MAX_DEPTH][DIGEST_SIZE]; /* of each leaf (depth > 0) */
} dir;

typedef struct {
    uint32_t idx, depth, j, n; /* which leaf of which bucket; how many entries */
    sesame_buf plain;          /* u32 n, then the entries (manifest.c)      */
} bucket;

/* format.c: parsing (1 when the layout is right), the AD of a wrap and a
 * record, the storage key of a name, sealing and opening records. */
int parse_config(const uint8_t *b, uint32_t n, config *c);
int parse_key_record(const uint8_t *b, uint32_t n, key_record *k);
uint32_t put_key_record(uint8_t *dst, int64_t created, const uint8_t *id, const uint8_t *key);
uint32_t put_config_header(uint8_t *dst, int64_t created, const uint8_t *salt, const uint8_t *id);
int key_hash(const uint8_t *key, uint32_t key_len, uint8_t *hash);
uint32_t wrap_ad(uint8_t *dst, const uint8_t *header, uint32_t header_len);
int record_header_ok(const uint8_t *rec, uint32_t n);
uint32_t record_ad(uint8_t *dst, const uint8_t *key, uint32_t key_len, uint8_t type);
uint32_t record_key(const store_keys *k, const uint8_t *name, uint32_t n, uint8_t *dst);
/* Outcomes of open_record besides SESAME_OK and host statuses. */
#define OPEN_CORRUPT 0x101 /* format.ErrCorrupt */
#define OPEN_AUTH 0x102    /* format.ErrAuth    */
uint32_t open_record(const store_keys *k, const uint8_t *key, uint32_t key_len, const uint8_t *rec,
                     uint32_t n, const uint8_t *name, uint32_t name_len, sesame_buf *plain, uint32_t *info_len);
uint32_t seal_record(const store_keys *k, const uint8_t *key, uint32_t key_len, const uint8_t *plain,
                     uint32_t n, sesame_buf *rec);

/* secret.c */
uint32_t check_secret(const uint8_t *p, uint32_t n, uint8_t type);
int check_info(const uint8_t *p, uint32_t n);

/* manifest.c */
int digest_zero(const uint8_t *d);
uint32_t tampered_store(const char *what);
uint32_t root_load(const store_keys *k, root *r);
uint32_t root_read(const store_keys *k, const root **r);
uint32_t root_store(const store_keys *k, root *r);
uint32_t dir_load(const store_keys *k, const root *r, uint32_t idx, dir *d);
uint32_t leaf_of(const uint8_t *hash, uint32_t depth);
uint32_t bucket_load(const store_keys *k, const root *r, const dir *d, uint32_t j, bucket *b);
uint32_t bucket_write(const store_keys *k, root *r, dir *d, bucket *b);
uint32_t bucket_find(const bucket *b, const uint8_t *hash, int *found);
uint32_t index_find(const store_keys *k, const root *r, const uint8_t *hash, const uint8_t **entry);
uint32_t bucket_put(bucket *b, const uint8_t *hash, const uint8_t *tag, const uint8_t *info, uint32_t info_len);
uint32_t entry_len(const uint8_t *e);
uint32_t build_manifest(const store_keys *k);
uint32_t writer_start(const store_keys *k);
uint32_t writer_put(const store_keys *k, const uint8_t *hash, const uint8_t *tag, const uint8_t *info,
                    uint32_t info_len);
uint32_t writer_finish(const store_keys *k);
typedef uint32_t (*info_fn)(void *arg, const uint8_t *info, uint32_t len);
uint32_t walk_store(const store_keys *k, info_fn fn, void *arg);

/* batch.c */
uint32_t batching(int *on);
uint32_t pending_put(const store_keys *k, const uint8_t *key, const uint8_t *tag, const uint8_t *info,
                     uint32_t info_len);
uint32_t pending_of(const store_keys *k, const uint8_t *key, int *kind, uint8_t *tag);

/* fold.c */
int fold(const uint8_t *s, uint32_t n, sesame_buf *out);
int same_fold(const uint8_t *a, uint32_t an, const uint8_t *b, uint32_t bn);

/* scan.c */
typedef uint32_t (*entry_fn)(void *arg, const uint8_t *key, uint32_t key_len, const uint8_t *value,
                             uint32_t value_len);
uint32_t each_entry(const char *prefix, uint32_t prefix_len, entry_fn fn, void *arg);

/* rekey.c */
uint32_t has_records(int *any);
uint32_t reseal_all(const store_keys *from, const store_keys *to, uint32_t *count);

/* keys.c */
extern int auth_password; /* set by init */
extern uint32_t ttl_ms;   /* of the keyring; 0: never expires */
uint32_t get_keys(int create, store_keys *k);
uint32_t locked(uint32_t st);
uint32_t host_status(int64_t result);
uint32_t kv_read(sesame_buf *b, const char *key);
uint32_t corrupt(const char *key);
uint32_t load_config(sesame_buf *b, config *c, int *found);
uint32_t load_key_record(sesame_buf *b, key_record *k, int *found);
uint32_t unlock(const uint8_t *pw, uint32_t n);
uint32_t lock(void);
uint32_t set_password(const uint8_t *old, uint32_t old_len, const uint8_t *pw, uint32_t n);

#endif
