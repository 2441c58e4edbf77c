/* keys.c: a vault in C whose get calls every key function of sesame.h
 * (SPEC.md §5.8) once, checks each answer, and returns SESAME_OK, or the
 * status of the first that went wrong with an error naming it. It loads
 * only if every declaration of sesame.h matches the host's signature. */
#include "sesame.h"

SESAME_ABI_V1_MARKER

static const char manifest[] = "{\"abi\":1,\"name\":\"keys-c\",\"version\":\"1.0.0\"}";

SESAME_EXPORT("sesame_manifest") uint32_t keys_manifest(void) {
    return sesame_output(manifest, sizeof manifest - 1);
}

#define CHECK(cond, step) \
    do {                  \
        if (!(cond))      \
            return sesame_fail(SESAME_INTERNAL, step); \
    } while (0)

SESAME_EXPORT("sesame_get") uint32_t keys_get(uint32_t name_len) {
    (void)name_len;
    static const char salt[] = "salt-salt-salt-s", ad[] = "ad", plain[] = "hello";
    static const uint8_t clear_key[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    uint8_t box[SESAME_KEY_MAX + SESAME_KEY_OVERHEAD], sealed[5 + SESAME_KEY_OVERHEAD], out[5];
    uint8_t mac1[SESAME_KEY_HMAC], mac2[SESAME_KEY_HMAC];

    int32_t k = sesame_key_generate(SESAME_KEY_AEAD);
    CHECK(k > 0, "key_generate");
    int32_t imported = sesame_key_import(clear_key, sizeof clear_key);
    CHECK(imported > 0, "key_import");
    int32_t pk = sesame_key_argon2id("pw", 2, salt, 16, 1, 8192, 1, 32);
    CHECK(pk > 0, "key_argon2id");
    int32_t sub = sesame_key_hkdf(k, salt, 16, "info", 4, 32);
    CHECK(sub > 0, "key_hkdf");
    int64_t n = sesame_key_wrap(pk, k, ad, 2, box, sizeof box);
    CHECK(n == SESAME_KEY_AEAD + SESAME_KEY_OVERHEAD, "key_wrap");
    CHECK(sesame_key_wrap(pk, k, ad, 2, box, 0) == n, "key_wrap asked for its length");
    int32_t k2 = sesame_key_unwrap(pk, box, (uint32_t)n, ad, 2);
    CHECK(k2 > 0 && k2 != k, "key_unwrap");
    box[0] ^= 1;
    CHECK(sesame_key_unwrap(pk, box, (uint32_t)n, ad, 2) == -SESAME_PERMISSION_DENIED, "key_unwrap of a changed box");
    CHECK(sesame_key_seal(k2, plain, 5, ad, 2, sealed, sizeof sealed) == sizeof sealed, "key_seal");
    CHECK(sesame_key_open(k, sealed, sizeof sealed, ad, 2, out, sizeof out) == 5 &&
              __builtin_memcmp(out, plain, 5) == 0, "key_open under the key that was wrapped");
    CHECK(sesame_key_open(k, sealed, sizeof sealed, "AD", 2, out, sizeof out) == -SESAME_PERMISSION_DENIED,
          "key_open with other additional data");
    CHECK(sesame_key_hmac(sub, "name", 4, mac1) == SESAME_OK, "key_hmac");
    CHECK(sesame_key_hmac(imported, "name", 4, mac2) == SESAME_OK && __builtin_memcmp(mac1, mac2, 32) != 0,
          "key_hmac under another key");
    CHECK(sesame_key_keep(sub) == SESAME_OK, "key_keep");
    CHECK(sesame_key_release(k2) == SESAME_OK, "key_release");
    CHECK(sesame_key_release(k2) == SESAME_NOT_FOUND, "key_release of a released key");
    CHECK(sesame_key_seal(k2, plain, 5, ad, 2, sealed, sizeof sealed) == -SESAME_NOT_FOUND, "key_seal with a released key");
    CHECK(sesame_key_generate(15) == -SESAME_INVALID_ARGUMENT, "key_generate of 15 bytes");
    return SESAME_OK;
}
