/*
 * team.c — the team: its record in etcd, the keys derived from its key,
 * what the user accepted (in the vault's storage area, on this machine),
 * and the members actions (SPEC.md §4.3).
 *
 * The team record, at prefix + "team", is JSON that etcd's readers see:
 *
 *   {"gen":1,"members":["age1…",…],"key":"…","check":"…","prev":"…"}
 *
 * gen counts the team keys (a removal makes a new one); members are the
 * recipients, sorted, that key (the age file of the team key, base64) is
 * wrapped to; check is HMAC-SHA256 of gen, members and prev under a key
 * derived from the team key, so that only a holder of the key wrote this
 * list and this previous key; prev, while a removal moves the records to
 * the new key, is the age file of the key of gen-1 to the members, so that
 * no record is unreadable at any moment of the move.
 */
#include "etcd.h"

static bytes vault_name(void) { return (bytes){conf.vault.data, conf.vault.len}; }

bytes team_key(arena *a) { return cat(a, conf.prefix.data, conf.prefix.len, "team", 4); }

/* handle turns a key function's result into a handle, or its failure. */
static uint32_t handle(const char *fn, int32_t h, int32_t *out) {
    if (h < 0)
        return host_failed(fn, (uint32_t)-h);
    *out = h;
    return SESAME_OK;
}

uint32_t hmac(int32_t key, const void *p, uint32_t n, uint8_t out[32]) {
    uint32_t st = sesame_key_hmac(key, p, n, out);
    return st == SESAME_OK ? st : host_failed("key_hmac", st);
}

/* derive makes the keys of generation gen from its team key k. */
static uint32_t derive(int32_t k, int64_t gen, gen_keys *g) {
    static const char *info[3] = {"sesame etcd names", "sesame etcd records", "sesame etcd members"};
    int32_t *to[3] = {&g->names, &g->records, &g->check};
    g->gen = gen;
    for (int i = 0; i < 3; i++) {
        uint32_t st = handle("key_hkdf", sesame_key_hkdf(k, NULL, 0, info[i], (uint32_t)strlen(info[i]), SESAME_KEY_AEAD),
                             to[i]);
        if (st != SESAME_OK)
            return st;
    }
    return SESAME_OK;
}

/* join returns the members separated by '\n' (what the check covers and
 * age_wrap takes). */
static bytes join(arena *a, const bytes *members, uint32_t n) {
    uint32_t len = 0;
    for (uint32_t i = 0; i < n; i++)
        len += members[i].n + (i > 0);
    bytes b = {alloc(a, len + 1), len};
    for (uint32_t i = 0, at = 0; b.p != NULL && i < n; i++) {
        if (i > 0)
            b.p[at++] = '\n';
        memcpy(b.p + at, members[i].p, members[i].n);
        at += members[i].n;
    }
    return b;
}

static void hex(const uint8_t *p, uint32_t n, char *out) {
    static const char digits[] = "0123456789abcdef";
    for (uint32_t i = 0; i < n; i++)
        out[2 * i] = digits[p[i] >> 4], out[2 * i + 1] = digits[p[i] & 15];
}

/* check_of is the check of a record of generation g listing members, with
 * prev, the age file of the previous key (has_prev 0: none). prev is
 * covered because it is trusted like the key: records of generation g-1
 * open with it, and a removal's move seals them again under the key of g.
 * A record without prev has the check it had before prev was covered. */
static uint32_t check_of(const gen_keys *g, const bytes *members, uint32_t n, int has_prev, bytes prev,
                         uint8_t out[32]) {
    sesame_buf text = {0};
    bytes list = join(&call_mem, members, n);
    int ok = list.p != NULL && buf_num(&text, (uint64_t)g->gen) && buf_str(&text, "\n") &&
             sesame_buf_append(&text, list.p, list.n);
    if (ok && has_prev) {
        uint8_t sum[32];
        char h[64];
        sha256_ctx c;
        sha256_init(&c);
        sha256_write(&c, prev.p, prev.n);
        sha256_sum(&c, sum);
        hex(sum, 32, h);
        ok = buf_str(&text, "\nprev ") && sesame_buf_append(&text, h, 64);
    }
    uint32_t st = ok ? hmac(g->check, text.data, text.len, out) : out_of_memory();
    sesame_buf_free(&text);
    return st;
}

/* digest names the team's state: its key (by a fingerprint that tells
 * nothing of it) and its member list, in 32 hex digits. It changes when a
 * member is added or removed, and when the key is replaced. */
