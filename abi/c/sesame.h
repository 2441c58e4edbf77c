/*
 * sesame.h — write a sesame vault in C (extension ABI version 1).
 *
 * This one header is all a C author needs besides a WebAssembly toolchain.
 * The contract it follows is abi/SPEC.md (normative); section numbers below
 * (§n) refer to it. examples/c-vault/vault.c is a complete vault built on it.
 *
 * Build a vault as a WASI *reactor* (a library the host calls into, never a
 * program with a main), with Debian's clang, lld and wasi-libc:
 *
 *     clang --target=wasm32-wasi -mexec-model=reactor -O2 -I abi/c \
 *           -Wl,--strip-all -o vault.wasm vault.c
 *
 * -mexec-model=reactor links wasi-libc's crt1-reactor.o, which exports
 * _initialize (the host runs it once per instance, §3); memory is exported
 * as "memory" by default; functions marked SESAME_EXPORT are exported under
 * their ABI names and everything else is left out.
 *
 * What a vault looks like:
 *
 *     #include "sesame.h"
 *
 *     SESAME_ABI_V1_MARKER
 *
 *     static const char manifest[] =
 *         "{\"abi\":1,\"name\":\"my-vault\",\"version\":\"1.0.0\","
 *         "\"case_sensitive\":true,\"grants\":[\"storage\"]}";
 *
 *     SESAME_EXPORT("sesame_manifest") uint32_t vault_manifest(void) {
 *         return sesame_output(manifest, sizeof manifest - 1);
 *     }
 *
 *     SESAME_EXPORT("sesame_get") uint32_t vault_get(uint32_t name_len) {
 *         ... read the name with sesame_input(0, buf, name_len),
 *         ... build a secret (sesame_put_secret) and sesame_output it,
 *         return SESAME_OK;       // or SESAME_NOT_FOUND, …
 *     }
 *
 * Rules worth repeating (§3):
 *   - Each export is one call. Arguments are read with sesame_input; the
 *     result is handed over with sesame_output, which copies it: the guest
 *     may free or reuse its buffer as soon as sesame_output returns.
 *   - A pointer never outlives the call that passed it, and the host never
 *     calls back into the guest: there is no exported allocator.
 *   - The host keeps several instances of a module and discards them at
 *     will, so nothing another instance needs may live in linear memory:
 *     persistent state belongs in host storage (sesame_kv_*). A cache that
 *     each instance may lose (a scratch buffer) is fine.
 *   - Error messages (sesame_error) and log lines reach users and logs:
 *     never put a secret value in them.
 *
 * Define SESAME_NO_LIBC before including this file to leave out the parts
 * that need wasi-libc (the growable buffer and the allocating readers);
 * everything else is self-contained.
 */
#ifndef SESAME_H
#define SESAME_H

#include <stddef.h>
#include <stdint.h>

#ifndef SESAME_NO_LIBC
#include <stdlib.h>
#include <string.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------
 * Exports (§2, §4)
 * ------------------------------------------------------------------------ */

/* SESAME_EXPORT(name) exports the function that follows under the ABI name
 * given, whatever its C name:
 *
 *     SESAME_EXPORT("sesame_remove") uint32_t vault_remove(uint32_t name_len);
 *
 * Every operation export takes the byte lengths of its arguments (u32) and
 * returns a status (u32); the table of §4 gives the names and arities:
 *
 *     sesame_manifest     () -> status                 required
 *     sesame_init         (vault_len, params_len)      optional
 *     sesame_get          (name_len)
 *     sesame_stat         (name_len)                   optional
 *     sesame_set          (name_len, value_len, meta_len)
 *     sesame_remove       (name_len)
 *     sesame_list         (pattern_len)
 *     sesame_set_metadata (name_len, meta_len)         optional
 *     sesame_unlock       (password_len)               optional
 *     sesame_lock         ()                           optional
 *     sesame_set_password (old_len, new_len)           optional
 *     sesame_test         ()                           optional
 *     sesame_unregister   (arg_len)                    optional; argument 0 is
 *                         one byte: 0 the storage stays, 1 it is deleted
 *     sesame_create       (name_len, value_len, meta_len) optional (§4.2): a
 *                         set that answers CONFLICT when the secret exists
 *     sesame_members      (action_len, arg_len)        optional (§4.3): a team
 *                         vault's member list, as JSON
 *
 * The host checks these signatures when it loads the module. */
#define SESAME_EXPORT(name) __attribute__((export_name(name), visibility("default")))

/* SESAME_ABI_V1_MARKER defines the export sesame_abi_v1, () -> (), which
 * declares that the module speaks ABI version 1. The host never calls it.
 * Write it once, at file scope. */
#define SESAME_ABI_V1_MARKER \
    SESAME_EXPORT("sesame_abi_v1") void sesame_abi_v1(void) {}

/* ------------------------------------------------------------------------
 * Status codes (§6). Host functions return them; exports return them.
 * Host functions with a signed result return -(status) on failure.
 * ------------------------------------------------------------------------ */
