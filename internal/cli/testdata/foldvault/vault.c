/*
 * foldvault: a test vault for the CLI's scripts, in C, with the rules of
 * examples/go-vault: it keeps secrets in host storage (kvvault.h) with their
 * metadata, compares names without case, and keeps the UTC offset of a
 * datetime (datetime_offset). The scripts that pin how the CLI shows these
 * rules use it instead of the Go guest, which costs a process without the
 * agent a third of a second to load where a C guest costs milliseconds.
 * It folds ASCII letters only, so the conformance suite's CaseRules part
 * (Cyrillic names) fails on it: it is for the scripts, not an example.
 */
#define KV_FOLD
#include "../kvvault.h"

SESAME_ABI_V1_MARKER

static const char manifest[] =
    "{\"abi\":1,\"name\":\"foldvault\",\"version\":\"0.0.1\","
    "\"description\":\"a test vault whose names have no case\","
    "\"metadata\":true,\"case_sensitive\":false,\"datetime_offset\":true,"
    "\"operations\":[\"get\",\"set\",\"remove\",\"list\",\"set_metadata\"],"
    "\"grants\":[\"storage\"]}";

SESAME_EXPORT("sesame_manifest") uint32_t vault_manifest(void) {
    return sesame_output(manifest, sizeof manifest - 1);
}

SESAME_EXPORT("sesame_get") uint32_t vault_get(uint32_t name_len) {
    return kv_get(name_len);
}

SESAME_EXPORT("sesame_set") uint32_t vault_set(uint32_t name_len, uint32_t value_len, uint32_t meta_len) {
    return kv_set(name_len, value_len, meta_len);
}

SESAME_EXPORT("sesame_set_metadata") uint32_t vault_set_metadata(uint32_t name_len, uint32_t meta_len) {
    return kv_set_metadata(name_len, meta_len);
}

SESAME_EXPORT("sesame_remove") uint32_t vault_remove(uint32_t name_len) {
    return kv_remove(name_len);
}

SESAME_EXPORT("sesame_list") uint32_t vault_list(uint32_t pattern_len) {
    return kv_list(pattern_len, 0);
}