static uint32_t digest(const team *t, char out[32]) {
    uint8_t fp[32], sum[32];
    static const char label[] = "sesame etcd fingerprint";
    uint32_t st = hmac(t->cur.check, label, sizeof label - 1, fp);
    if (st != SESAME_OK)
        return st;
    bytes list = join(&call_mem, t->rec.members, t->rec.n_members);
    if (list.p == NULL)
        return out_of_memory();
    sha256_ctx c;
    sha256_init(&c);
    sha256_write(&c, fp, 32);
    sha256_write(&c, "\n", 1);
    sha256_write(&c, list.p, list.n);
    sha256_sum(&c, sum);
    hex(sum, 16, out);
    return SESAME_OK;
}

/* self_recipient returns the user's recipient, or its failure. */
static uint32_t self_recipient(bytes *out) {
    uint32_t cap = 128;
    for (;;) {
        uint8_t *p = alloc(&call_mem, cap);
        if (p == NULL)
            return out_of_memory();
        int64_t n = sesame_age_recipient(p, cap);
        if (n < 0)
            return host_failed("age_recipient", (uint32_t)-n);
        if (n <= cap) {
            *out = (bytes){p, (uint32_t)n};
            return SESAME_OK;
        }
        if (n > SESAME_AGE_MAX_LIST)
            return host_failed("age_recipient", SESAME_INTERNAL);
        cap = (uint32_t)n;
    }
}

static void msg_b(bytes b) { msg_bytes(b.p, b.n); }

/* unwrap opens an age file of the team record with the user's identity. */
static uint32_t unwrap(bytes file, int32_t *k) {
    int32_t h = sesame_age_unwrap(file.p, file.n);
    if (h != -(int32_t)SESAME_PERMISSION_DENIED)
        return handle("age_unwrap", h, k);
    bytes self = {0};
    self_recipient(&self);
    msg_reset();
    msg_str("you are not a member of the team: your recipient ");
    msg_b(self);
    msg_str(" is not one the team key is wrapped to (a member adds you with sesame vault members add ");
    msg_b(vault_name());
    msg_str(" ");
    msg_b(self);
    msg_str(")");
    return fail(SESAME_PERMISSION_DENIED);
}

static json_doc doc;

/* decode_members reads a JSON array of strings (null: none, and *present
 * 0) into a list in a. */
static int decode_members(arena *a, uint32_t node, bytes **out, uint32_t *n, int *present) {
    *out = NULL, *n = 0;
    if (present)
        *present = 0;
    if (!json_check_type(&doc, node, JSON_ARRAY))
        return 0;
    if (node == 0 || doc.nodes[node].type == JSON_NULL)
        return 1;
    if (present)
        *present = 1;
    uint32_t count = 0;
    for (uint32_t c = doc.nodes[node].first; c != 0; c = doc.nodes[c].next)
        count++;
    if ((*out = alloc(a, (count ? count : 1) * sizeof **out)) == NULL)
        return doc.why = "out of memory", 0;
    for (uint32_t c = doc.nodes[node].first; c != 0; c = doc.nodes[c].next) {
        const uint8_t *s = NULL;
        uint32_t len = 0;
        if (!json_string(&doc, c, &s, &len))
            return 0;
        (*out)[(*n)++] = (bytes){dup(a, s, len), len};
    }
    return 1;
}

static int decode_b64(arena *a, uint32_t node, bytes *out, int *present) {
    static sesame_buf b;
    if (!json_bytes(&doc, node, &b, present))
        return 0;
    *out = (bytes){dup(a, b.data, b.len), b.len};
    return 1;
}

/* read_team reads the team record into *rec: *found 0 when there is none
 * yet. */
static uint32_t read_team(arena *a, team_record *rec, int64_t *mod_rev, int *found) {
    kv *x;
    bytes key = team_key(&call_mem);
    gw_begin();
    uint32_t st = gw_get(key, &x);
    *found = 0;
    if (st != SESAME_OK || x == NULL)
        return st;
    int present;
    *rec = (team_record){0};
    if (!json_parse(&doc, x->value.p, x->value.n) || !json_check_type(&doc, 1, JSON_OBJECT) ||
        !json_int(&doc, json_member(&doc, 1, "gen"), &rec->gen) ||
        !decode_members(a, json_member(&doc, 1, "members"), &rec->members, &rec->n_members, NULL) ||
        !decode_b64(a, json_member(&doc, 1, "key"), &rec->key, &present) ||
        !decode_b64(a, json_member(&doc, 1, "check"), &rec->check, &present) ||
        !decode_b64(a, json_member(&doc, 1, "prev"), &rec->prev, &rec->has_prev) || rec->gen < 1 ||
        rec->n_members == 0) {
        msg_reset();
        msg_str("the team record ");
        msg_quote(key.p, key.n);
        msg_str(" in etcd is not one this vault wrote");
        return fail(SESAME_INTERNAL);
    }
    *mod_rev = x->mod_rev;
    *found = 1;
    return SESAME_OK;
}