enum {
    SESAME_OK                = 0,
    SESAME_NOT_FOUND         = 1,  /* no secret (or key, or argument) by that name */
    SESAME_INVALID_ARGUMENT  = 2,  /* malformed input, bad pointer, refused type   */
    SESAME_PERMISSION_DENIED = 3,  /* capability not granted, access refused       */
    SESAME_LOCKED            = 4,  /* unlock first, or the password was wrong      */
    SESAME_CONFLICT          = 5,  /* conflicts with the vault's state             */
    SESAME_UNSUPPORTED       = 6,  /* the vault does not implement this            */
    SESAME_UNAVAILABLE       = 7,  /* transient backend failure; retry may work    */
    SESAME_TOO_LARGE         = 8,  /* a size limit was exceeded                    */
    SESAME_INTERNAL          = 9,  /* a bug or corruption in the extension         */
    SESAME_DEADLINE_EXCEEDED = 10  /* set by the host when a call runs out of time */
};

/* Secret types (§7.1): the first byte of an encoded value. */
enum {
    SESAME_TYPE_BYTES        = 1,
    SESAME_TYPE_STRING       = 2,
    SESAME_TYPE_SECURESTRING = 3,
    SESAME_TYPE_CREDENTIAL   = 4,
    SESAME_TYPE_HASHTABLE    = 5
};

/* Metadata value kinds (§7.3). */
enum {
    SESAME_META_STRING   = 1, /* str                                   */
    SESAME_META_INT      = 2, /* i64                                   */
    SESAME_META_DATETIME = 3, /* i64 seconds since 1970 UTC, u32 nanos */
    /* kind 3, then i16 UTC offset in minutes; sent only to a vault whose
     * manifest declares "datetime_offset":true (sesame 0.3) */
    SESAME_META_DATETIME_OFFSET = 4
};

/* The argument of the optional export sesame_batch (§5.3, "Batches"): one
 * byte, whether the host's batch of calls begins or ends. A vault that
 * exports it is called with BEGIN before a batch's first call and with END
 * after its last, before the commit, both within the batch. */
enum {
    SESAME_BATCH_BEGIN = 0,
    SESAME_BATCH_END   = 1
};

/* What a set did, the one byte it outputs when the vault's manifest
 * declares "set_reports":true (§4, sesame 0.5): a new secret, one replaced,
 * or none written because the stored secret already had that value (and
 * that metadata, when the set gives some). */
enum {
    SESAME_SET_CREATED   = 0,
    SESAME_SET_REPLACED  = 1,
    SESAME_SET_UNCHANGED = 2
};

/* Log levels for sesame_log (§5.1). */
enum {
    SESAME_LOG_DEBUG = 0,
    SESAME_LOG_INFO  = 1,
    SESAME_LOG_WARN  = 2,
    SESAME_LOG_ERROR = 3
};

/* Limits (§8). The engine enforces the name, value and metadata limits
 * before it calls the guest; the host enforces the others. */
#define SESAME_MAX_NAME          256u        /* secret name, bytes              */
#define SESAME_MAX_VALUE         (1u << 20)  /* encoded value                   */
#define SESAME_MAX_METADATA      (16u << 10) /* encoded metadata                */
#define SESAME_MAX_META_KEYS     64u
#define SESAME_MAX_CALL          (16u << 20) /* an argument, or a call's output */
#define SESAME_MAX_MESSAGE       (4u << 10)  /* sesame_error                    */
#define SESAME_MAX_MANIFEST      (16u << 10)
#define SESAME_MAX_STORAGE_KEY   (1u << 10)
#define SESAME_MAX_STORAGE_VALUE (2u << 20)
#define SESAME_STORAGE_LIST_PAGE 256u        /* keys per sesame_kv_list page    */
#define SESAME_STORAGE_SCAN_BYTES (1u << 20) /* a sesame_kv_scan page, unless one entry is longer */

/* ------------------------------------------------------------------------
 * Host functions: import module "sesame_v1" (§5)
 *
 * Every (pointer, length) pair is checked by the host before it touches
 * memory; a bad one is answered with a status, never a trap. Only the
 * functions a module calls end up imported.
 * ------------------------------------------------------------------------ */
#define SESAME_IMPORT(name) __attribute__((import_module("sesame_v1"), import_name(name)))

/* Arguments and results (§5.1) */

/* Copies argument idx of this call to dst if it fits in cap, and returns its
 * full length either way: sesame_input(i, 0, 0) asks for the length.
 * -SESAME_NOT_FOUND: no such argument; -SESAME_INVALID_ARGUMENT: dst, cap
 * outside memory. The export's own parameters already give the lengths. */
SESAME_IMPORT("input") int32_t sesame_input(uint32_t idx, void *dst, uint32_t cap);

/* Replaces this call's output with a copy of [src, src+len). */
SESAME_IMPORT("output") uint32_t sesame_output(const void *src, uint32_t len);

/* Sets the message that goes with a non-OK status (truncated to 4 KiB).
 * It reaches users: never a secret value. */
SESAME_IMPORT("error") uint32_t sesame_error(const void *msg, uint32_t len);

/* Logs one line at a SESAME_LOG_* level (8 KiB a line, 100 lines a call). */
SESAME_IMPORT("log") uint32_t sesame_log(uint32_t level, const void *msg, uint32_t len);

/* Storage, grant "storage" (§5.3): a private key-value area per vault, on
 * disk, atomic per key. Keys 1–1024 bytes, values at most 2 MiB. Without the
 * grant every function returns SESAME_PERMISSION_DENIED. */

