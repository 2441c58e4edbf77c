/* batch.c: a vault in C that exports sesame_batch (SPEC.md §5.3, "Where a
 * batch begins and ends") and writes what it is told to storage key "log",
 * one line a call: "begin", "set NAME in" (a set between a begin and an
 * end: key "mark" is there) or "set NAME out", "end". get answers
 * NOT_FOUND, so that every secret of an import is new. A set of "fail-end"
 * makes every later end fail. */
#define SESAME_NO_LIBC
#include "sesame.h"

SESAME_ABI_V1_MARKER

static const char manifest[] = "{\"abi\":1,\"name\":\"batch-c\",\"version\":\"1.0.0\",\"grants\":[\"storage\"]}";

SESAME_EXPORT("sesame_manifest") uint32_t batch_manifest(void) { return sesame_output(manifest, sizeof manifest - 1); }

SESAME_EXPORT("sesame_get") uint32_t batch_get(uint32_t name_len) {
    (void)name_len;
    return SESAME_NOT_FOUND;
}

static char log_[4096];

static int present(const char *key, uint32_t n) { return sesame_kv_get(key, n, 0, 0) >= 0; }

/* note appends a line, [a, a+an) and [b, b+bn), to the log. */
static uint32_t note(const char *a, uint32_t an, const char *b, uint32_t bn) {
    int64_t n = sesame_kv_get("log", 3, log_, sizeof log_);
    if (n < 0)
        n = 0;
    if ((uint64_t)n + an + bn + 1 > sizeof log_)
        return sesame_fail(SESAME_TOO_LARGE, "log full");
    for (uint32_t i = 0; i < an; i++)
        log_[n++] = a[i];
    for (uint32_t i = 0; i < bn; i++)
        log_[n++] = b[i];
    log_[n++] = '\n';
    return sesame_kv_set("log", 3, log_, (uint32_t)n);
}

SESAME_EXPORT("sesame_set") uint32_t batch_set(uint32_t name_len, uint32_t value_len, uint32_t meta_len) {
    (void)value_len, (void)meta_len;
    static char line[300] = "set ";
    if (name_len > 256 || sesame_input(0, line + 4, name_len) != (int32_t)name_len)
        return sesame_fail(SESAME_INVALID_ARGUMENT, "bad name");
    if (name_len == 8 && __builtin_memcmp(line + 4, "fail-end", 8) == 0) {
        uint32_t st = sesame_kv_set("fail-end", 8, "1", 1);
        if (st != SESAME_OK)
            return st;
    }
    const char *where = present("mark", 4) ? " in" : " out";
    return note(line, 4 + name_len, where, where[1] == 'i' ? 3 : 4);
}

SESAME_EXPORT("sesame_batch") uint32_t batch_batch(uint32_t len) {
    uint8_t phase;
    if (len != 1 || sesame_input(0, &phase, 1) != 1 || phase > SESAME_BATCH_END)
        return sesame_fail(SESAME_INVALID_ARGUMENT, "want one byte 0 or 1");
    if (phase == SESAME_BATCH_BEGIN) {
        uint32_t st = sesame_kv_set("mark", 4, "1", 1);
        return st == SESAME_OK ? note("begin", 5, "", 0) : st;
    }
    if (present("fail-end", 8))
        return sesame_fail(SESAME_INTERNAL, "the end fails, as asked");
    uint32_t st = sesame_kv_delete("mark", 4);
    return st == SESAME_OK ? note("end", 3, "", 0) : st;
}