/* encode_record writes rec as JSON into b, as json.Marshal of the Go
 * guest's teamRecord wrote it. */
static int encode_record(sesame_buf *b, const team_record *rec) {
    int ok = buf_str(b, "{\"gen\":") && (rec->gen >= 0 ? 1 : buf_str(b, "-")) &&
             buf_num(b, rec->gen >= 0 ? (uint64_t)rec->gen : 0 - (uint64_t)rec->gen) && buf_str(b, ",\"members\":[");
    for (uint32_t i = 0; ok && i < rec->n_members; i++)
        ok = buf_str(b, i > 0 ? "," : "") && json_put_string(b, rec->members[i].p, rec->members[i].n);
    ok = ok && buf_str(b, "],\"key\":") && json_put_base64(b, rec->key.p, rec->key.n) && buf_str(b, ",\"check\":") &&
         json_put_base64(b, rec->check.p, rec->check.n);
    if (rec->has_prev && rec->prev.n > 0)
        ok = ok && buf_str(b, ",\"prev\":") && json_put_base64(b, rec->prev.p, rec->prev.n);
    return ok && buf_str(b, "}");
}

static uint32_t no_team(void) {
    msg_reset();
    msg_str("there is no team under the prefix ");
    msg_quote(conf.prefix.data, conf.prefix.len);
    msg_str(" yet: sesame vault members add ");
    msg_b(vault_name());
    msg_str(" age1… creates it");
    return fail(SESAME_NOT_FOUND);
}

/* The storage area: "settled" holds the last generation this user accepted
 * without a previous key (8 bytes, big-endian): one whose records had all
 * moved to it; "accepted" what the user accepted last, as JSON
 * {"digest":…,"members":[…]}. */
static const char settled_key[] = "settled", accepted_key[] = "accepted";
static sesame_buf stored;

static uint32_t load_settled(int64_t *gen) {
    uint32_t st = sesame_kv_read(&stored, settled_key, sizeof settled_key - 1);
    *gen = 0;
    if (st == SESAME_OK && stored.len == 8)
        *gen = get_be64(stored.data);
    else if (st != SESAME_OK && st != SESAME_NOT_FOUND)
        return host_failed("kv_get", st);
    return SESAME_OK;
}

/* stale_after_settled reports whether rec holds the previous key of a
 * generation this user saw settled, which must then not be opened. A
 * record that held it was a member's, but put back after the move by
 * anyone who writes etcd, it would make the previous key open records
 * again: a removed member knows that key. Records under it are refused like
 * any of a generation the team record does not hold. */
static uint32_t stale_after_settled(const team_record *rec, int *stale) {
    int64_t settled;
    uint32_t st = load_settled(&settled);
    *stale = 0;
    if (st != SESAME_OK || !rec->has_prev || rec->gen > settled)
        return st;
    msg_reset();
    msg_str("the team record holds the previous team key again, after every record had moved off it: someone "
            "with write access to etcd put an old team record back; the previous key is not used");
    msg_log(SESAME_LOG_WARN);
    *stale = 1;
    return SESAME_OK;
}

/* settle notes t's generation as settled when t, accepted, holds no
 * previous key. */
static uint32_t settle(const team *t) {
    int64_t settled;
    uint32_t st = load_settled(&settled);
    if (t->rec.has_prev || st != SESAME_OK || t->rec.gen <= settled)
        return st;
    uint8_t b[8];
    put_be64(b, t->rec.gen);
    st = sesame_kv_set(settled_key, sizeof settled_key - 1, b, 8);
    return st == SESAME_OK ? st : host_failed("kv_set", st);
}

typedef struct {
    bytes digest;
    bytes *members;
    uint32_t n_members;
    int has_members;
} accepted_state;