/* Copies the value of key to dst if it fits in cap and returns its length
 * (>= 0) either way; call again with a larger buffer if it did not fit.
 * -SESAME_NOT_FOUND when there is no such key. */
SESAME_IMPORT("kv_get") int64_t sesame_kv_get(const void *key, uint32_t key_len, void *dst, uint32_t cap);

/* Creates or replaces key; durable once it returns SESAME_OK. */
SESAME_IMPORT("kv_set") uint32_t sesame_kv_set(const void *key, uint32_t key_len, const void *value, uint32_t value_len);

/* Stores key only if it is absent; SESAME_CONFLICT, and nothing written, when
   it exists. Exactly one of several processes adding one key succeeds. */
SESAME_IMPORT("kv_add") uint32_t sesame_kv_add(const void *key, uint32_t key_len, const void *value, uint32_t value_len);

/* Deletes key; SESAME_NOT_FOUND when it was absent. */
SESAME_IMPORT("kv_delete") uint32_t sesame_kv_delete(const void *key, uint32_t key_len);

/* Lists the keys that start with prefix and sort strictly after `after`
 * (after_len 0: from the start), in byte order, at most 256 a page, as a key
 * list (§7.8: u32 count, then count times u32 len, bytes). Copies it to dst
 * if it fits in cap and returns its length, like sesame_kv_get. A page with
 * count 0 ends the iteration; the last key of a page is the `after` of the
 * next. */
SESAME_IMPORT("kv_list") int64_t sesame_kv_list(const void *prefix, uint32_t prefix_len,
                                                 const void *after, uint32_t after_len,
                                                 void *dst, uint32_t cap);

/* Optional (sesame 0.4; a host without it refuses the module at load):
 * sesame_kv_list with the values, read in one storage transaction, as an
 * entry list (§7.12: u32 count, then count times u32 len, key, u32 len,
 * value). A page holds as many entries as fit in cap, at most 256 and
 * 1 MiB, and at least one: when not even the first fits, nothing is copied
 * and the result is the length that one needs, like sesame_kv_get. A page
 * with count 0 ends the iteration; the last key of a page is the `after`
 * of the next. */
SESAME_IMPORT("kv_scan") int64_t sesame_kv_scan(const void *prefix, uint32_t prefix_len,
                                                 const void *after, uint32_t after_len,
                                                 void *dst, uint32_t cap);

/* Key derivation (§5.6), no grant: Argon2id of password and salt, run by the
 * host natively. Bounds: password <= 1 KiB, salt 8–64 bytes, time 1–10,
 * memory 8 MiB–1 GiB (in KiB), threads 1–16, output 16–64 bytes. */
SESAME_IMPORT("kdf_argon2id") uint32_t sesame_kdf_argon2id(const void *password, uint32_t password_len,
                                                           const void *salt, uint32_t salt_len,
                                                           uint32_t time, uint32_t memory_kib, uint32_t threads,
                                                           void *dst, uint32_t dst_len);

/* Keyring (§5.7), no grant: one slot per vault in host memory, shared by all
 * its instances, never on disk. ttl_ms 0 keeps it until cleared. */
SESAME_IMPORT("keyring_set") uint32_t sesame_keyring_set(const void *key, uint32_t len, uint32_t ttl_ms);
/* Like sesame_kv_get; -SESAME_NOT_FOUND when empty or expired. */
SESAME_IMPORT("keyring_get") int64_t sesame_keyring_get(void *dst, uint32_t cap);
SESAME_IMPORT("keyring_clear") uint32_t sesame_keyring_clear(void);

/* Keys behind handles (§5.8), optional, no grant: the host keeps the keys
 * and the guest names them by handles (positive int32), so that no key byte
 * enters guest memory. A module that imports any of these needs a host that
 * has them (sesame 0.3 and later): an older host refuses it at load, naming
 * the import. Functions that make a key return its handle or -status; a
 * handle never given is -SESAME_INVALID_ARGUMENT, one whose key is gone
 * (the call that made it ended, the vault was locked, the keyring expired)
 * -SESAME_NOT_FOUND: report SESAME_LOCKED. A box that is not authentic
 * (wrong key or password, other additional data, a changed byte) is
 * SESAME_PERMISSION_DENIED.
 *
 * A key made in a call is wiped when the call ends unless it is kept: a
 * kept key lives as long as the keyring's content. The usual unlock:
 *
 *     int32_t pk = sesame_key_argon2id(pw, pw_len, salt, 16, 3, 64 << 10, 4, 32);
 *     int32_t master = sesame_key_unwrap(pk, box, box_len, ad, ad_len);
 *     int32_t rec = sesame_key_hkdf(master, id, 16, "record key", 10, 32);
 *     sesame_key_keep(rec);
 *     sesame_keyring_set(&rec, sizeof rec, timeout_ms);
 *
 * and each later call reads rec back with sesame_keyring_get. */
