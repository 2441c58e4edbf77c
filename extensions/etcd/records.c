/*
 * records.c — the secrets. A secret is one etcd key under prefix + "s/":
 * the base64url of HMAC-SHA256 of its name under the names key of the team
 * key's generation. Its value is that generation (8 bytes, big-endian) and
 * the box of the secret (its §7.7 encoding: name, type, metadata, value)
 * sealed under the generation's records key, bound to the etcd key and
 * the generation, so that a box moved to another key or generation does
 * not open.
 */
#include "etcd.h"

static const char records_dir[] = "s/";
static const char record_label[] = "sesame etcd record"; /* and a NUL: the AD's start */

bytes records_prefix(arena *a) {
    return cat(a, conf.prefix.data, conf.prefix.len, records_dir, sizeof records_dir - 1);
}

uint32_t etcd_key(arena *a, const gen_keys *k, bytes name, bytes *out) {
    uint8_t sum[32];
    uint32_t st = hmac(k->names, name.p, name.n, sum);
    if (st != SESAME_OK)
        return st;
    sesame_buf b = {0};
    int ok = sesame_buf_append(&b, conf.prefix.data, conf.prefix.len) && buf_str(&b, records_dir) &&
             b64_append(&b, sum, 32, 1);
    *out = (bytes){ok ? dup(a, b.data, b.len) : NULL, b.len};
    sesame_buf_free(&b);
    return out->p != NULL ? SESAME_OK : out_of_memory();
}

/* record_ad is the additional data of the box at key of generation gen. */
static bytes record_ad(arena *a, bytes key, int64_t gen) {
    bytes ad = {alloc(a, sizeof record_label + key.n + 8), sizeof record_label + key.n + 8};
    if (ad.p != NULL) {
        memcpy(ad.p, record_label, sizeof record_label); /* with its NUL */
        memcpy(ad.p + sizeof record_label, key.p, key.n);
        put_be64(ad.p + sizeof record_label + key.n, gen);
    }
    return ad;
}

/* seal_record makes the etcd value of the secret (name, type, meta, value)
 * at key. */
uint32_t seal_record(arena *a, const gen_keys *k, bytes key, bytes name, uint8_t type, bytes meta, bytes value,
                     bytes *out) {
    uint32_t n = sesame_info_len(name.n, meta.n) + value.n;
    bytes ad = record_ad(a, key, k->gen);
    uint8_t *plain = malloc(n ? n : 1), *sealed = alloc(a, 8 + n + SESAME_KEY_OVERHEAD);
    if (plain == NULL || sealed == NULL || ad.p == NULL) {
        free(plain);
        return out_of_memory();
    }
    uint32_t off = sesame_put_info(plain, name.p, name.n, type, meta.p, meta.n);
    memcpy(plain + off, value.p, value.n);
    put_be64(sealed, k->gen);
    int64_t got = sesame_key_seal(k->records, plain, n, ad.p, ad.n, sealed + 8, n + SESAME_KEY_OVERHEAD);
    memset(plain, 0, n);
    free(plain);
    if (got < 0)
        return host_failed("key_seal", (uint32_t)-got);
    *out = (bytes){sealed, 8 + (uint32_t)got};
    return SESAME_OK;
}

/* keys_of returns the keys of generation gen, or NULL. */
static const gen_keys *keys_of(const team *t, int64_t gen) {
    if (gen == t->cur.gen)
        return &t->cur;
    if (t->has_prev && gen == t->prev.gen)
        return &t->prev;
    return NULL;
}

/* not_ours is the failure of a record that does not open or decode: why,
 * and for a generation the team does not hold (unknown 1), gen. */
static uint32_t not_ours(bytes key, const char *why, int unknown, int64_t gen) {
    msg_reset();
    msg_str("the etcd key ");
    msg_quote(key.p, key.n);
    msg_str(" ");
    msg_str(why);
    if (unknown) {
        msg_str(gen < 0 ? "-" : "");
        msg_num(gen < 0 ? 0 - (uint64_t)gen : (uint64_t)gen);
        msg_str(", which the team record does not hold");
    }
    msg_str(": it was not written by a member of this team");
    return fail(SESAME_INTERNAL);
}