static uint32_t load_accepted(accepted_state *a) {
    uint32_t st = sesame_kv_read(&stored, accepted_key, sizeof accepted_key - 1);
    *a = (accepted_state){0};
    if (st == SESAME_NOT_FOUND)
        return SESAME_OK;
    if (st != SESAME_OK)
        return host_failed("kv_get", st);
    const uint8_t *d = NULL;
    uint32_t dn = 0;
    if (!json_parse(&doc, stored.data, stored.len) || !json_check_type(&doc, 1, JSON_OBJECT) ||
        !json_string(&doc, json_member(&doc, 1, "digest"), &d, &dn) ||
        !decode_members(&call_mem, json_member(&doc, 1, "members"), &a->members, &a->n_members, &a->has_members)) {
        msg_reset();
        msg_str("the accepted member list in the vault's storage does not decode: ");
        msg_str(doc.why);
        return fail(SESAME_INTERNAL);
    }
    a->digest = (bytes){dup(&call_mem, d, dn), dn};
    return SESAME_OK;
}

/* accept records t's state as the one the user accepted. */
static uint32_t accept(const team *t) {
    char d[32];
    uint32_t st = digest(t, d);
    if (st != SESAME_OK)
        return st;
    sesame_buf b = {0};
    int ok = buf_str(&b, "{\"digest\":\"") && sesame_buf_append(&b, d, 32) && buf_str(&b, "\",\"members\":[");
    for (uint32_t i = 0; ok && i < t->rec.n_members; i++)
        ok = buf_str(&b, i > 0 ? "," : "") && json_put_string(&b, t->rec.members[i].p, t->rec.members[i].n);
    ok = ok && buf_str(&b, "]}");
    st = !ok ? out_of_memory() : sesame_kv_set(accepted_key, sizeof accepted_key - 1, b.data, b.len);
    sesame_buf_free(&b);
    return st == SESAME_OK || !ok ? st : host_failed("kv_set", st);
}

static int contains(const bytes *list, uint32_t n, bytes x) {
    for (uint32_t i = 0; i < n; i++)
        if (same(list[i], x))
            return 1;
    return 0;
}

/* msg_missing appends label and what of list is not in other, comma
 * separated; it returns how many. */
static uint32_t msg_missing(const char *label, const bytes *list, uint32_t n, const bytes *other, uint32_t on) {
    uint32_t count = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (contains(other, on, list[i]))
            continue;
        msg_str(count == 0 ? label : ", ");
        msg_b(list[i]);
        count++;
    }
    return count;
}

/* check_accepted fails when the team is not in the state the user
 * accepted, and says what changed. */
uint32_t check_accepted(team *t) {
    accepted_state a;
    char d[32];
    uint32_t st = load_accepted(&a);
    if (st == SESAME_OK)
        st = digest(t, d);
    if (st != SESAME_OK || (a.digest.n == 32 && memcmp(a.digest.p, d, 32) == 0))
        return st;
    msg_reset();
    if (a.digest.n == 0) {
        msg_str("you have not accepted this team's member list yet (");
        msg_num(t->rec.n_members);
        msg_str(" members)");
    } else {
        msg_str("the team's member list changed since you accepted it");
        uint32_t changes = msg_missing("; added: ", t->rec.members, t->rec.n_members, a.members, a.n_members);
        changes += msg_missing("; removed: ", a.members, a.n_members, t->rec.members, t->rec.n_members);
        if (changes == 0)
            msg_str("; the team key was replaced");
    }
    msg_str(": review it with sesame vault members list ");
    msg_b(vault_name());
    msg_str(", then sesame vault members accept ");
    msg_b(vault_name());
    return fail(SESAME_PERMISSION_DENIED);
}

/* open_team reads the team record and opens the team key with the user's
 * identity, in a; or, when held (the keys that an instance of the vault
 * derived and kept, vault.c) is of this very record, takes its keys
 * instead, with no unwrap. With accepted, the team must be in the state the
 * user accepted last: an operation never encrypts to, nor trusts, a member
 * list that someone else changed until the user has seen it. A held key
 * that the host no longer has fails as NOT_FOUND from a key function. */
