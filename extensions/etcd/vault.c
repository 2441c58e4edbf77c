/*
 * vault.c — builtin:etcd's exports (etcd.h says what the vault is), its
 * parameters, the cached team and the write transaction.
 *
 * The parameters in vaults.toml:
 *
 *   prefix     the etcd keys of the team's records start with it (team/)
 *   endpoints  the members' client URLs, comma-separated; each must be
 *              granted; by default every origin of the http grant, in its
 *              order (--grant http=...)
 *   user       the etcd user, when the cluster has authentication on
 *   password   its password: a secret reference (sesame:VAULT/NAME), so
 *              that vaults.toml does not hold it
 *   retry      how long a request may go from member to member before the
 *              operation fails as unavailable (default 3s; keep it under
 *              the grant's timeout, 5s by default)
 */
#include "etcd.h"

#include <unistd.h>

SESAME_ABI_V1_MARKER

static const char manifest[] =
    "{\"abi\":1,\"name\":\"etcd\",\"version\":\"1.0.0\","
    "\"description\":\"a team's secrets in an etcd cluster, encrypted to its members' age recipients\","
    "\"metadata\":true,\"case_sensitive\":true,"
    "\"operations\":[\"get\",\"stat\",\"set\",\"remove\",\"list\",\"set_metadata\",\"test\",\"create\",\"members\"],"
    "\"grants\":[\"storage\",\"http\",\"identity\"]}";

settings conf;
int err_host;
static int err_msg;

uint32_t fail(uint32_t st) {
    err_host = 0, err_msg = 1;
    return st;
}

uint32_t fail_bare(uint32_t st) {
    err_host = 0, err_msg = 0;
    return st;
}

static const char *status_name(uint32_t st) {
    static const char *names[] = {"ok", "not found", "invalid argument", "permission denied", "locked", "conflict",
                                  "unsupported", "unavailable", "too large", "internal error", "deadline exceeded"};
    return st < sizeof names / sizeof *names ? names[st] : "internal error";
}

uint32_t host_failed(const char *fn, uint32_t st) {
    msg_reset();
    msg_str("sesame_v1.");
    msg_str(fn);
    msg_str(": ");
    msg_str(status_name(st));
    err_host = 1, err_msg = 1;
    return st;
}

uint32_t out_of_memory(void) {
    msg_reset();
    msg_str("out of memory");
    return fail(SESAME_TOO_LARGE);
}

static sesame_buf arg, value, meta, out;

/* done ends an export: its status goes out with its message, and what the
 * call allocated is wiped and freed. */
static uint32_t done(uint32_t st) {
    if (st == ST_CHANGED)
        st = fail_bare(SESAME_INTERNAL);
    if (st != SESAME_OK && err_msg)
        msg_fail(st);
    buf_wipe(&value);
    buf_wipe(&meta);
    buf_wipe(&out);
    reset(&call_mem);
    err_msg = 0;
    return st;
}

SESAME_EXPORT("sesame_manifest") uint32_t vault_manifest(void) {
    return sesame_output(manifest, sizeof manifest - 1);
}

/* The cached team: the team as this instance last opened it, its derived
 * keys kept in the host (key_keep: handles here, the keys in the host's
 * locked memory), so that a get or a set need not read and unwrap the
 * team record before its own request: that request carries the check
 * instead (a read gets the team record in the same transaction, a write
 * compares its mod_revision), and a team that changed is opened again. The
 * team key itself is not kept: only the members actions need it, and they
 * open the team afresh. What the user accepted is read from the storage
 * area at every call, so an accept by another instance counts at once.
 * epoch counts the teams cached, for the hint.
 *
 * The kept keys are held in the vault's keyring too, with the
 * mod_revision and generations of the record they were derived from
 * (hold): the keyring is the vault's, not the instance's. Setting it makes
 * the host wipe the keys that earlier calls kept, so that the keys of an
 * instance the host retired (after 10 000 calls, or grown large) do not pile
 * up in the vault's 64 key slots; and an instance that starts, or that
 * finds its keys wiped (NOT_FOUND from a key function), takes the held
 * keys when the team record is still the one they came from: one etcd
 * request, no unwrap, nothing more kept. */
