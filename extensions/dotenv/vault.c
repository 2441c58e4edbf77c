/*
 * vault.c — builtin:dotenv, a sesame vault over one .env file in the
 * folder that vaults.toml grants to the vault (README.md):
 *
 *     [vaults.LocalStore2]
 *     extension = "builtin:dotenv"
 *
 *       [vaults.LocalStore2.grants]
 *       directory = "."            # relative to vaults.toml
 *
 *       [vaults.LocalStore2.parameters]
 *       file = ".env"              # the default; a name in that folder
 *
 * Secrets are strings (a secure string is stored as a string, and reads
 * back as one: the file has no types), names are case-sensitive shell
 * variable names, and there is no metadata. A set or a remove rewrites the
 * file atomically under a lock file, changing only the line of the secret.
 * The file is the only state: an instance keeps nothing between calls but
 * scratch buffers, wiped after each use.
 */
#include "dotenv.h"

SESAME_ABI_V1_MARKER

static const char manifest[] =
    "{\"abi\":1,\"name\":\"dotenv\",\"version\":\"0.1.0\","
    "\"description\":\"a vault over a .env file in a granted folder\","
    "\"metadata\":false,\"case_sensitive\":true,"
    "\"operations\":[\"get\",\"stat\",\"set\",\"remove\",\"list\",\"test\"],"
    "\"grants\":[\"directory\"]}";

static sesame_buf arg;   /* the name or pattern                      */
static sesame_buf value; /* a value argument, or a decoded value     */
static sesame_buf src;   /* the file, for get, stat and list         */
static sesame_buf out;   /* the output                               */

static uint32_t done(uint32_t st) {
    buf_wipe(&value);
    buf_wipe(&src);
    buf_wipe(&out);
    return st;
}

SESAME_EXPORT("sesame_manifest") uint32_t vault_manifest(void) {
    return sesame_output(manifest, sizeof manifest - 1);
}

/* init reads the parameters, a sorted list of (str key, str value): "file"
 * names the file in the granted folder; any other is refused. */
SESAME_EXPORT("sesame_init") uint32_t vault_init(uint32_t vault_len, uint32_t params_len) {
    (void)vault_len;
    set_file_name((const uint8_t *)".env", 4);
    uint32_t st = sesame_read_input(&arg, 1, params_len);
    if (st != SESAME_OK)
        return st;
    const uint8_t *p = arg.data;
    uint32_t left = arg.len, count = left >= 4 ? sesame_get_u32(p) : 0;
    for (p += 4, left -= left >= 4 ? 4 : left; count > 0; count--) {
        uint32_t kn, vn;
        if (left < 4 || (kn = sesame_get_u32(p)) > left - 4 || left - 4 - kn < 4 ||
            (vn = sesame_get_u32(p + 4 + kn)) > left - 8 - kn)
            return sesame_fail(SESAME_INVALID_ARGUMENT, "malformed parameters");
        const uint8_t *k = p + 4, *v = p + 8 + kn;
        if (kn == 4 && memcmp(k, "file", 4) == 0) {
            if ((st = check_file_name(v, vn)) != SESAME_OK)
                return st;
            set_file_name(v, vn);
        } else {
            msg_reset();
            msg_str("unknown parameter ");
            msg_quote(k, kn);
            msg_str(" (dotenv takes only \"file\")");
            return msg_fail(SESAME_INVALID_ARGUMENT);
        }
        p += 8 + kn + vn;
        left -= 8 + kn + vn;
    }
    return SESAME_OK;
}

/* read_name reads argument 0 into arg. A name that cannot be a shell
 * variable is refused with status bad: a set refuses it (INVALID_ARGUMENT),
 * and no secret by that name can exist for the others, which answer
 * NOT_FOUND with the rule as the message, so that a search of every vault
 * for "my-secret" does not report this vault as failing. */
static uint32_t read_name(uint32_t len, uint32_t bad) {
    uint32_t st = sesame_read_input(&arg, 0, len);
    if (st != SESAME_OK)
        return st;
    if (valid_name(arg.data, arg.len))
        return SESAME_OK;
    msg_reset();
    msg_str("invalid name ");
    msg_quote(arg.data, arg.len);
    msg_str(": " NAME_RULE);
    return msg_fail(bad);
}

/* A search for the entry that defines a name: the last one, as with docker
 * compose and shells. */