#define SESAME_KEY_MIN      16u  /* bytes of a key                           */
#define SESAME_KEY_MAX      64u
#define SESAME_KEY_AEAD     32u  /* the key of seal, open, wrap, unwrap       */
#define SESAME_KEY_OVERHEAD 40u  /* a box: 24-byte nonce ‖ cipher text ‖ 16-byte tag */
#define SESAME_KEY_HMAC     32u  /* bytes written by sesame_key_hmac          */
#define SESAME_KEY_HANDLES  64u  /* keys a vault holds at once                */

/* A random key of len bytes (16–64). */
SESAME_IMPORT("key_generate") int32_t sesame_key_generate(uint32_t len);
/* A key the guest holds in clear (16–64 bytes): it has been in guest
 * memory, so use this only for keys already in clear (a store without a
 * password). */
SESAME_IMPORT("key_import") int32_t sesame_key_import(const void *key, uint32_t len);
/* sesame_kdf_argon2id with the key kept by the host; same bounds. */
SESAME_IMPORT("key_argon2id") int32_t sesame_key_argon2id(const void *password, uint32_t password_len,
                                                          const void *salt, uint32_t salt_len,
                                                          uint32_t time, uint32_t memory_kib, uint32_t threads,
                                                          uint32_t len);
/* HKDF-SHA256 subkey of len bytes (16–64); salt and info at most 1 KiB. */
SESAME_IMPORT("key_hkdf") int32_t sesame_key_hkdf(int32_t key, const void *salt, uint32_t salt_len,
                                                  const void *info, uint32_t info_len, uint32_t len);
/* Seals key under kek (len(key) + 40 bytes); copies to dst if it fits in
 * cap and returns the length, like sesame_kv_get. */
SESAME_IMPORT("key_wrap") int64_t sesame_key_wrap(int32_t kek, int32_t key, const void *ad, uint32_t ad_len,
                                                  void *dst, uint32_t cap);
/* Opens a box of sesame_key_wrap and makes the key it holds. */
SESAME_IMPORT("key_unwrap") int32_t sesame_key_unwrap(int32_t kek, const void *box, uint32_t box_len,
                                                      const void *ad, uint32_t ad_len);
/* XChaCha20-Poly1305 with a random nonce: the box (len + 40 bytes) goes to
 * dst if it fits in cap; returns its length. */
SESAME_IMPORT("key_seal") int64_t sesame_key_seal(int32_t key, const void *src, uint32_t len,
                                                  const void *ad, uint32_t ad_len, void *dst, uint32_t cap);
/* Checks and decrypts a box into dst (len - 40 bytes) if it fits in cap;
 * returns that length. */
SESAME_IMPORT("key_open") int64_t sesame_key_open(int32_t key, const void *box, uint32_t len,
                                                  const void *ad, uint32_t ad_len, void *dst, uint32_t cap);
/* HMAC-SHA256 of [src, src+len) under key into the 32 bytes at dst. */
SESAME_IMPORT("key_hmac") uint32_t sesame_key_hmac(int32_t key, const void *src, uint32_t len, void *dst);
/* Makes key outlive the call: it joins the keyring. */
SESAME_IMPORT("key_keep") uint32_t sesame_key_keep(int32_t key);
/* Wipes key now. */
SESAME_IMPORT("key_release") uint32_t sesame_key_release(int32_t key);

/* HTTP (§5.9), optional, grant "http": one request through the host. req is
 * the request's encoding (§7.10: str method, str url, headers as a params
 * map with lower-case names, then the body to the end); the response's
 * encoding (§7.11: u32 status, headers, body to the end) is copied to dst
 * if it fits in cap, and its length returned, like sesame_kv_get. The host
 * keeps the response until the call ends or the next request, so a guest
 * whose buffer was too small takes it with sesame_http_response instead of
 * sending the request again. Errors are -status: SESAME_PERMISSION_DENIED
 * (not granted, an origin the grant does not list), SESAME_INVALID_ARGUMENT
 * (a header with CR or LF, a header the host sets, a method it does not
 * send), SESAME_TOO_LARGE, SESAME_DEADLINE_EXCEEDED, SESAME_UNAVAILABLE.
 * A 404 or a redirect is a response, never followed. A module that imports
 * these needs a host that has them (sesame 0.4 and later). */
SESAME_IMPORT("http_request") int64_t sesame_http_request(const void *req, uint32_t req_len, void *dst, uint32_t cap);
/* Copies the kept response like sesame_kv_get; -SESAME_NOT_FOUND when none. */
SESAME_IMPORT("http_response") int64_t sesame_http_response(void *dst, uint32_t cap);
/* The origins the http grant lists, in its order, as a key list (§7.8),
 * copied like sesame_kv_get; -SESAME_PERMISSION_DENIED without the grant. */
SESAME_IMPORT("http_origins") int64_t sesame_http_origins(void *dst, uint32_t cap);

/* ------------------------------------------------------------------------
 * The user's age identity (SPEC.md §5.10; grant identity; optional)
 * ------------------------------------------------------------------------
 * The host holds the user's age identity: it wraps a key behind a handle
 * to age recipients and unwraps an age file into a new key, so that
 * neither the identity nor the key is in guest memory. Without the grant
 * each returns -SESAME_PERMISSION_DENIED. A module that imports them needs
 * a host that has them. */