team *cached;
static uint32_t epoch;

#define HELD_LEN 41 /* mod_revision, generation, has_prev, 6 key handles */

static uint32_t keep(int32_t h) { return sesame_key_keep(h); }

static void keep_all(team *t, uint32_t *st) {
    gen_keys *g[2] = {&t->cur, t->has_prev ? &t->prev : NULL};
    for (int i = 0; i < 2 && *st == SESAME_OK; i++) {
        int32_t h[3] = {g[i] ? g[i]->names : 0, g[i] ? g[i]->records : 0, g[i] ? g[i]->check : 0};
        for (int j = 0; g[i] != NULL && j < 3 && *st == SESAME_OK; j++)
            if ((*st = keep(h[j])) != SESAME_OK)
                *st = host_failed("key_keep", *st);
    }
}

/* hold puts t's kept keys in the vault's keyring (see above). */
static uint32_t hold(const team *t) {
    uint8_t b[HELD_LEN] = {0};
    sesame_put_i64(b, t->mod_rev);
    sesame_put_i64(b + 8, t->cur.gen);
    b[16] = (uint8_t)t->has_prev;
    int32_t h[6] = {t->cur.names, t->cur.records, t->cur.check, t->prev.names, t->prev.records, t->prev.check};
    for (int i = 0; i < 6; i++)
        sesame_put_u32(b + 17 + 4 * i, (uint32_t)(t->has_prev || i < 3 ? h[i] : 0));
    uint32_t st = sesame_keyring_set(b, sizeof b, 0);
    return st == SESAME_OK ? st : host_failed("keyring_set", st);
}

/* held reads the keyring into *h; 0 when it holds no team's keys. */
static int held(team *h) {
    uint8_t b[HELD_LEN];
    if (sesame_keyring_get(b, sizeof b) != HELD_LEN)
        return 0;
    *h = (team){.mod_rev = sesame_get_i64(b), .has_prev = b[16]};
    h->cur = (gen_keys){sesame_get_i64(b + 8), (int32_t)sesame_get_u32(b + 17), (int32_t)sesame_get_u32(b + 21),
                        (int32_t)sesame_get_u32(b + 25)};
    h->prev = (gen_keys){h->cur.gen - 1, (int32_t)sesame_get_u32(b + 29), (int32_t)sesame_get_u32(b + 33),
                         (int32_t)sesame_get_u32(b + 37)};
    return 1;
}

static int wiped(uint32_t st) { return st == SESAME_NOT_FOUND && err_host; }

/* open_cached opens the team into the cache: with the held keys when
 * may_reuse and they are of the current record, else afresh, keeping and
 * holding the keys it derives. */
static uint32_t open_cached(int may_reuse, team **out) {
    team h, *t;
    int have = may_reuse && held(&h);
    uint32_t st = open_team(&team_mem, 1, have ? &h : NULL, &t);
    if (have && wiped(st)) {
        reset(&team_mem);
        st = open_team(&team_mem, 1, NULL, &t);
    }
    if (st == SESAME_OK && !t->reused)
        keep_all(t, &st);
    if (st == SESAME_OK && !t->reused)
        st = hold(t);
    if (st != SESAME_OK) {
        reset(&team_mem);
        return st;
    }
    cached = t;
    epoch++;
    *out = t;
    return SESAME_OK;
}

uint32_t current_team(team **out) {
    if (cached != NULL) {
        uint32_t st = check_accepted(cached);
        if (!wiped(st)) {
            *out = cached;
            return st;
        }
        drop_cache();
    }
    return open_cached(1, out);
}

/* drop_cache forgets the cached team. Its keys stay: other instances may
 * hold them; the next hold wipes them. */
