/*
 * secret.h — checking a secret encoding (SPEC.md §7.7) that the guest
 * decrypted, as abi.DecodeSecret checks it (secret.c), for the built-in C
 * extensions that keep secrets sealed: the secretstore and etcd.
 */
#ifndef CLIB_SECRET_H
#define CLIB_SECRET_H

#include "text.h"

uint32_t check_secret(const uint8_t *p, uint32_t n, uint8_t type);
int check_info(const uint8_t *p, uint32_t n);

#endif
