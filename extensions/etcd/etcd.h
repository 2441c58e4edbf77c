/*
 * etcd.h — what the files of builtin:etcd share: a team's secrets in an
 * etcd v3 cluster, reached through the members' JSON gateways over the
 * host's http function (SPEC.md §5.9), encrypted so that etcd and whoever
 * reads it see counts and sizes only. docs/team.md is the user's account.
 *
 *   mem.c      arenas: what a call, the cached team and the last stat's
 *              hint allocate, wiped and freed together
 *   gateway.c  the etcd client: range, transactions, authentication, the
 *              move from member to member until the retry ends; its
 *              failures as the statuses and messages the user sees
 *   team.c     the team record, its keys, what the user accepted, the
 *              members actions and the move of the records to a new key
 *   records.c  the secrets: their etcd keys, sealing and opening, lookup,
 *              listing and the write transaction
 *   vault.c    the exports, the parameters, the cached team
 *   json.c, sha256.c, secret.c, text.c: ../clib, shared with the other C
 *              extensions
 *
 * A team key encrypts everything: the etcd key of a secret is a keyed hash
 * of its name, and its value holds the sealed name, type, metadata and
 * value. The team key is wrapped to each member's age recipient and opened
 * with the user's identity (§5.10); it lives behind a handle in the host
 * (§5.8) and never in this module's memory.
 *
 * Every function that can fail returns a status with its message already
 * built (fail, host_failed), which the export sends; ST_CHANGED never goes
 * out.
 */
#ifndef ETCD_H
#define ETCD_H

#include "../clib/json.h"
#include "../clib/secret.h"
#include "../clib/sha256.h"
#include "../clib/text.h"

/* ST_CHANGED: a request found the team record changed since the cached
 * team was opened; the caller opens it afresh. */
#define ST_CHANGED 100

/* vault.c: errors. fail sends the message built in msg (msg_reset, msg_*)
 * with st; fail_bare sends st alone; host_failed is a host function's
 * failure, "sesame_v1.FUNC: STATUS", as the Go SDK words it. err_host
 * tells whether the last failure was a host function's. */
uint32_t fail(uint32_t st);
uint32_t fail_bare(uint32_t st);
uint32_t host_failed(const char *fn, uint32_t st);
uint32_t out_of_memory(void);
extern int err_host;

/* The parameters (vault.c). */
typedef struct {
    sesame_buf vault, prefix, user, password;
    sesame_buf *endpoints;
    uint32_t n_endpoints;
    int64_t retry_ms;
} settings;
extern settings conf;

/* mem.c: an arena hands out zeroed memory that reset wipes and frees at
 * once. call_mem lives for one export, team_mem as long as the cached
 * team, hint_mem as long as the hint. */
typedef struct chunk chunk;
typedef struct {
    chunk *head;
} arena;
extern arena call_mem, team_mem, hint_mem;
void *alloc(arena *a, uint32_t n);
uint8_t *dup(arena *a, const void *p, uint32_t n);
void reset(arena *a);

/* bytes is a slice of an arena. */
typedef struct {
    uint8_t *p;
    uint32_t n;
} bytes;

int same(bytes a, bytes b);
bytes cat(arena *a, const void *x, uint32_t xn, const void *y, uint32_t yn);
void put_be64(uint8_t *p, int64_t v);
int64_t get_be64(const uint8_t *p);
int64_t now_ms(void);
void sleep_ms(int64_t ms);

/* gateway.c */
typedef struct {
    bytes key, value;
    int64_t create_rev, mod_rev;
} kv;

enum { OP_GET, OP_PUT, OP_DELETE };
typedef struct {
    int kind;
    bytes key, value;
} op;

/* cmp: the key's mod_revision (mod 1) or create_revision (mod 0) is rev. */
typedef struct {
    bytes key;
    int mod;
    int64_t rev;
} cmp;

typedef struct {
    int succeeded;
    kv **gets; /* the answer of each OP_GET of the branch that ran; NULL: absent */
    uint32_t n_gets;
} txn_result;

void gw_init(void);
void gw_begin(void);
uint32_t gw_get(bytes key, kv **out);
uint32_t gw_prefix(bytes prefix, kv **out, uint32_t *n);
uint32_t gw_txn(const cmp *c, uint32_t nc, const op *then, uint32_t nt, const op *otherwise, uint32_t no,
                txn_result *r);

/* team.c */
typedef struct {
    int64_t gen;
    int32_t names, records, check; /* key handles */
} gen_keys;

/* The team record, at prefix + "team", as JSON: gen, members (the sorted
 * recipients), key (the age file of the team key to them), check (HMAC of
 * gen, members and prev), prev (during a removal, the previous key to
 * them). */
typedef struct {
    int64_t gen;
    bytes *members;
    uint32_t n_members;
    bytes key, check, prev;
    int has_prev;
} team_record;

typedef struct {
    team_record rec;
    int64_t mod_rev;
    int32_t key, prev_key; /* 0 in a team opened with held keys */
    gen_keys cur, prev;
    int has_prev;
    int reused; /* its keys are the held ones (vault.c), not made by this call */
} team;

bytes team_key(arena *a);
uint32_t open_team(arena *a, int accepted, const team *held, team **out);
uint32_t check_accepted(team *t);
uint32_t members_action(bytes action, bytes arg, sesame_buf *out);
uint32_t hmac(int32_t key, const void *p, uint32_t n, uint8_t out[32]);

/* records.c */
typedef struct {
    bytes plain;        /* the secret encoding: info, then value */
    uint32_t info_len;  /* of plain */
    bytes name, meta;   /* in plain */
    bytes value;        /* in plain: the encoded value */
    uint8_t type;
    bytes key, raw;     /* the etcd key and value */
    int64_t mod_rev, gen;
} record;

/* slot: where the secret of a name lives: its etcd key under the current
 * generation (keys[0]) and, while a removal moves the records, under the
 * previous one; and what is there. */
typedef struct {
    bytes keys[2];
    uint32_t n_keys;
    record *old;
} slot;

uint32_t lookup(arena *a, team *t, bytes name, slot *s);
uint32_t all_records(team *t, record ***out, uint32_t *n);
uint32_t open_record(arena *a, team *t, const kv *x, record **out);
uint32_t etcd_key(arena *a, const gen_keys *k, bytes name, bytes *out);
uint32_t seal_record(arena *a, const gen_keys *k, bytes key, bytes name, uint8_t type, bytes meta, bytes value,
                     bytes *out);
bytes records_prefix(arena *a);

/* vault.c: the cached team */
extern team *cached;
uint32_t current_team(team **out);
void drop_cache(void);

#endif