void drop_cache(void) {
    cached = NULL;
    reset(&team_mem);
}

/* with_team runs fn on the current team, and once more on the team opened
 * afresh when fn finds it changed. A key of the cache that the host no
 * longer holds (NOT_FOUND from a key function: another instance's hold
 * wiped it) also sends it to a fresh team, a few times at most, never to
 * the caller as a missing secret. */
typedef uint32_t (*team_fn)(team *t, void *ctx);

static uint32_t with_team(team_fn fn, void *ctx) {
    for (int attempt = 0, changed = 0;; attempt++) {
        team *t;
        uint32_t st = current_team(&t);
        if (st != SESAME_OK)
            return st;
        st = fn(t, ctx);
        changed += st == ST_CHANGED;
        /* keys wiped by another instance's hold: a few tries (each one
         * takes the held keys, made again only by a change of the team) */
        int stale = st == ST_CHANGED || wiped(st);
        if (!stale || changed > 1 || attempt >= 4) {
            if (st == ST_CHANGED) {
                msg_reset();
                msg_str("the team's member list changed during the operation: retry");
                return fail(SESAME_CONFLICT);
            }
            return st;
        }
        drop_cache();
    }
}

/* The last stat's lookup, kept for the set of the same name that the
 * engine makes next (it stats before it sets, to report a replace): that
 * set's first attempt uses it instead of reading again, one etcd request
 * fewer. It is sound because the write's transaction compares the
 * mod_revisions the hint holds: a hint gone stale (another writer since)
 * loses that attempt, which reads afresh, as any lost race does. Only set
 * and create use it, which read no value of the old record; every write
 * takes it, so it serves one call at most. Its memory is hint_mem, reset
 * by the next stat. */
typedef struct {
    bytes name;
    uint32_t epoch;
    slot s;
} lookup_hint;

static lookup_hint *hint;

/* take_hint returns the hint when it is of name and of the current cached
 * team, and forgets it in any case. */
static lookup_hint *take_hint(bytes name) {
    lookup_hint *h = hint;
    hint = NULL;
    if (h == NULL || name.n == 0 || !same(h->name, name) || cached == NULL || h->epoch != epoch)
        return NULL;
    return h;
}

/* A change of a write: what to store given what is there (old, NULL:
 * nothing): *type, *md and *v, or remove (returns CHANGE_REMOVE). */
#define CHANGE_REMOVE 101
typedef struct {
    bytes name, md, v;
    int has_md;
    uint8_t type;
} change;
typedef uint32_t (*change_fn)(const record *old, change *c);

/* write_attempts bounds the attempts of a write that other writers keep
 * beating (each attempt reads the state again and loses to a change made
 * after that read). */
#define WRITE_ATTEMPTS 8

/* back_off waits a random moment, longer after each lost attempt, so that
 * writers that collided do not collide again. (getentropy, not
 * arc4random, whose failure path would link all of stdio.) */
static void back_off(int attempt) {
    uint32_t r = 0;
    getentropy(&r, sizeof r);
    sleep_ms(1 + (int64_t)(r % (5 * (uint32_t)(attempt + 1))));
}

/* write_once builds and runs one attempt's transaction on slot s of t. */
static uint32_t write_once(team *t, slot *s, const change *c, int remove, bytes *written, int *succeeded) {
    cmp cmps[3];
    op then[2];
    uint32_t nc = 0, nt = 0;
    cmps[nc++] = (cmp){team_key(&call_mem), 1, t->mod_rev};
    if (s->old != NULL) {
        cmps[nc++] = (cmp){s->old->key, 1, s->old->mod_rev};
        if (remove || !same(s->old->key, s->keys[0]))
            then[nt++] = (op){OP_DELETE, s->old->key, {0}};
    } else {
        for (uint32_t i = 0; i < s->n_keys; i++)
            cmps[nc++] = (cmp){s->keys[i], 0, 0};
    }
    if (!remove) {
        bytes sealed;
        uint32_t st = seal_record(&call_mem, &t->cur, s->keys[0], c->name, c->type, c->md, c->v, &sealed);
        if (st != SESAME_OK)
            return st;
        then[nt++] = (op){OP_PUT, s->keys[0], sealed};
        *written = sealed;
    }
    txn_result r;
    gw_begin();
    uint32_t st = gw_txn(cmps, nc, then, nt, NULL, 0, &r);
    *succeeded = st == SESAME_OK && r.succeeded;
    return st;
}