#define SESAME_AGE_RECIPIENT_LEN 62u        /* "age1" and 58 bech32 characters  */
#define SESAME_AGE_MAX_RECIPIENTS 256u      /* recipients of one sesame_age_wrap */
#define SESAME_AGE_MAX_LIST (64u << 10)     /* bytes of its recipient list        */
#define SESAME_AGE_MAX_FILE (64u << 10)     /* bytes of a file to unwrap          */

/* The user's recipient (age1…) into dst if it fits in cap; returns its
 * length, like sesame_kv_get. */
SESAME_IMPORT("age_recipient") int64_t sesame_age_recipient(void *dst, uint32_t cap);
/* Encrypts key to the recipients (1–256 distinct age1… separated by '\n',
 * no trailing newline; else -SESAME_INVALID_ARGUMENT) and copies the binary
 * age file to dst if it fits in cap; returns its length. Each call makes a
 * new file of the same length. */
SESAME_IMPORT("age_wrap") int64_t sesame_age_wrap(int32_t key, const char *recipients, uint32_t recipients_len,
                                                  void *dst, uint32_t cap);
/* Opens an age file with the user's identity and makes a key of its
 * content (16–64 bytes, else -SESAME_INVALID_ARGUMENT). A file the
 * identity cannot open (for others, changed, cut) is
 * -SESAME_PERMISSION_DENIED. */
SESAME_IMPORT("age_unwrap") int32_t sesame_age_unwrap(const void *file, uint32_t len);

/* Format primitives on keys behind handles (§5.11), optional like the keys:
 * what a vault needs for a file format whose derived keys should stay in the
 * host (KeePass's KDBX). A 32-byte key for the KDFs and ciphers. */
#define SESAME_KEY_ARGON2D     0u
#define SESAME_KEY_ARGON2ID    2u
#define SESAME_KEY_MAX_CIPHER  (16u << 20) /* bytes per cipher call */

/* SHA-256 (len 32) or SHA-512 (len 64) of prefix ‖ key ‖ suffix, as a key;
 * prefix and suffix at most 1 KiB. */
SESAME_IMPORT("key_hash") int32_t sesame_key_hash(int32_t key, const void *prefix, uint32_t prefix_len,
                                                  const void *suffix, uint32_t suffix_len, uint32_t len);
/* KeePass's AES-KDF: rounds of AES-256-ECB under the 32-byte seed, then
 * SHA-256: a 32-byte key. The call's deadline holds. */
SESAME_IMPORT("key_aes_kdf") int32_t sesame_key_aes_kdf(int32_t key, const void *seed, uint32_t seed_len,
                                                        uint64_t rounds);
/* Argon2d or Argon2id (variant 0 or 2), version 0x13 or 0x10, salt 8–64
 * bytes, 1–1000 passes, 1–256 lanes, a key of len bytes (16–64). */
SESAME_IMPORT("key_argon2") int32_t sesame_key_argon2(int32_t key, uint32_t variant, uint32_t version,
                                                      const void *salt, uint32_t salt_len, uint32_t time,
                                                      uint32_t memory_kib, uint32_t lanes, uint32_t len);
/* AES-256-CBC without padding (encrypt 1, decrypt 0) of len bytes (whole
 * blocks) from src to dst (the same, or apart), with the 16-byte iv. */
SESAME_IMPORT("key_aes_cbc") uint32_t sesame_key_aes_cbc(int32_t key, uint32_t encrypt, const void *iv,
                                                         const void *src, uint32_t len, void *dst);
/* ChaCha20 (RFC 8439) with the 12-byte nonce from block counter. */
SESAME_IMPORT("key_chacha20") uint32_t sesame_key_chacha20(int32_t key, const void *nonce, uint32_t counter,
                                                           const void *src, uint32_t len, void *dst);

/* ------------------------------------------------------------------------
 * Replacing a file of the granted folder if unchanged (§5.4; grant
 * directory, not read-only; optional)
 * ------------------------------------------------------------------------
 * Puts the file `from` in the place of `to` (both relative to the folder:
 * "Passwords.kdbx", not "/data/Passwords.kdbx"; at most
 * SESAME_DIR_MAX_NAME bytes) only if `to` holds the bytes whose SHA-256 is
 * the 32 bytes at digest, and removes what it held; atomic, so another
 * program's save of `to` is never lost. Returns SESAME_OK,
 * SESAME_CONFLICT (`to` holds other bytes: nothing changed; `from` is
 * removed unless another save landed during the call, which is then left
 * under the name `from`), SESAME_UNSUPPORTED (no atomic exchange on this
 * system: nothing changed, compare and rename yourself), SESAME_NOT_FOUND,
 * SESAME_PERMISSION_DENIED (no grant, read-only, a link or not a regular
 * file, a path that leads out) or SESAME_INVALID_ARGUMENT. A module that
 * imports it needs a host that has it. */
#define SESAME_DIR_MAX_NAME (4u << 10)
SESAME_IMPORT("dir_replace") uint32_t sesame_dir_replace(const char *from, uint32_t from_len, const char *to,
                                                         uint32_t to_len, const void *digest);

/* Time, randomness and sleep come from WASI (§5.2): clock_gettime,
 * getentropy/arc4random and nanosleep of wasi-libc work as usual. Random
 * bytes that are not keys (a salt, a store id) come from there too. */

/* ------------------------------------------------------------------------
 * Small helpers
 * ------------------------------------------------------------------------ */

