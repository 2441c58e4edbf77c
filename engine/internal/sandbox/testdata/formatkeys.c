/* formatkeys.c: a vault in C whose get runs the format primitives of
 * sesame.h (SPEC.md §5.9) the way a KDBX reader does, on a key it imports,
 * checks their refusals, and outputs the cipher texts and the MAC for the
 * test to compare with Go's: AES-256-CBC (64 bytes) and ChaCha20 (64 bytes)
 * under SHA-256(seed ‖ AES-KDF(k)), then HMAC-SHA256("header") under the
 * block key SHA-512(ff×8 ‖ SHA-512(seed ‖ Argon2d(k) ‖ 01)). It loads only
 * if every declaration matches the host's signature. The name "slow" runs a
 * derivation longer than any deadline instead. */
#include "sesame.h"

SESAME_ABI_V1_MARKER

static const char manifest[] = "{\"abi\":1,\"name\":\"formatkeys-c\",\"version\":\"1.0.0\"}";

SESAME_EXPORT("sesame_manifest") uint32_t formatkeys_manifest(void) {
    return sesame_output(manifest, sizeof manifest - 1);
}

#define CHECK(cond, step) \
    do {                  \
        if (!(cond))      \
            return sesame_fail(SESAME_INTERNAL, step); \
    } while (0)

static void seq(uint8_t *b, uint8_t from, uint32_t n) {
    for (uint32_t i = 0; i < n; i++)
        b[i] = (uint8_t)(from + i);
}

/* slow derives with 2^40 AES-KDF rounds, for the deadline: its status. */
static uint32_t slow(void) {
    uint8_t key[32] = {0}, seed[32] = {0};
    int32_t k = sesame_key_import(key, 32);
    CHECK(k > 0, "key_import");
    int32_t t = sesame_key_aes_kdf(k, seed, 32, (uint64_t)1 << 40);
    return t > 0 ? SESAME_OK : (uint32_t)-t;
}

SESAME_EXPORT("sesame_get") uint32_t formatkeys_get(uint32_t name_len) {
    char name[4];
    if (name_len == 4 && sesame_input(0, name, 4) == 4 && __builtin_memcmp(name, "slow", 4) == 0)
        return slow();
    uint8_t key[32], seed[32], salt[32], iv[16], nonce[12], ff[8], big[64];
    uint8_t out[64 + 64 + SESAME_KEY_HMAC], orig[64];
    seq(key, 0x80, 32);
    seq(seed, 0x30, 32);
    seq(salt, 0x60, 32);
    seq(iv, 0x10, 16);
    seq(nonce, 0x40, 12);
    seq(big, 0, 64);
    __builtin_memset(ff, 0xff, 8);
    seq(orig, 'a', 64);

    int32_t k = sesame_key_import(key, 32);
    CHECK(k > 0, "key_import");
    int32_t t = sesame_key_aes_kdf(k, seed, 32, 1000);
    CHECK(t > 0, "key_aes_kdf");
    int32_t a = sesame_key_argon2(k, SESAME_KEY_ARGON2D, 0x13, salt, 32, 2, 64, 2, 32);
    CHECK(a > 0, "key_argon2");
    int32_t ck = sesame_key_hash(t, seed, 32, "", 0, 32);
    CHECK(ck > 0, "key_hash of 32 bytes");
    int32_t hb = sesame_key_hash(a, seed, 32, "\x01", 1, 64);
    CHECK(hb > 0, "key_hash of 64 bytes");
    int32_t bk = sesame_key_hash(hb, ff, 8, "", 0, 64);
    CHECK(bk > 0, "key_hash of a 64-byte key");

    __builtin_memcpy(out, orig, 64);
    CHECK(sesame_key_aes_cbc(ck, 1, iv, out, 64, out) == SESAME_OK, "key_aes_cbc in place");
    uint8_t back[64];
    CHECK(sesame_key_aes_cbc(ck, 0, iv, out, 64, back) == SESAME_OK && __builtin_memcmp(back, orig, 64) == 0,
          "key_aes_cbc decrypts what it encrypted");
    CHECK(sesame_key_chacha20(ck, nonce, 0, orig, 64, out + 64) == SESAME_OK, "key_chacha20");
    CHECK(sesame_key_hmac(bk, "header", 6, out + 128) == SESAME_OK, "key_hmac under a hashed key");

    CHECK(sesame_key_hash(k, "", 0, "", 0, 48) == -SESAME_INVALID_ARGUMENT, "key_hash of 48 bytes");
    CHECK(sesame_key_aes_kdf(k, seed, 31, 10) == -SESAME_INVALID_ARGUMENT, "key_aes_kdf with a short seed");
    CHECK(sesame_key_aes_kdf(hb, seed, 32, 10) == -SESAME_INVALID_ARGUMENT, "key_aes_kdf of a 64-byte key");
    CHECK(sesame_key_argon2(k, 1, 0x13, salt, 32, 2, 64, 2, 32) == -SESAME_INVALID_ARGUMENT, "key_argon2 of Argon2i");
    CHECK(sesame_key_argon2(k, 0, 0x13, salt, 32, 2, 1u << 30, 2, 32) == -SESAME_TOO_LARGE, "key_argon2 beyond the grant");
    CHECK(sesame_key_aes_cbc(ck, 1, iv, big, 15, big) == SESAME_INVALID_ARGUMENT, "key_aes_cbc of a partial block");
    CHECK(sesame_key_aes_cbc(ck, 1, iv, big, 32, big + 16) == SESAME_INVALID_ARGUMENT, "key_aes_cbc over overlapping ranges");
    CHECK(sesame_key_chacha20(ck, nonce, 0xffffffffu, big, 65, big) == SESAME_INVALID_ARGUMENT, "key_chacha20 past the counter");
    CHECK(sesame_key_chacha20(hb, nonce, 0, big, 64, big) == SESAME_INVALID_ARGUMENT, "key_chacha20 under a 64-byte key");
    return sesame_output(out, sizeof out);
}