uint32_t open_team(arena *a, int accepted, const team *held, team **out) {
    team *t = alloc(a, sizeof *t);
    int found, stale;
    uint8_t check[32];
    if (t == NULL)
        return out_of_memory();
    uint32_t st = read_team(a, &t->rec, &t->mod_rev, &found);
    if (st != SESAME_OK)
        return st;
    if (!found)
        return no_team();
    if (held != NULL && held->mod_rev == t->mod_rev && held->cur.gen == t->rec.gen &&
        held->has_prev == t->rec.has_prev) {
        t->cur = held->cur, t->prev = held->prev, t->reused = 1;
    } else if ((st = unwrap(t->rec.key, &t->key)) != SESAME_OK || (st = derive(t->key, t->rec.gen, &t->cur)) != SESAME_OK) {
        return st;
    }
    if ((st = check_of(&t->cur, t->rec.members, t->rec.n_members, t->rec.has_prev, t->rec.prev, check)) != SESAME_OK)
        return st;
    uint8_t diff = t->rec.check.n != 32;
    for (uint32_t i = 0; i < 32 && t->rec.check.n == 32; i++)
        diff |= check[i] ^ t->rec.check.p[i];
    if (diff != 0) {
        msg_reset();
        msg_str("the team record's member list was not written by a holder of the team key: someone with write "
                "access to etcd changed it; do not accept it");
        return fail(SESAME_PERMISSION_DENIED);
    }
    if ((st = stale_after_settled(&t->rec, &stale)) != SESAME_OK)
        return st;
    t->has_prev = t->rec.has_prev && !stale;
    if (t->has_prev && !t->reused &&
        ((st = unwrap(t->rec.prev, &t->prev_key)) != SESAME_OK || (st = derive(t->prev_key, t->rec.gen - 1, &t->prev)) != SESAME_OK))
        return st;
    if (accepted && ((st = check_accepted(t)) != SESAME_OK || (st = settle(t)) != SESAME_OK))
        return st;
    *out = t;
    return SESAME_OK;
}

/* age_wrap wraps key k to members. */
static uint32_t age_wrap(int32_t k, const bytes *members, uint32_t n, bytes *out) {
    bytes list = join(&call_mem, members, n);
    uint32_t cap = 128 * n + 256;
    for (int i = 0; list.p != NULL && i < 4; i++) {
        uint8_t *p = alloc(&call_mem, cap);
        if (p == NULL)
            break;
        int64_t got = sesame_age_wrap(k, (const char *)list.p, list.n, p, cap);
        if (got == -(int64_t)SESAME_INVALID_ARGUMENT) {
            msg_reset();
            msg_str("a member is not an age X25519 recipient (age1… in lower case, 62 characters)");
            return fail(SESAME_INVALID_ARGUMENT);
        }
        if (got < 0)
            return host_failed("age_wrap", (uint32_t)-got);
        if (got <= cap) {
            *out = (bytes){p, (uint32_t)got};
            return SESAME_OK;
        }
        if (got > SESAME_AGE_MAX_FILE)
            return host_failed("age_wrap", SESAME_INTERNAL);
        cap = (uint32_t)got;
    }
    return list.p == NULL ? out_of_memory() : host_failed("age_wrap", SESAME_UNAVAILABLE);
}

/* new_record makes the team record of key k (keys), members, and the
 * previous key prev_key while records move (0: none). */
static uint32_t new_record(int32_t k, const gen_keys *keys, bytes *members, uint32_t n, int32_t prev_key,
                           team_record *rec) {
    uint8_t *check = alloc(&call_mem, 32);
    *rec = (team_record){.gen = keys->gen, .members = members, .n_members = n};
    uint32_t st = check == NULL ? out_of_memory() : age_wrap(k, members, n, &rec->key);
    if (st == SESAME_OK && prev_key != 0) {
        st = age_wrap(prev_key, members, n, &rec->prev);
        rec->has_prev = 1;
    }
    if (st == SESAME_OK)
        st = check_of(keys, members, n, rec->has_prev, rec->prev, check);
    rec->check = (bytes){check, 32};
    return st;
}

/* store writes rec as the team record if it is still at mod_rev (0:
 * absent). */
static uint32_t store(const team_record *rec, int64_t mod_rev) {
    sesame_buf b = {0};
    if (!encode_record(&b, rec)) {
        sesame_buf_free(&b);
        return out_of_memory();
    }
    bytes key = team_key(&call_mem);
    cmp c = {key, mod_rev != 0, mod_rev};
    op put = {OP_PUT, key, {b.data, b.len}};
    txn_result r;
    gw_begin();
    uint32_t st = gw_txn(&c, 1, &put, 1, NULL, 0, &r);
    sesame_buf_free(&b);
    if (st == SESAME_OK && !r.succeeded) {
        msg_reset();
        msg_str("another member changed the team at the same moment; nothing was changed: run the command again");
        return fail(SESAME_CONFLICT);
    }
    return st;
}