/* sesame_fail sets msg (a C string, never a secret value) as the error
 * message and returns status, for `return sesame_fail(SESAME_INTERNAL,
 * "corrupt record");`. */
static inline uint32_t sesame_fail(uint32_t status, const char *msg) {
    uint32_t n = 0;
    while (msg[n] != 0)
        n++;
    sesame_error(msg, n);
    return status;
}

/* sesame_status turns the result of a signed host function (sesame_input,
 * sesame_kv_get, sesame_kv_list, sesame_keyring_get, sesame_key_*,
 * sesame_http_*) into a
 * status: SESAME_OK for a length or a handle, the status for a negative
 * result. */
static inline uint32_t sesame_status(int64_t result) {
    return result >= 0 ? SESAME_OK : (uint32_t)(-result);
}

/* ------------------------------------------------------------------------
 * Encodings (§7). All integers are little-endian; `str` is a u32 length
 * followed by that many bytes of UTF-8.
 *
 *   value    (§7.4)  u8 type, then the payload (bytes / string: the rest;
 *                    credential: str user, rest is the password; hashtable:
 *                    u32 count, count × (str key, u32 len, value))
 *   metadata (§7.3)  u32 count, count × (str key, u8 kind, payload), keys
 *                    sorted; four zero bytes is "no metadata"
 *   info     (§7.5)  str name, u8 type, metadata
 *   info list(§7.6)  u32 count, count × info
 *   secret   (§7.7)  info, then the value up to the end of the buffer
 *
 * The host validates everything it hands over and everything it receives,
 * so a vault that stores the encodings it is given and hands them back
 * unchanged never has to understand a value: examples/c-vault does that.
 * ------------------------------------------------------------------------ */

static inline uint32_t sesame_get_u32(const void *p) {
    const uint8_t *b = (const uint8_t *)p;
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static inline void sesame_put_u32(void *p, uint32_t v) {
    uint8_t *b = (uint8_t *)p;
    b[0] = (uint8_t)v;
    b[1] = (uint8_t)(v >> 8);
    b[2] = (uint8_t)(v >> 16);
    b[3] = (uint8_t)(v >> 24);
}

static inline int64_t sesame_get_i64(const void *p) {
    const uint8_t *b = (const uint8_t *)p;
    return (int64_t)((uint64_t)sesame_get_u32(b) | (uint64_t)sesame_get_u32(b + 4) << 32);
}

static inline void sesame_put_i64(void *p, int64_t v) {
    sesame_put_u32(p, (uint32_t)(uint64_t)v);
    sesame_put_u32((uint8_t *)p + 4, (uint32_t)((uint64_t)v >> 32));
}

/* sesame_put_str writes a str (u32 len, bytes) and returns its size. */
static inline uint32_t sesame_put_str(void *dst, const void *s, uint32_t len) {
    sesame_put_u32(dst, len);
    __builtin_memcpy((uint8_t *)dst + 4, s, len);
    return 4 + len;
}

/* sesame_value_type returns the type of an encoded value (its first byte),
 * or 0 when the buffer is empty or the byte is not a type. */
static inline uint8_t sesame_value_type(const void *value, uint32_t len) {
    if (len == 0)
        return 0;
    uint8_t t = *(const uint8_t *)value;
    return t >= SESAME_TYPE_BYTES && t <= SESAME_TYPE_HASHTABLE ? t : 0;
}

/* sesame_metadata_size returns how many bytes the metadata encoding at p
 * occupies (at least 4), looking at no more than len bytes; 0 when it is
 * truncated or has an unknown kind. It checks the structure only, not the
 * UTF-8 or the order of the keys. */
static inline uint32_t sesame_metadata_size(const void *p, uint32_t len) {
    const uint8_t *b = (const uint8_t *)p;
    if (len < 4)
        return 0;
    uint32_t count = sesame_get_u32(b), off = 4;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t n;
        if (len - off < 4 || (n = sesame_get_u32(b + off)) > len - off - 4)
            return 0; /* key */
        off += 4 + n;
        if (len - off < 1)
            return 0;
        uint8_t kind = b[off++];
        if (kind == SESAME_META_STRING) {
            if (len - off < 4 || (n = sesame_get_u32(b + off)) > len - off - 4)
                return 0;
            n += 4;
        } else if (kind == SESAME_META_INT) {
            n = 8;
        } else if (kind == SESAME_META_DATETIME) {
            n = 12;
        } else if (kind == SESAME_META_DATETIME_OFFSET) {
            n = 14;
        } else {
            return 0;
        }
        if (len - off < n)
            return 0;
        off += n;
    }
    return off;
}

/* sesame_info_size returns how many bytes the info record at p occupies
 * (str name, u8 type, metadata), looking at no more than len bytes; 0 when
 * it is malformed. In a secret, the value starts right after it. */
static inline uint32_t sesame_info_size(const void *p, uint32_t len) {
    const uint8_t *b = (const uint8_t *)p;
    if (len < 4)
        return 0;
    uint32_t n = sesame_get_u32(b);
    if (n > len - 4 || len - 4 - n < 1)
        return 0;
    uint32_t head = 4 + n + 1;
    uint32_t md = sesame_metadata_size(b + head, len - head);
    return md == 0 ? 0 : head + md;
}

