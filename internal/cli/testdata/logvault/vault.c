/*
 * logvault: a test vault for the CLI's scripts. It keeps secrets in host
 * storage (kvvault.h), without metadata, and talks through the host's log.
 * Its test logs one line at each level, the warning with a terminal escape
 * and a line break in it; each get logs a warning. Its unregister hook logs
 * (at info) what it was told of the storage, or fails when the parameter
 * unregister is "fail".
 */
#include "../kvvault.h"

SESAME_ABI_V1_MARKER

static const char manifest[] =
    "{\"abi\":1,\"name\":\"logvault\",\"version\":\"0.0.1\","
    "\"description\":\"a test vault that logs\","
    "\"metadata\":false,\"case_sensitive\":true,"
    "\"operations\":[\"get\",\"set\",\"remove\",\"list\",\"test\",\"unregister\"],"
    "\"grants\":[\"storage\"]}";

/* fail_unregister is the parameter unregister = "fail" of this instance. */
static int fail_unregister;

static void log_line(uint32_t level, const char *msg) {
    sesame_log(level, msg, (uint32_t)strlen(msg));
}

SESAME_EXPORT("sesame_manifest") uint32_t vault_manifest(void) {
    return sesame_output(manifest, sizeof manifest - 1);
}

/* init reads the parameters, a params map (§7.2), and looks for
 * unregister = "fail"; it ignores the others. */
SESAME_EXPORT("sesame_init") uint32_t vault_init(uint32_t vault_len, uint32_t params_len) {
    (void)vault_len;
    uint32_t st = sesame_read_input(&kv_arg, 1, params_len);
    if (st != SESAME_OK)
        return st;
    if (kv_arg.len < 4)
        return sesame_fail(SESAME_INVALID_ARGUMENT, "malformed parameters");
    const uint8_t *p = kv_arg.data + 4, *k, *v;
    uint32_t left = kv_arg.len - 4, kn, vn;
    fail_unregister = 0;
    for (uint32_t i = sesame_get_u32(kv_arg.data); i > 0; i--) {
        /* an entry of a params map is laid out as one of an entry list (§7.12) */
        if (!sesame_entry_next(&p, &left, &k, &kn, &v, &vn))
            return sesame_fail(SESAME_INVALID_ARGUMENT, "malformed parameters");
        if (kn == 10 && memcmp(k, "unregister", 10) == 0)
            fail_unregister = vn == 4 && memcmp(v, "fail", 4) == 0;
    }
    return SESAME_OK;
}

SESAME_EXPORT("sesame_unregister") uint32_t vault_unregister(uint32_t arg_len) {
    uint32_t st = sesame_read_input(&kv_arg, 0, arg_len);
    if (st != SESAME_OK)
        return st;
    if (kv_arg.len != 1 || kv_arg.data[0] > 1)
        return sesame_fail(SESAME_INVALID_ARGUMENT, "argument 0 of sesame_unregister is not one byte 0 or 1");
    if (fail_unregister)
        return sesame_fail(SESAME_UNAVAILABLE, "the remote service did not answer");
    log_line(SESAME_LOG_INFO, kv_arg.data[0] ? "cleaned up; the storage goes too" : "cleaned up; the storage stays");
    return SESAME_OK;
}

SESAME_EXPORT("sesame_get") uint32_t vault_get(uint32_t name_len) {
    log_line(SESAME_LOG_WARN, "answering from a stale copy");
    return kv_get(name_len);
}

SESAME_EXPORT("sesame_set") uint32_t vault_set(uint32_t name_len, uint32_t value_len, uint32_t meta_len) {
    return kv_set(name_len, value_len, meta_len);
}

SESAME_EXPORT("sesame_remove") uint32_t vault_remove(uint32_t name_len) {
    return kv_remove(name_len);
}

/* list gives every matching name the type string, whatever is stored. */
SESAME_EXPORT("sesame_list") uint32_t vault_list(uint32_t pattern_len) {
    return kv_list(pattern_len, SESAME_TYPE_STRING);
}

/* test logs one line at each level. */
SESAME_EXPORT("sesame_test") uint32_t vault_test(void) {
    log_line(SESAME_LOG_DEBUG, "checked 3 records");
    log_line(SESAME_LOG_INFO, "storage reachable");
    log_line(SESAME_LOG_WARN, "disk almost full \x1b[31mred\nsesame: error: forged");
    log_line(SESAME_LOG_ERROR, "one record unreadable");
    return SESAME_OK;
}
