/* age.c: a vault in C whose get calls the age functions of sesame.h
 * (SPEC.md §5.9): it wraps a key to the user's own recipient, unwraps the
 * file into a key that hashes alike, and checks the refusals. It returns
 * SESAME_OK, or the status of the first step that went wrong with an error
 * naming it. It loads only if sesame.h declares them as the host has
 * them. */
#include "sesame.h"

SESAME_ABI_V1_MARKER

static const char manifest[] = "{\"abi\":1,\"name\":\"age-c\",\"version\":\"1.0.0\"}";

SESAME_EXPORT("sesame_manifest") uint32_t age_manifest(void) {
    return sesame_output(manifest, sizeof manifest - 1);
}

#define CHECK(cond, step) \
    do {                  \
        if (!(cond))      \
            return sesame_fail(SESAME_INTERNAL, step); \
    } while (0)

SESAME_EXPORT("sesame_get") uint32_t age_get(uint32_t name_len) {
    (void)name_len;
    char me[SESAME_AGE_RECIPIENT_LEN];
    static uint8_t file[1024];
    uint8_t mac1[SESAME_KEY_HMAC], mac2[SESAME_KEY_HMAC];

    int64_t r = sesame_age_recipient(me, sizeof me);
    if (r == -(int64_t)SESAME_PERMISSION_DENIED)
        return sesame_fail(SESAME_PERMISSION_DENIED, "age_recipient: not granted");
    CHECK(r == SESAME_AGE_RECIPIENT_LEN && me[0] == 'a' && me[3] == '1', "age_recipient");
    int32_t k = sesame_key_generate(SESAME_KEY_AEAD);
    CHECK(k > 0, "key_generate");
    int64_t n = sesame_age_wrap(k, me, sizeof me, 0, 0);
    CHECK(n > 0 && n <= (int64_t)sizeof file, "age_wrap asked for its length");
    CHECK(sesame_age_wrap(k, me, sizeof me, file, sizeof file) == n, "age_wrap");
    int32_t k2 = sesame_age_unwrap(file, (uint32_t)n);
    CHECK(k2 > 0 && k2 != k, "age_unwrap");
    CHECK(sesame_key_hmac(k, "x", 1, mac1) == SESAME_OK && sesame_key_hmac(k2, "x", 1, mac2) == SESAME_OK &&
              __builtin_memcmp(mac1, mac2, SESAME_KEY_HMAC) == 0, "the unwrapped key is the wrapped one");
    file[n - 1] ^= 1;
    CHECK(sesame_age_unwrap(file, (uint32_t)n) == -(int32_t)SESAME_PERMISSION_DENIED, "age_unwrap of a changed file");
    CHECK(sesame_age_wrap(k, "age1xyz", 7, file, sizeof file) == -(int64_t)SESAME_INVALID_ARGUMENT,
          "age_wrap to a malformed recipient");
    return SESAME_OK;
}