/* sesame_info_len returns the size of an info record with a name of
 * name_len bytes and a metadata encoding of meta_len bytes (0: none). */
static inline uint32_t sesame_info_len(uint32_t name_len, uint32_t meta_len) {
    return 4 + name_len + 1 + (meta_len ? meta_len : 4);
}

/* sesame_put_info writes an info record to dst, which must hold
 * sesame_info_len(name_len, meta_len) bytes, and returns its size. meta is
 * an encoded metadata map (§7.3) or NULL / meta_len 0 for none. */
static inline uint32_t sesame_put_info(void *dst, const void *name, uint32_t name_len, uint8_t type,
                                       const void *meta, uint32_t meta_len) {
    uint8_t *b = (uint8_t *)dst;
    uint32_t off = sesame_put_str(b, name, name_len);
    b[off++] = type;
    if (meta_len) {
        __builtin_memcpy(b + off, meta, meta_len);
        off += meta_len;
    } else {
        sesame_put_u32(b + off, 0);
        off += 4;
    }
    return off;
}

/* sesame_secret_len is the size of a secret: an info record and a value of
 * value_len bytes. */
static inline uint32_t sesame_secret_len(uint32_t name_len, uint32_t meta_len, uint32_t value_len) {
    return sesame_info_len(name_len, meta_len) + value_len;
}

/* sesame_put_secret writes a secret (§7.7) to dst, which must hold
 * sesame_secret_len(...) bytes: the info record (its type taken from the
 * value's first byte) followed by the encoded value. Returns its size. */
static inline uint32_t sesame_put_secret(void *dst, const void *name, uint32_t name_len,
                                         const void *meta, uint32_t meta_len,
                                         const void *value, uint32_t value_len) {
    uint8_t *b = (uint8_t *)dst;
    uint32_t off = sesame_put_info(b, name, name_len, sesame_value_type(value, value_len), meta, meta_len);
    __builtin_memcpy(b + off, value, value_len);
    return off + value_len;
}

/* An info list (§7.6) is a u32 count followed by the records: reserve four
 * bytes, append records with sesame_put_info (or copy them out of stored
 * secrets: the first sesame_info_size bytes), then write the count at the
 * start with sesame_put_u32. */

/* ------------------------------------------------------------------------
 * Names and patterns
 * ------------------------------------------------------------------------ */

/* sesame_utf8_len returns the length of the UTF-8 sequence that starts with
 * byte c (1 for a stray continuation byte, as a decoder would skip it). */