static int put_list(sesame_buf *b, const bytes *list, uint32_t n, int present) {
    if (!present)
        return buf_str(b, "null");
    int ok = buf_str(b, "[");
    for (uint32_t i = 0; ok && i < n; i++)
        ok = buf_str(b, i > 0 ? "," : "") && json_put_string(b, list[i].p, list[i].n);
    return ok && buf_str(b, "]");
}

/* listing writes the output of the members actions for t (NULL: no team)
 * into out: abi.Members as JSON. */
static uint32_t listing(const team *t, sesame_buf *out) {
    bytes self;
    accepted_state a = {0};
    char d[32] = {0};
    uint32_t st = self_recipient(&self);
    if (st == SESAME_OK && t != NULL && (st = load_accepted(&a)) == SESAME_OK)
        st = digest(t, d);
    if (st != SESAME_OK)
        return st;
    int changed = t != NULL && !(a.digest.n == 32 && memcmp(a.digest.p, d, 32) == 0);
    out->len = 0;
    int ok = buf_str(out, "{\"members\":") && put_list(out, t ? t->rec.members : NULL, t ? t->rec.n_members : 0, t != NULL) &&
             buf_str(out, ",\"accepted\":") && put_list(out, a.members, a.n_members, a.has_members) &&
             buf_str(out, changed ? ",\"changed\":true,\"digest\":" : ",\"changed\":false,\"digest\":") &&
             json_put_string(out, (const uint8_t *)d, t ? 32 : 0) && buf_str(out, ",\"self\":") &&
             json_put_string(out, self.p, self.n) && buf_str(out, "}");
    return ok ? SESAME_OK : out_of_memory();
}

static uint32_t list_members(sesame_buf *out) {
    team_record rec;
    int64_t mod_rev;
    int found;
    team *t;
    if (read_team(&call_mem, &rec, &mod_rev, &found) != SESAME_OK || !found)
        return listing(NULL, out);
    uint32_t st = open_team(&call_mem, 0, NULL, &t);
    return st == SESAME_OK ? listing(t, out) : st;
}

/* check_recipient refuses what cannot be an X25519 recipient before the
 * host is asked, in words that name it (recipients are public). */
static uint32_t check_recipient(bytes r) {
    int ok = r.n == SESAME_AGE_RECIPIENT_LEN && memcmp(r.p, "age1", 4) == 0;
    for (uint32_t i = 0; ok && i < r.n; i++)
        ok = !(r.p[i] >= 'A' && r.p[i] <= 'Z');
    if (ok)
        return SESAME_OK;
    msg_reset();
    msg_quote(r.p, r.n);
    msg_str(" is not an age X25519 recipient (age1… in lower case, 62 characters; sesame identity prints yours)");
    return fail(SESAME_INVALID_ARGUMENT);
}

static int compare(const void *x, const void *y) {
    const bytes *a = x, *b = y;
    int c = memcmp(a->p, b->p, a->n < b->n ? a->n : b->n);
    return c != 0 ? c : (a->n > b->n) - (a->n < b->n);
}

/* with_member returns list and x, sorted. */
static bytes *with_member(const bytes *list, uint32_t n, bytes x) {
    bytes *m = alloc(&call_mem, (n + 1) * sizeof *m);
    if (m == NULL)
        return NULL;
    if (n > 0)
        memcpy(m, list, n * sizeof *m);
    m[n] = x;
    qsort(m, n + 1, sizeof *m, compare);
    return m;
}

/* replace writes the team record of key k (keys), members and prev_key
 * over t's, accepts it, and lists it. */
static uint32_t replace(const team *t, int32_t k, const gen_keys *keys, bytes *members, uint32_t n, int32_t prev_key,
                        sesame_buf *out) {
    team *next = alloc(&call_mem, sizeof *next);
    if (next == NULL)
        return out_of_memory();
    uint32_t st = new_record(k, keys, members, n, prev_key, &next->rec);
    if (st == SESAME_OK)
        st = store(&next->rec, t->mod_rev);
    next->key = k;
    next->cur = *keys;
    if (st == SESAME_OK)
        st = accept(next);
    return st == SESAME_OK ? listing(next, out) : st;
}

static uint32_t finish_rotation(team *t);