/* write_secret changes the secret called name in one etcd transaction: fn gets
 * what is there and says what to store, or to remove it. The transaction
 * holds only if neither the team record nor the secret changed since they
 * were read (mod_revision; create_revision 0 for a secret that was
 * absent), so that no concurrent write is lost: when another member wrote
 * at the same moment, the write reads again and applies fn to what that
 * member wrote, up to WRITE_ATTEMPTS times, then fails with CONFLICT,
 * having written nothing. The secret goes to its key of the current
 * generation; a record still at its previous generation's key moves in the
 * same transaction. An attempt whose answer was lost (the member died) and
 * that etcd applied is found by the next attempt's read. h, when not NULL,
 * is the first attempt's read. */
static uint32_t write_secret(bytes name, lookup_hint *h, change_fn fn, change *c) {
    bytes written = {0};
    int removed = 0;
    for (int attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
        team *t;
        slot fresh, *s = &fresh;
        uint32_t st = current_team(&t);
        if (st != SESAME_OK)
            return st;
        if (attempt == 0 && h != NULL && h->epoch == epoch)
            s = &h->s; /* its transaction's compares check it */
        else
            st = lookup(&call_mem, t, name, &fresh);
        if (st == ST_CHANGED || wiped(st)) {
            drop_cache(); /* open the team afresh */
            continue;
        }
        if (st != SESAME_OK)
            return st;
        if ((written.p != NULL && s->old != NULL && same(s->old->raw, written)) || (removed && s->old == NULL))
            return SESAME_OK; /* the last attempt was applied, but its answer lost */
        st = fn(s->old, c);
        int remove = st == CHANGE_REMOVE, succeeded;
        if (st != SESAME_OK && !remove)
            return st;
        removed = remove;
        st = write_once(t, s, c, remove, &written, &succeeded);
        if (wiped(st)) {
            drop_cache(); /* its keys were wiped: open the team again */
            continue;
        }
        if (st != SESAME_OK || succeeded)
            return st;
        drop_cache(); /* the team may have changed too */
        back_off(attempt);
    }
    msg_reset();
    msg_str("other members kept changing it at the same moment (");
    msg_num(WRITE_ATTEMPTS);
    msg_str(" attempts); nothing was written: retry");
    return fail(SESAME_CONFLICT);
}

