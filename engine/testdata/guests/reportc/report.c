/* report.c: a vault in C whose set reports what it did (SPEC.md §4,
 * "set_reports"), from the name's first word: "new…" created, "old…"
 * replaced, "same…" unchanged, "bad…" a report of two bytes. It keeps
 * no secrets: each get and set appends a line to storage key "log"
 * ("get NAME", "set NAME"), and get answers NOT_FOUND. */
#define SESAME_NO_LIBC
#include "sesame.h"

SESAME_ABI_V1_MARKER

static const char manifest[] =
    "{\"abi\":1,\"name\":\"report-c\",\"version\":\"1.0.0\",\"set_reports\":true,\"grants\":[\"storage\"]}";

SESAME_EXPORT("sesame_manifest") uint32_t report_manifest(void) { return sesame_output(manifest, sizeof manifest - 1); }

static char log_[4096];
static char line[300];

/* note reads the name (argument 0) after the word of line's first n
 * bytes, and appends the line to the log; *name points to the name. */
static uint32_t note(uint32_t n, uint32_t name_len, const char **name) {
    if (name_len > 256 || sesame_input(0, line + n, name_len) != (int32_t)name_len)
        return sesame_fail(SESAME_INVALID_ARGUMENT, "bad name");
    *name = line + n;
    int64_t have = sesame_kv_get("log", 3, log_, sizeof log_);
    if (have < 0)
        have = 0;
    if ((uint64_t)have + n + name_len + 1 > sizeof log_)
        return sesame_fail(SESAME_TOO_LARGE, "log full");
    __builtin_memcpy(log_ + have, line, n + name_len);
    log_[have + n + name_len] = '\n';
    return sesame_kv_set("log", 3, log_, (uint32_t)(have + n + name_len + 1));
}

static int starts(const char *name, uint32_t n, const char *word, uint32_t wn) {
    return n >= wn && __builtin_memcmp(name, word, wn) == 0;
}

SESAME_EXPORT("sesame_get") uint32_t report_get(uint32_t name_len) {
    const char *name;
    __builtin_memcpy(line, "get ", 4);
    uint32_t st = note(4, name_len, &name);
    return st == SESAME_OK ? SESAME_NOT_FOUND : st;
}

SESAME_EXPORT("sesame_set") uint32_t report_set(uint32_t name_len, uint32_t value_len, uint32_t meta_len) {
    (void)value_len, (void)meta_len;
    const char *name;
    __builtin_memcpy(line, "set ", 4);
    uint32_t st = note(4, name_len, &name);
    if (st != SESAME_OK)
        return st;
    uint8_t did[2] = {SESAME_SET_CREATED, 0};
    if (starts(name, name_len, "old", 3))
        did[0] = SESAME_SET_REPLACED;
    else if (starts(name, name_len, "same", 4))
        did[0] = SESAME_SET_UNCHANGED;
    return sesame_output(did, starts(name, name_len, "bad", 3) ? 2 : 1);
}
