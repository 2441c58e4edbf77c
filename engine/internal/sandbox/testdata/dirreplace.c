/* dirreplace.c: a vault in C whose get calls sesame_dir_replace (SPEC.md
 * §5.4) with what its name says, "DIGEST FROM TO" (the digest in 64 hex
 * digits), and answers its status. It loads only if sesame.h declares the
 * function with the host's signature. */
#include "sesame.h"

SESAME_ABI_V1_MARKER

static const char manifest[] = "{\"abi\":1,\"name\":\"dirreplace-c\",\"version\":\"1.0.0\"}";

SESAME_EXPORT("sesame_manifest") uint32_t dirreplace_manifest(void) {
    return sesame_output(manifest, sizeof manifest - 1);
}

static int nibble(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

SESAME_EXPORT("sesame_get") uint32_t dirreplace_get(uint32_t name_len) {
    static char name[1024];
    uint8_t digest[32];
    if (name_len > sizeof name || sesame_input(0, name, sizeof name) != (int32_t)name_len || name_len < 66)
        return sesame_fail(SESAME_INVALID_ARGUMENT, "want DIGEST FROM TO");
    for (int i = 0; i < 32; i++) {
        int hi = nibble(name[2 * i]), lo = nibble(name[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return sesame_fail(SESAME_INVALID_ARGUMENT, "digest is not hex");
        digest[i] = (uint8_t)(hi << 4 | lo);
    }
    uint32_t from = 65, sp = from;
    while (sp < name_len && name[sp] != ' ')
        sp++;
    if (sp == name_len)
        return sesame_fail(SESAME_INVALID_ARGUMENT, "want DIGEST FROM TO");
    return sesame_dir_replace(name + from, sp - from, name + sp + 1, name_len - sp - 1, digest);
}