/* open_record reads the secret of x with the keys of its generation. */
uint32_t open_record(arena *a, team *t, const kv *x, record **out) {
    if (x->value.n < 8)
        return not_ours(x->key, "is too short to be a record", 0, 0);
    int64_t gen = get_be64(x->value.p);
    const gen_keys *k = keys_of(t, gen);
    if (k == NULL)
        return not_ours(x->key, "is of key generation ", 1, gen);
    uint32_t box = x->value.n - 8;
    bytes ad = record_ad(a, x->key, gen);
    record *r = alloc(a, sizeof *r);
    uint8_t *plain = alloc(a, box);
    if (ad.p == NULL || r == NULL || plain == NULL)
        return out_of_memory();
    int64_t n = sesame_key_open(k->records, x->value.p + 8, box, ad.p, ad.n, plain, box);
    if (n == -(int64_t)SESAME_NOT_FOUND)
        return host_failed("key_open", SESAME_NOT_FOUND); /* the key is gone: the caller opens the team again */
    if (n < 0)
        return not_ours(x->key, "does not open with the team key", 0, 0);
    /* The type is the byte after the name; check_secret checks the rest. */
    uint32_t name_len = n >= 5 ? sesame_get_u32(plain) : 0;
    uint8_t type = n >= 5 && name_len <= n - 5 ? plain[4 + name_len] : 0;
    uint32_t info = type ? check_secret(plain, (uint32_t)n, type) : 0;
    if (info == 0)
        return not_ours(x->key, "does not decode", 0, 0);
    *r = (record){.plain = {plain, (uint32_t)n},
                  .info_len = info,
                  .name = {plain + 4, name_len},
                  .meta = {plain + 5 + name_len, info - 5 - name_len},
                  .value = {plain + info, (uint32_t)n - info},
                  .type = type,
                  .key = x->key,
                  .raw = x->value,
                  .mod_rev = x->mod_rev,
                  .gen = gen};
    *out = r;
    return SESAME_OK;
}

/* lookup finds name's record in a, in one request that also reads the
 * team record: ST_CHANGED when it is no longer the one t was opened from. */
uint32_t lookup(arena *a, team *t, bytes name, slot *s) {
    *s = (slot){0};
    uint32_t st = etcd_key(a, &t->cur, name, &s->keys[s->n_keys++]);
    if (st == SESAME_OK && t->has_prev)
        st = etcd_key(a, &t->prev, name, &s->keys[s->n_keys++]);
    if (st != SESAME_OK)
        return st;
    op ops[3] = {{OP_GET, team_key(&call_mem), {0}}, {OP_GET, s->keys[0], {0}}, {OP_GET, s->keys[1], {0}}};
    uint32_t n_ops = 1 + s->n_keys;
    txn_result r;
    gw_begin();
    if ((st = gw_txn(NULL, 0, ops, n_ops, NULL, 0, &r)) != SESAME_OK)
        return st;
    if (r.n_gets != n_ops) {
        msg_reset();
        msg_str("etcd answered a transaction of ");
        msg_num(n_ops);
        msg_str(" reads with ");
        msg_num(r.n_gets);
        return fail(SESAME_INTERNAL);
    }
    if (r.gets[0] == NULL || r.gets[0]->mod_rev != t->mod_rev)
        return ST_CHANGED;
    for (uint32_t i = 1; i < n_ops; i++) {
        if (r.gets[i] == NULL)
            continue;
        if ((st = open_record(a, t, r.gets[i], &s->old)) != SESAME_OK)
            return st;
        if (!same(s->old->name, name)) {
            msg_reset();
            msg_str("the etcd key ");
            msg_quote(r.gets[i]->key.p, r.gets[i]->key.n);
            msg_str(" holds another name than its own: it was not written by a member of this team");
            return fail(SESAME_INTERNAL);
        }
        break;
    }
    return SESAME_OK;
}

/* all_records reads every secret. */
uint32_t all_records(team *t, record ***out, uint32_t *n) {
    kv *kvs;
    uint32_t count;
    gw_begin();
    uint32_t st = gw_prefix(records_prefix(&call_mem), &kvs, &count);
    if (st != SESAME_OK)
        return st;
    record **all = alloc(&call_mem, (count ? count : 1) * sizeof *all);
    if (all == NULL)
        return out_of_memory();
    for (uint32_t i = 0; i < count; i++)
        if ((st = open_record(&call_mem, t, &kvs[i], &all[i])) != SESAME_OK)
            return st;
    *out = all, *n = count;
    return SESAME_OK;
}