/* create_team makes the team: a new key, wrapped to the user and r. */
static uint32_t create_team(bytes r, sesame_buf *out) {
    bytes self;
    int32_t k;
    gen_keys keys;
    team empty = {0};
    uint32_t st = self_recipient(&self);
    if (st != SESAME_OK)
        return st;
    bytes *members = same(r, self) ? with_member(NULL, 0, self) : with_member(&self, 1, r);
    uint32_t n = same(r, self) ? 1 : 2;
    if (members == NULL)
        return out_of_memory();
    if ((st = handle("key_generate", sesame_key_generate(SESAME_KEY_AEAD), &k)) != SESAME_OK ||
        (st = derive(k, 1, &keys)) != SESAME_OK)
        return st;
    return replace(&empty, k, &keys, members, n, 0, out);
}

static uint32_t add_member(bytes r, sesame_buf *out) {
    team_record rec;
    int64_t mod_rev;
    int found;
    team *t;
    uint32_t st = check_recipient(r);
    if (st == SESAME_OK)
        st = read_team(&call_mem, &rec, &mod_rev, &found);
    if (st != SESAME_OK)
        return st;
    if (!found)
        return create_team(r, out);
    if ((st = open_team(&call_mem, 1, NULL, &t)) != SESAME_OK || (st = finish_rotation(t)) != SESAME_OK)
        return st;
    if (contains(t->rec.members, t->rec.n_members, r)) {
        msg_reset();
        msg_b(r);
        msg_str(" is a member already");
        return fail(SESAME_INVALID_ARGUMENT);
    }
    bytes *members = with_member(t->rec.members, t->rec.n_members, r);
    if (members == NULL)
        return out_of_memory();
    return replace(t, t->key, &t->cur, members, t->rec.n_members + 1, 0, out);
}

/* remove_member removes r and replaces the team key: a new key, wrapped to
 * the others, and every record sealed again under it. The old key stays in
 * the team record (prev) until every record has moved, so that a crash or
 * a deadline in the middle loses nothing: the next members command
 * finishes the move. */
static uint32_t remove_member(bytes r, sesame_buf *out) {
    team *t, *next;
    bytes self;
    int32_t k;
    gen_keys keys;
    uint32_t st = open_team(&call_mem, 1, NULL, &t);
    if (st == SESAME_OK)
        st = finish_rotation(t);
    if (st == SESAME_OK)
        st = self_recipient(&self);
    if (st != SESAME_OK)
        return st;
    msg_reset();
    msg_b(r);
    if (!contains(t->rec.members, t->rec.n_members, r)) {
        msg_str(" is not a member of the team");
        return fail(SESAME_NOT_FOUND);
    }
    if (same(r, self)) {
        msg_str(" is you: another member removes you (a removal makes a new team key, which you would then not have)");
        return fail(SESAME_INVALID_ARGUMENT);
    }
    bytes *members = alloc(&call_mem, t->rec.n_members * sizeof *members);
    uint32_t n = 0;
    if (members == NULL)
        return out_of_memory();
    for (uint32_t i = 0; i < t->rec.n_members; i++)
        if (!same(t->rec.members[i], r))
            members[n++] = t->rec.members[i];
    if ((st = handle("key_generate", sesame_key_generate(SESAME_KEY_AEAD), &k)) != SESAME_OK ||
        (st = derive(k, t->rec.gen + 1, &keys)) != SESAME_OK || (st = replace(t, k, &keys, members, n, t->key, out)) != SESAME_OK ||
        (st = open_team(&call_mem, 1, NULL, &next)) != SESAME_OK || (st = finish_rotation(next)) != SESAME_OK)
        return st;
    return listing(next, out);
}

/* accept_members accepts the team's state if its digest is the one the
 * user was shown. */
static uint32_t accept_members(bytes shown, sesame_buf *out) {
    team *t;
    char d[32];
    uint32_t st = open_team(&call_mem, 0, NULL, &t);
    if (st == SESAME_OK)
        st = digest(t, d);
    if (st != SESAME_OK)
        return st;
    if (shown.n != 32 || memcmp(shown.p, d, 32) != 0) {
        msg_reset();
        msg_str("the team's member list is not the one shown (it changed since, or the digest is wrong): review it "
                "again with sesame vault members list ");
        msg_b(vault_name());
        return fail(SESAME_CONFLICT);
    }
    if ((st = accept(t)) != SESAME_OK || (st = settle(t)) != SESAME_OK || (st = finish_rotation(t)) != SESAME_OK)
        return st;
    return listing(t, out);
}