typedef struct {
    const uint8_t *key;
    uint32_t key_len;
    entry last;
    int found;
} search;

static uint32_t find(void *ctx, const uint8_t *file, const entry *e) {
    search *s = ctx;
    if (same_key(file, e, s->key, s->key_len)) {
        s->last = *e;
        s->found = 1;
    }
    return SESAME_OK;
}

/* lookup loads the file and finds the entry of the name in arg. */
static uint32_t lookup(search *s) {
    *s = (search){.key = arg.data, .key_len = arg.len};
    uint32_t st = load(&src, find, s);
    if (st == SESAME_OK && !s->found)
        st = SESAME_NOT_FOUND; /* the engine's own message says it best */
    return st;
}

/* put_info appends the info of a string named by arg to out. */
static int put_info(void) {
    if (!sesame_buf_reserve(&out, sesame_info_len(arg.len, 0)))
        return 0;
    out.len += sesame_put_info(out.data + out.len, arg.data, arg.len, SESAME_TYPE_STRING, NULL, 0);
    return 1;
}

SESAME_EXPORT("sesame_get") uint32_t vault_get(uint32_t name_len) {
    search s;
    uint32_t st = read_name(name_len, SESAME_NOT_FOUND);
    if (st == SESAME_OK)
        st = lookup(&s);
    if (st != SESAME_OK)
        return done(st);
    uint8_t type = SESAME_TYPE_STRING;
    out.len = 0;
    if (!put_info() || !sesame_buf_append(&out, &type, 1) || !decode_value(src.data, &s.last, &out))
        return done(sesame_fail(SESAME_TOO_LARGE, "the value does not fit in the vault's memory"));
    uint32_t head = sesame_info_len(arg.len, 0) + 1;
    if (!valid_utf8(out.data + head, out.len - head)) {
        msg_reset();
        msg_str(file_name);
        msg_str(": line ");
        msg_num(s.last.line);
        msg_str(": the value of ");
        msg_bytes(arg.data, arg.len);
        msg_str(" is not UTF-8");
        return done(msg_fail(SESAME_INTERNAL));
    }
    return done(sesame_output(out.data, out.len));
}

SESAME_EXPORT("sesame_stat") uint32_t vault_stat(uint32_t name_len) {
    search s;
    uint32_t st = read_name(name_len, SESAME_NOT_FOUND);
    if (st == SESAME_OK)
        st = lookup(&s);
    if (st != SESAME_OK)
        return done(st);
    out.len = 0;
    if (!put_info())
        return done(sesame_fail(SESAME_TOO_LARGE, "out of memory"));
    return done(sesame_output(out.data, out.len));
}

/* A listing in progress: the info list in out (count first), and the names
 * seen so far in an open-addressing set of (offset, length) in the file. */
typedef struct {
    const uint8_t *pattern;
    uint32_t pattern_len, count, slots, used;
    uint32_t *set; /* 2 × slots: offset, length (0: free) */
} listing;