static inline uint32_t sesame_utf8_len(uint8_t c) {
    return c < 0xC0 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

/* sesame_match reports whether name matches pattern, case-sensitively, with
 * the rules of §4: '*' matches any run of characters, '?' exactly one
 * character (a whole UTF-8 sequence), no other metacharacters, no escapes.
 * It is the host's own algorithm (one backtrack point, never exponential).
 * A case-insensitive vault needs Unicode case folding on top; it may also
 * skip filtering altogether, since the host filters the list again. */
static inline int sesame_match(const void *pattern, uint32_t plen, const void *name, uint32_t nlen) {
    const uint8_t *p = (const uint8_t *)pattern, *n = (const uint8_t *)name;
    uint32_t pi = 0, ni = 0, star = UINT32_MAX, mark = 0;
    while (ni < nlen) {
        if (pi < plen) {
            uint8_t c = p[pi];
            uint32_t ns = sesame_utf8_len(n[ni]);
            if (ns > nlen - ni)
                ns = nlen - ni;
            if (c == '*') {
                star = ++pi;
                mark = ni;
                continue;
            }
            if (c == '?') {
                pi++;
                ni += ns;
                continue;
            }
            uint32_t ps = sesame_utf8_len(c);
            if (ps == ns && ps <= plen - pi && __builtin_memcmp(p + pi, n + ni, ps) == 0) {
                pi += ps;
                ni += ns;
                continue;
            }
        }
        if (star == UINT32_MAX)
            return 0;
        uint32_t ms = sesame_utf8_len(n[mark]);
        mark += ms < nlen - mark ? ms : nlen - mark;
        pi = star;
        ni = mark;
    }
    while (pi < plen && p[pi] == '*')
        pi++;
    return pi == plen;
}

/* sesame_literal_prefix returns the length of the part of pattern before its
 * first '*' or '?': every name the pattern matches starts with it, which
 * makes it a good storage prefix for sesame_kv_list. */
static inline uint32_t sesame_literal_prefix(const void *pattern, uint32_t plen) {
    const uint8_t *p = (const uint8_t *)pattern;
    uint32_t i = 0;
    while (i < plen && p[i] != '*' && p[i] != '?')
        i++;
    return i;
}

#ifndef SESAME_NO_LIBC
/* ------------------------------------------------------------------------
 * Buffers (wasi-libc's malloc)
 * ------------------------------------------------------------------------ */

/* A growable byte buffer. Zero-initialise it ({0}); sesame_buf_free
 * releases it. A vault may keep one in a static variable as a scratch
 * buffer that survives between calls of the same instance. */
typedef struct {
    uint8_t *data;
    uint32_t len, cap;
} sesame_buf;

/* sesame_buf_reserve makes room for n more bytes; 0 when out of memory. */
static inline int sesame_buf_reserve(sesame_buf *b, uint32_t n) {
    if (n <= b->cap - b->len)
        return 1;
    uint64_t want = (uint64_t)b->len + n, cap = b->cap ? b->cap : 256;
    while (cap < want)
        cap *= 2;
    if (cap > UINT32_MAX)
        return 0;
    uint8_t *d = (uint8_t *)realloc(b->data, (size_t)cap);
    if (d == NULL)
        return 0;
    b->data = d;
    b->cap = (uint32_t)cap;
    return 1;
}

/* sesame_buf_append appends n bytes; 0 when out of memory. */
static inline int sesame_buf_append(sesame_buf *b, const void *p, uint32_t n) {
    if (!sesame_buf_reserve(b, n))
        return 0;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 1;
}

static inline void sesame_buf_free(sesame_buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* sesame_read_input reads argument idx, of the length len that the export
 * received, into b (replacing its contents). Returns a status. */
static inline uint32_t sesame_read_input(sesame_buf *b, uint32_t idx, uint32_t len) {
    b->len = 0;
    if (!sesame_buf_reserve(b, len ? len : 1))
        return SESAME_TOO_LARGE;
    int32_t n = sesame_input(idx, b->data, len);
    if (n < 0)
        return (uint32_t)-n;
    if ((uint32_t)n != len)
        return SESAME_INVALID_ARGUMENT;
    b->len = len;
    return SESAME_OK;
}

/* sesame_kv_read reads the value of key into b (replacing its contents),
 * growing b when the value does not fit. Returns a status: SESAME_NOT_FOUND
 * when there is no such key. Keep b between calls and most reads take a
 * single host call. */
static inline uint32_t sesame_kv_read(sesame_buf *b, const void *key, uint32_t key_len) {
    b->len = 0;
    for (;;) {
        int64_t n = sesame_kv_get(key, key_len, b->data, b->cap);
        if (n < 0)
            return (uint32_t)-n;
        if ((uint64_t)n <= b->cap) {
            b->len = (uint32_t)n;
            return SESAME_OK;
        }
        if (n > UINT32_MAX || !sesame_buf_reserve(b, (uint32_t)n))
            return SESAME_TOO_LARGE;
    }
}

/* sesame_kv_list_page reads one page of sesame_kv_list into b, like
 * sesame_kv_read. */
static inline uint32_t sesame_kv_list_page(sesame_buf *b, const void *prefix, uint32_t prefix_len,
                                           const void *after, uint32_t after_len) {
    b->len = 0;
    for (;;) {
        int64_t n = sesame_kv_list(prefix, prefix_len, after, after_len, b->data, b->cap);
        if (n < 0)
            return (uint32_t)-n;
        if ((uint64_t)n <= b->cap) {
            b->len = (uint32_t)n;
            return SESAME_OK;
        }
        if (n > UINT32_MAX || !sesame_buf_reserve(b, (uint32_t)n))
            return SESAME_TOO_LARGE;
    }
}

/* sesame_kv_scan_page reads one page of sesame_kv_scan into b, like
 * sesame_kv_read. It first grows b to SESAME_SCAN_BUFFER bytes, which holds
 * a full page of small records: the host fills pages to the buffer given,
 * so a small one would mean a host call per entry. */
#ifndef SESAME_SCAN_BUFFER
#define SESAME_SCAN_BUFFER (256u << 10)
#endif
static inline uint32_t sesame_kv_scan_page(sesame_buf *b, const void *prefix, uint32_t prefix_len,
                                           const void *after, uint32_t after_len) {
    b->len = 0;
    if (!sesame_buf_reserve(b, SESAME_SCAN_BUFFER))
        return SESAME_TOO_LARGE;
    for (;;) {
        int64_t n = sesame_kv_scan(prefix, prefix_len, after, after_len, b->data, b->cap);
        if (n < 0)
            return (uint32_t)-n;
        if ((uint64_t)n <= b->cap) {
            b->len = (uint32_t)n;
            return SESAME_OK;
        }
        if (n > UINT32_MAX || !sesame_buf_reserve(b, (uint32_t)n))
            return SESAME_TOO_LARGE;
    }
}

/* sesame_entry_next reads the entry of an entry list (§7.12) at *p, of
 * *left bytes, points key and value into it, and moves *p and *left past
 * it. Returns 1, or 0 when the entry runs past the end. */
static inline int sesame_entry_next(const uint8_t **p, uint32_t *left, const uint8_t **key, uint32_t *key_len,
                                    const uint8_t **value, uint32_t *value_len) {
    uint32_t kn, vn;
    if (*left < 4 || (kn = sesame_get_u32(*p)) > *left - 4 || *left - 4 - kn < 4 ||
        (vn = sesame_get_u32(*p + 4 + kn)) > *left - 8 - kn)
        return 0;
    *key = *p + 4;
    *key_len = kn;
    *value = *p + 8 + kn;
    *value_len = vn;
    *p += 8 + kn + vn;
    *left -= 8 + kn + vn;
    return 1;
}
#endif /* SESAME_NO_LIBC */

#ifdef __cplusplus
}
#endif

#endif /* SESAME_H */