/* Parameters. */
static int space(uint8_t c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

static bytes trim(const uint8_t *p, uint32_t n) {
    while (n > 0 && space(p[0]))
        p++, n--;
    while (n > 0 && space(p[n - 1]))
        n--;
    return (bytes){(uint8_t *)p, n};
}

static int is(bytes k, const char *s) { return k.n == strlen(s) && memcmp(k.p, s, k.n) == 0; }

/* parse_duration reads a duration as Go's time.ParseDuration does (a
 * sequence of decimal numbers, each with a unit: ns, us, µs, ms, s, m, h)
 * into milliseconds, rounded up; 0 when it is malformed or not positive. */
static int64_t parse_duration(bytes d) {
    static const struct {
        const char *unit;
        double ns;
    } units[] = {{"ns", 1}, {"us", 1e3}, {"\xc2\xb5s", 1e3}, {"\xce\xbcs", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}};
    uint32_t i = 0;
    int neg = 0;
    double total = 0;
    if (i < d.n && (d.p[i] == '-' || d.p[i] == '+'))
        neg = d.p[i++] == '-';
    if (d.n - i == 1 && d.p[i] == '0')
        return 0; /* "0" is a duration, but not a positive one */
    if (i == d.n)
        return 0;
    while (i < d.n) {
        double v = 0, scale = 1;
        uint32_t start = i, digits = 0;
        for (; i < d.n && d.p[i] >= '0' && d.p[i] <= '9'; i++, digits++)
            v = v * 10 + (d.p[i] - '0');
        if (i < d.n && d.p[i] == '.')
            for (i++; i < d.n && d.p[i] >= '0' && d.p[i] <= '9'; i++, digits++)
                v += (d.p[i] - '0') * (scale /= 10);
        if (digits == 0 || i == start)
            return 0;
        uint32_t u = i;
        while (i < d.n && d.p[i] != '.' && (d.p[i] < '0' || d.p[i] > '9'))
            i++;
        int found = 0;
        for (uint32_t k = 0; k < sizeof units / sizeof *units && !found; k++)
            if (i - u == strlen(units[k].unit) && memcmp(d.p + u, units[k].unit, i - u) == 0)
                total += v * units[k].ns, found = 1;
        if (!found || total > 9.2e18)
            return 0;
    }
    if (neg || total < 1)
        return 0;
    int64_t ms = (int64_t)(total / 1e6);
    return ms * 1e6 < total ? ms + 1 : ms;
}

static uint32_t bad_param(const char *before, bytes b, const char *after) {
    msg_reset();
    msg_str(before);
    msg_quote(b.p, b.n);
    msg_str(after);
    return fail(SESAME_INVALID_ARGUMENT);
}

static int set_buf(sesame_buf *b, const uint8_t *p, uint32_t n) {
    b->len = 0;
    return n == 0 || sesame_buf_append(b, p, n);
}

static int add_endpoint(const uint8_t *p, uint32_t n) {
    while (n > 0 && p[n - 1] == '/')
        n--; /* etcdgw.New: the URL without a trailing slash */
    sesame_buf *e = realloc(conf.endpoints, (conf.n_endpoints + 1) * sizeof *e);
    if (e == NULL)
        return 0;
    conf.endpoints = e;
    e[conf.n_endpoints] = (sesame_buf){0};
    return set_buf(&e[conf.n_endpoints++], p, n) || n == 0;
}

static uint32_t param(bytes k, const uint8_t *raw, uint32_t raw_len) {
    bytes v = trim(raw, raw_len);
    if (is(k, "prefix"))
        return set_buf(&conf.prefix, v.p, v.n) ? SESAME_OK : out_of_memory();
    if (is(k, "user"))
        return set_buf(&conf.user, v.p, v.n) ? SESAME_OK : out_of_memory();
    if (is(k, "password"))
        return set_buf(&conf.password, raw, raw_len) ? SESAME_OK : out_of_memory();
    if (is(k, "retry"))
        return (conf.retry_ms = parse_duration(v)) > 0
                   ? SESAME_OK
                   : bad_param("parameter retry is ", v, ": want a duration such as 3s");
    if (!is(k, "endpoints"))
        return bad_param("unknown parameter ", k, " (etcd knows prefix, endpoints, user, password and retry)");
    for (uint32_t i = 0, start = 0; i <= v.n; i++) {
        if (i < v.n && v.p[i] != ',')
            continue;
        bytes e = trim(v.p + start, i - start);
        if (e.n > 0 && !add_endpoint(e.p, e.n))
            return out_of_memory();
        start = i + 1;
    }
    return SESAME_OK;
}

/* granted_endpoints makes the members the origins of the http grant. */
static uint32_t granted_endpoints(void) {
    sesame_buf list = {0};
    int64_t n;
    while ((n = sesame_http_origins(list.data, list.cap)) > (int64_t)list.cap && n <= SESAME_MAX_CALL)
        if (!sesame_buf_reserve(&list, (uint32_t)n))
            return out_of_memory();
    if (n > (int64_t)list.cap) {
        sesame_buf_free(&list);
        return host_failed("http_origins", SESAME_INTERNAL);
    }
    if (n < 0) {
        sesame_buf_free(&list);
        msg_reset();
        msg_str("the vault needs the http grant: the etcd members' client URLs (--grant "
                "http=http://10.0.0.5:2379,...)");
        return fail(SESAME_PERMISSION_DENIED);
    }
    const uint8_t *p = list.data + 4;
    uint32_t left = n >= 4 ? (uint32_t)n - 4 : 0, count = n >= 4 ? sesame_get_u32(list.data) : 0, st = SESAME_OK;
    for (uint32_t i = 0, k; i < count && st == SESAME_OK; i++, p += 4 + k, left -= 4 + k)
        st = left < 4 || (k = sesame_get_u32(p)) > left - 4 ? host_failed("http_origins", SESAME_INTERNAL)
             : add_endpoint(p + 4, k)                       ? SESAME_OK
                                                            : out_of_memory();
    sesame_buf_free(&list);
    return st;
}

static uint32_t init(uint32_t vault_len, uint32_t params_len) {
    uint32_t st = sesame_read_input(&conf.vault, 0, vault_len);
    if (st == SESAME_OK)
        st = sesame_read_input(&arg, 1, params_len);
    if (st != SESAME_OK)
        return fail_bare(st);
    const uint8_t *p = arg.data;
    uint32_t left = arg.len, count = left >= 4 ? sesame_get_u32(p) : 0;
    for (p += 4, left -= left >= 4 ? 4 : left; count > 0 && st == SESAME_OK; count--) {
        uint32_t kn, vn;
        if (left < 4 || (kn = sesame_get_u32(p)) > left - 4 || left - 4 - kn < 4 ||
            (vn = sesame_get_u32(p + 4 + kn)) > left - 8 - kn) {
            msg_reset();
            msg_str("malformed parameters");
            return fail(SESAME_INVALID_ARGUMENT);
        }
        st = param((bytes){(uint8_t *)p + 4, kn}, p + 8 + kn, vn);
        p += 8 + kn + vn;
        left -= 8 + kn + vn;
    }
    if (st == SESAME_OK && conf.n_endpoints == 0)
        st = granted_endpoints();
    if (st != SESAME_OK)
        return st;
    msg_reset();
    if (conf.prefix.len == 0)
        msg_str("parameter prefix is missing: the etcd keys of the team's records start with it (--param prefix=team/)");
    else if (conf.n_endpoints == 0)
        msg_str("no etcd member to reach: grant the members' client URLs (--grant http=http://10.0.0.5:2379,...)");
    else if (conf.password.len > 0 && conf.user.len == 0)
        msg_str("parameter password is given without user");
    else
        return SESAME_OK;
    return fail(SESAME_INVALID_ARGUMENT);
}

SESAME_EXPORT("sesame_init") uint32_t vault_init(uint32_t vault_len, uint32_t params_len) {
    conf.retry_ms = 3000;
    uint32_t st = init(vault_len, params_len);
    gw_init();
    buf_wipe(&arg); /* the password was in it */
    return done(st);
}

/* read_name reads argument 0, the name or pattern, into arg. */
static uint32_t read_name(uint32_t len, bytes *name) {
    uint32_t st = sesame_read_input(&arg, 0, len);
    *name = (bytes){arg.data, arg.len};
    return st == SESAME_OK ? st : fail_bare(st);
}

/* A lookup of name, for with_team: what it found is in s. */
typedef struct {
    bytes name;
    slot s;
} finding;

static uint32_t find(team *t, void *ctx) {
    finding *f = ctx;
    return lookup(&call_mem, t, f->name, &f->s);
}

SESAME_EXPORT("sesame_get") uint32_t vault_get(uint32_t name_len) {
    finding f;
    uint32_t st = read_name(name_len, &f.name);
    if (st == SESAME_OK)
        st = with_team(find, &f);
    if (st == SESAME_OK && f.s.old == NULL)
        st = fail_bare(SESAME_NOT_FOUND);
    if (st == SESAME_OK)
        st = sesame_output(f.s.old->plain.p, f.s.old->plain.n);
    return done(st);
}

/* stat reads the secret as get does, and keeps what it found as the hint
 * of the set that follows it: its etcd keys and record, without the
 * value. */
static uint32_t keep_hint(bytes name, const slot *s) {
    reset(&hint_mem);
    lookup_hint *h = alloc(&hint_mem, sizeof *h);
    if (h == NULL)
        return out_of_memory();
    *h = (lookup_hint){.name = {dup(&hint_mem, name.p, name.n), name.n}, .epoch = epoch, .s = *s};
    for (uint32_t i = 0; i < s->n_keys; i++)
        h->s.keys[i] = (bytes){dup(&hint_mem, s->keys[i].p, s->keys[i].n), s->keys[i].n};
    if (s->old != NULL) {
        record *r = alloc(&hint_mem, sizeof *r);
        if (r == NULL)
            return out_of_memory();
        /* the info, no value */
        *r = *s->old;
        r->plain = (bytes){dup(&hint_mem, s->old->plain.p, s->old->info_len), s->old->info_len};
        r->name = (bytes){r->plain.p + 4, s->old->name.n};
        r->meta = (bytes){r->plain.p + (s->old->meta.p - s->old->plain.p), s->old->meta.n};
        r->value = (bytes){0};
        r->key = (bytes){dup(&hint_mem, s->old->key.p, s->old->key.n), s->old->key.n};
        r->raw = (bytes){0};
        h->s.old = r;
    }
    hint = h;
    return SESAME_OK;
}

SESAME_EXPORT("sesame_stat") uint32_t vault_stat(uint32_t name_len) {
    finding f;
    hint = NULL;
    uint32_t st = read_name(name_len, &f.name);
    if (st == SESAME_OK)
        st = with_team(find, &f);
    if (st == SESAME_OK)
        st = keep_hint(f.name, &f.s);
    if (st == SESAME_OK)
        st = f.s.old == NULL ? fail_bare(SESAME_NOT_FOUND) : sesame_output(f.s.old->plain.p, f.s.old->info_len);
    return done(st);
}

SESAME_EXPORT("sesame_list") uint32_t vault_list(uint32_t pattern_len) {
    bytes pattern;
    team *t;
    record **all;
    uint32_t n, count = 0;
    uint32_t st = read_name(pattern_len, &pattern);
    drop_cache(); /* a listing reads the team record afresh: it reads every record */
    if (st == SESAME_OK)
        st = open_cached(1, &t);
    if (st == SESAME_OK)
        st = all_records(t, &all, &n);
    if (st != SESAME_OK)
        return done(st);
    out.len = 0;
    int ok = sesame_buf_reserve(&out, 4);
    out.len = 4;
    for (uint32_t i = 0; ok && i < n; i++) {
        if (!sesame_match(pattern.p, pattern.n, all[i]->name.p, all[i]->name.n))
            continue;
        ok = sesame_buf_append(&out, all[i]->plain.p, all[i]->info_len);
        count++;
    }
    if (!ok)
        return done(out_of_memory());
    sesame_put_u32(out.data, count);
    return done(sesame_output(out.data, out.len));
}

/* The changes of the writes. */
static uint32_t set_change(const record *old, change *c) {
    if (!c->has_md && old != NULL) {
        /* a set without metadata keeps what the secret has: the record's
         * as read by this attempt */
        c->md = old->meta;
    } else if (!c->has_md) {
        c->md = (bytes){0};
    }
    return SESAME_OK;
}

static uint32_t create_change(const record *old, change *c) {
    (void)c;
    if (old != NULL) {
        msg_reset();
        msg_str("a secret of that name exists");
        return fail(SESAME_CONFLICT);
    }
    return SESAME_OK;
}

static uint32_t metadata_change(const record *old, change *c) {
    if (old == NULL)
        return fail_bare(SESAME_NOT_FOUND);
    c->type = old->type;
    c->v = old->value;
    return SESAME_OK;
}

static uint32_t remove_change(const record *old, change *c) {
    (void)c;
    return old == NULL ? fail_bare(SESAME_NOT_FOUND) : CHANGE_REMOVE;
}

/* set_arguments reads a set's name, value and metadata (absent when its
 * length is 0: the secret's own is kept). */
static uint32_t set_arguments(uint32_t name_len, uint32_t value_len, uint32_t meta_len, change *c) {
    uint32_t st = read_name(name_len, &c->name);
    if (st == SESAME_OK)
        st = sesame_read_input(&value, 1, value_len);
    if (st == SESAME_OK)
        st = sesame_read_input(&meta, 2, meta_len);
    if (st != SESAME_OK || value.len == 0)
        return fail_bare(st != SESAME_OK ? st : SESAME_INVALID_ARGUMENT);
    c->v = (bytes){value.data, value.len};
    c->type = value.data[0];
    c->md = (bytes){meta.data, meta.len};
    c->has_md = meta_len > 0;
    return SESAME_OK;
}

SESAME_EXPORT("sesame_set") uint32_t vault_set(uint32_t name_len, uint32_t value_len, uint32_t meta_len) {
    change c = {0};
    uint32_t st = set_arguments(name_len, value_len, meta_len, &c);
    return done(st != SESAME_OK ? st : write_secret(c.name, take_hint(c.name), set_change, &c));
}

SESAME_EXPORT("sesame_create") uint32_t vault_create(uint32_t name_len, uint32_t value_len, uint32_t meta_len) {
    change c = {0};
    uint32_t st = set_arguments(name_len, value_len, meta_len, &c);
    if (st == SESAME_OK && !c.has_md)
        c.md = (bytes){0};
    return done(st != SESAME_OK ? st : write_secret(c.name, take_hint(c.name), create_change, &c));
}

SESAME_EXPORT("sesame_set_metadata") uint32_t vault_set_metadata(uint32_t name_len, uint32_t meta_len) {
    change c = {0};
    uint32_t st = read_name(name_len, &c.name);
    if (st == SESAME_OK && (st = sesame_read_input(&meta, 1, meta_len)) != SESAME_OK)
        st = fail_bare(st);
    c.md = (bytes){meta.data, meta.len};
    c.has_md = 1;
    take_hint((bytes){0});
    return done(st != SESAME_OK ? st : write_secret(c.name, NULL, metadata_change, &c));
}

SESAME_EXPORT("sesame_remove") uint32_t vault_remove(uint32_t name_len) {
    change c = {0};
    uint32_t st = read_name(name_len, &c.name);
    take_hint((bytes){0});
    return done(st != SESAME_OK ? st : write_secret(c.name, NULL, remove_change, &c));
}

/* test opens the team: the cluster answers, the user is a member, and the
 * member list is the one the user accepted. */
SESAME_EXPORT("sesame_test") uint32_t vault_test(void) {
    team *t;
    drop_cache();
    return done(open_cached(0, &t));
}

SESAME_EXPORT("sesame_members") uint32_t vault_members(uint32_t action_len, uint32_t arg_len) {
    bytes action;
    uint32_t st = read_name(action_len, &action);
    if (st == SESAME_OK && (st = sesame_read_input(&value, 1, arg_len)) != SESAME_OK)
        st = fail_bare(st);
    if (st == SESAME_OK) {
        bytes a = {dup(&call_mem, action.p, action.n), action.n};
        st = a.p == NULL ? out_of_memory() : members_action(a, (bytes){value.data, value.len}, &out);
    }
    if (st == SESAME_OK)
        st = sesame_output(out.data, out.len);
    return done(st);
}