uint32_t members_action(bytes action, bytes arg, sesame_buf *out) {
    static const char *names[4] = {"list", "add", "remove", "accept"};
    static uint32_t (*const actions[4])(bytes, sesame_buf *) = {NULL, add_member, remove_member, accept_members};
    drop_cache(); /* they read the team afresh, and change it */
    for (int i = 0; i < 4; i++) {
        if (action.n != strlen(names[i]) || memcmp(action.p, names[i], action.n) != 0)
            continue;
        return i == 0 ? list_members(out) : actions[i](arg, out);
    }
    msg_reset();
    msg_str("unknown members action ");
    msg_quote(action.p, action.n);
    return fail(SESAME_INVALID_ARGUMENT);
}

/* The move of a removal. rotation_passes bounds the passes over the
 * records: a pass that finds records moved by others, or written under the
 * old key by a member who had not yet seen the new one, goes again. */
#define ROTATION_PASSES 3

/* move seals the record x again under the current key, at its new etcd
 * key, if no one changed it since it was read. */
static uint32_t move(team *t, const kv *x) {
    record *r;
    bytes key, sealed;
    uint32_t st = open_record(&call_mem, t, x, &r);
    if (st == SESAME_OK)
        st = etcd_key(&call_mem, &t->cur, r->name, &key);
    if (st == SESAME_OK)
        st = seal_record(&call_mem, &t->cur, key, r->name, r->type, r->meta, r->value, &sealed);
    if (st != SESAME_OK)
        return st;
    cmp c[2] = {{x->key, 1, x->mod_rev}, {key, 0, 0}};
    op then[2] = {{OP_PUT, key, sealed}, {OP_DELETE, x->key, {0}}};
    txn_result res;
    gw_begin();
    st = gw_txn(c, 2, then, 2, NULL, 0, &res);
    if (st == SESAME_OK && !res.succeeded)
        /* A record at the new key is newer than this one (written there
         * under the new key): this one goes, if it is still as read. */
        st = gw_txn(c, 1, &then[1], 1, NULL, 0, &res);
    return st; /* or changed by someone else since: the next pass sees */
}

/* finish_rotation moves every record still sealed under the previous key
 * to the current one, each in a transaction of its own (put at the new
 * etcd key and delete at the old, if the old is unchanged), and then drops
 * the previous key from the team record. */
static uint32_t finish_rotation(team *t) {
    if (!t->has_prev)
        return SESAME_OK;
    for (int pass = 0; pass < ROTATION_PASSES; pass++) {
        kv *kvs;
        uint32_t n, left = 0;
        gw_begin();
        uint32_t st = gw_prefix(records_prefix(&call_mem), &kvs, &n);
        if (st != SESAME_OK)
            return st;
        for (uint32_t i = 0; i < n; i++) {
            if (kvs[i].value.n >= 8 && get_be64(kvs[i].value.p) == t->cur.gen)
                continue;
            left++;
            if ((st = move(t, &kvs[i])) != SESAME_OK)
                return st;
        }
        if (left > 0)
            continue;
        team settled = *t;
        uint8_t *check = alloc(&call_mem, 32);
        settled.rec.has_prev = 0;
        settled.rec.prev = (bytes){0};
        if (check == NULL)
            return out_of_memory();
        if ((st = check_of(&t->cur, t->rec.members, t->rec.n_members, 0, (bytes){0}, check)) != SESAME_OK)
            return st;
        settled.rec.check = (bytes){check, 32};
        sesame_buf b = {0};
        if (!encode_record(&b, &settled.rec)) {
            sesame_buf_free(&b);
            return out_of_memory();
        }
        bytes key = team_key(&call_mem);
        cmp c = {key, 1, t->mod_rev};
        op put = {OP_PUT, key, {b.data, b.len}}, get = {OP_GET, key, {0}};
        txn_result r;
        gw_begin();
        st = gw_txn(&c, 1, &put, 1, &get, 1, &r);
        sesame_buf_free(&b);
        if (st != SESAME_OK || !r.succeeded)
            return st; /* not swapped: another member finished it */
        return settle(&settled);
    }
    msg_reset();
    msg_str("records kept being written under the old team key while they were moved to the new one: run the "
            "command again");
    return fail(SESAME_UNAVAILABLE);
}
