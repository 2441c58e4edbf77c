/*
 * lockvault: a test vault for the CLI's scripts. It keeps secrets in host
 * storage (kvvault.h), has no metadata support, compares names exactly, and
 * can be locked with a password. It has no password until the first unlock
 * sets one; while it has one and is not unlocked, every operation fails
 * with LOCKED. It keeps its password in the clear: it is for tests only.
 */
#include "../kvvault.h"

SESAME_ABI_V1_MARKER

static const char manifest[] =
    "{\"abi\":1,\"name\":\"lockvault\",\"version\":\"0.0.1\","
    "\"description\":\"a lockable test vault without metadata\","
    "\"metadata\":false,\"case_sensitive\":true,"
    "\"operations\":[\"get\",\"set\",\"remove\",\"list\",\"unlock\",\"lock\"],"
    "\"grants\":[\"storage\"]}";

#define PASSWORD_KEY "p"
#define UNLOCKED_KEY "u"

static sesame_buf stored; /* the password, as stored */

/* open fails with LOCKED while the vault has a password and is locked. */
static uint32_t open(void) {
    uint32_t st = sesame_kv_read(&stored, PASSWORD_KEY, 1);
    if (st == SESAME_NOT_FOUND)
        return SESAME_OK;
    if (st == SESAME_OK)
        st = sesame_kv_read(&kv_rec, UNLOCKED_KEY, 1);
    if (st == SESAME_NOT_FOUND)
        return sesame_fail(SESAME_LOCKED, "the vault is locked");
    return st;
}

SESAME_EXPORT("sesame_manifest") uint32_t vault_manifest(void) {
    return sesame_output(manifest, sizeof manifest - 1);
}

SESAME_EXPORT("sesame_get") uint32_t vault_get(uint32_t name_len) {
    uint32_t st = open();
    return st != SESAME_OK ? st : kv_get(name_len);
}

SESAME_EXPORT("sesame_set") uint32_t vault_set(uint32_t name_len, uint32_t value_len, uint32_t meta_len) {
    uint32_t st = open();
    return st != SESAME_OK ? st : kv_set(name_len, value_len, meta_len);
}

SESAME_EXPORT("sesame_remove") uint32_t vault_remove(uint32_t name_len) {
    uint32_t st = open();
    return st != SESAME_OK ? st : kv_remove(name_len);
}

SESAME_EXPORT("sesame_list") uint32_t vault_list(uint32_t pattern_len) {
    uint32_t st = open();
    return st != SESAME_OK ? st : kv_list(pattern_len, 0);
}

/* unlock sets the password on first use, else checks it. */
SESAME_EXPORT("sesame_unlock") uint32_t vault_unlock(uint32_t password_len) {
    uint32_t st = sesame_read_input(&kv_arg, 0, password_len);
    if (st == SESAME_OK)
        st = sesame_kv_read(&stored, PASSWORD_KEY, 1);
    if (st == SESAME_NOT_FOUND)
        st = sesame_kv_set(PASSWORD_KEY, 1, kv_arg.data, kv_arg.len);
    else if (st == SESAME_OK && (stored.len != kv_arg.len || memcmp(stored.data, kv_arg.data, kv_arg.len) != 0))
        return sesame_fail(SESAME_LOCKED, "wrong password");
    if (st != SESAME_OK)
        return st;
    return sesame_kv_set(UNLOCKED_KEY, 1, "\1", 1);
}

SESAME_EXPORT("sesame_lock") uint32_t vault_lock(void) {
    uint32_t st = sesame_kv_delete(UNLOCKED_KEY, 1);
    return st == SESAME_NOT_FOUND ? SESAME_OK : st;
}
