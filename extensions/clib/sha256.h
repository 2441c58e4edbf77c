/*
 * sha256.h — SHA-256 (FIPS 180-4) in the guest, for digests of public
 * data only (a member list, an age file): keys are hashed by the host
 * (sesame_key_hmac, sesame_key_hash), never here.
 */
#ifndef CLIB_SHA256_H
#define CLIB_SHA256_H

#include <stdint.h>

typedef struct {
    uint32_t h[8];
    uint8_t block[64];
    uint64_t len; /* bytes hashed */
} sha256_ctx;

void sha256_init(sha256_ctx *c);
void sha256_write(sha256_ctx *c, const void *p, uint32_t n);
void sha256_sum(sha256_ctx *c, uint8_t out[32]);

#endif