static uint32_t hash(const uint8_t *s, uint32_t n) {
    uint32_t h = 2166136261u;
    for (uint32_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 16777619u;
    return h;
}

/* add_name adds the name of e to the set; 1 when it was new, 0 when seen,
 * -1 when out of memory. */
static int add_name(listing *l, const uint8_t *file, const entry *e) {
    if (2 * (l->used + 1) > l->slots) {
        uint32_t slots = l->slots ? 2 * l->slots : 64, *old = l->set, n = l->slots;
        uint32_t *set = calloc(2 * (size_t)slots, sizeof *set);
        if (set == NULL)
            return -1;
        l->set = set;
        l->slots = slots;
        for (uint32_t i = 0; i < n; i++) {
            if (old[2 * i + 1] == 0)
                continue;
            uint32_t j = hash(file + old[2 * i], old[2 * i + 1]) & (slots - 1);
            while (set[2 * j + 1] != 0)
                j = (j + 1) & (slots - 1);
            set[2 * j] = old[2 * i], set[2 * j + 1] = old[2 * i + 1];
        }
        free(old);
    }
    uint32_t j = hash(file + e->key, e->key_len) & (l->slots - 1);
    for (; l->set[2 * j + 1] != 0; j = (j + 1) & (l->slots - 1))
        if (l->set[2 * j + 1] == e->key_len && memcmp(file + l->set[2 * j], file + e->key, e->key_len) == 0)
            return 0;
    l->set[2 * j] = e->key, l->set[2 * j + 1] = e->key_len;
    l->used++;
    return 1;
}

static uint32_t collect(void *ctx, const uint8_t *file, const entry *e) {
    listing *l = ctx;
    int added = add_name(l, file, e);
    if (added < 0)
        return sesame_fail(SESAME_TOO_LARGE, "the list does not fit in the vault's memory");
    if (added == 0 || !sesame_match(l->pattern, l->pattern_len, file + e->key, e->key_len))
        return SESAME_OK;
    if (!sesame_buf_reserve(&out, sesame_info_len(e->key_len, 0)))
        return sesame_fail(SESAME_TOO_LARGE, "the list does not fit in the vault's memory");
    out.len += sesame_put_info(out.data + out.len, file + e->key, e->key_len, SESAME_TYPE_STRING, NULL, 0);
    l->count++;
    return SESAME_OK;
}

/* list returns each name once, in file order; every secret is a string. */
SESAME_EXPORT("sesame_list") uint32_t vault_list(uint32_t pattern_len) {
    uint32_t st = sesame_read_input(&arg, 0, pattern_len);
    if (st != SESAME_OK)
        return st;
    listing l = {.pattern = arg.data, .pattern_len = arg.len};
    out.len = 0;
    if (!sesame_buf_reserve(&out, 4))
        return SESAME_TOO_LARGE;
    out.len = 4;
    st = load(&src, collect, &l);
    free(l.set);
    if (st != SESAME_OK)
        return done(st);
    sesame_put_u32(out.data, l.count);
    return done(sesame_output(out.data, out.len));
}

static const char *type_name(uint8_t t) {
    static const char *names[] = {"unknown", "bytes", "string", "securestring", "credential", "hashtable"};
    return names[t <= SESAME_TYPE_HASHTABLE ? t : 0];
}

/* set_value is the edit of a set: the value (without its type byte) in
 * value, the name in arg. */
static uint32_t set_value(void *ctx, const uint8_t *file, uint32_t n, sesame_buf *dst) {
    (void)ctx;
    search s = {.key = arg.data, .key_len = arg.len};
    parse(file, n, find, &s); /* update parsed it whole: it parses */
    if (!with_value(file, n, s.found ? &s.last : NULL, arg.data, arg.len, value.data + 1, value.len - 1, dst))
        return sesame_fail(SESAME_TOO_LARGE, "the change does not fit in the vault's memory");
    return SESAME_OK;
}

/* set writes a string or secure string (stored as a string) into the file. */
SESAME_EXPORT("sesame_set") uint32_t vault_set(uint32_t name_len, uint32_t value_len, uint32_t meta_len) {
    if (meta_len > 0) /* the manifest says metadata false: the engine never sends any */
        return sesame_fail(SESAME_UNSUPPORTED, "dotenv keeps no metadata");
    uint32_t st = read_name(name_len, SESAME_INVALID_ARGUMENT);
    if (st == SESAME_OK)
        st = sesame_read_input(&value, 1, value_len);
    if (st != SESAME_OK)
        return done(st);
    uint8_t t = sesame_value_type(value.data, value.len);
    if (t != SESAME_TYPE_STRING && t != SESAME_TYPE_SECURESTRING) {
        msg_reset();
        msg_str("dotenv stores strings only, not ");
        msg_str(type_name(t));
        return done(msg_fail(SESAME_INVALID_ARGUMENT));
    }
    if (memchr(value.data + 1, 0, value.len - 1) != NULL)
        return done(sesame_fail(SESAME_INVALID_ARGUMENT, "a dotenv value cannot hold a NUL character"));
    return done(update(set_value, NULL));
}

static uint32_t remove_name(void *ctx, const uint8_t *file, uint32_t n, sesame_buf *dst) {
    (void)ctx;
    uint32_t st = without(file, n, arg.data, arg.len, dst);
    return st == SESAME_TOO_LARGE ? sesame_fail(st, "the change does not fit in the vault's memory") : st;
}

/* remove deletes every line that assigns the name. */
SESAME_EXPORT("sesame_remove") uint32_t vault_remove(uint32_t name_len) {
    uint32_t st = read_name(name_len, SESAME_NOT_FOUND);
    if (st != SESAME_OK)
        return st;
    return done(update(remove_name, NULL));
}

SESAME_EXPORT("sesame_test") uint32_t vault_test(void) { return test_folder(); }
