/*
 * gateway.c — a small client of etcd v3's JSON gateway (the /v3/kv/... and
 * /v3/auth/... endpoints every member serves on its client URL): range
 * (one key or a prefix) and transactions that compare a key's
 * create_revision or mod_revision, through the host's http function. Its
 * wire is internal/etcdgw's, byte for byte: keys and values in base64, the
 * 64-bit numbers as decimal strings.
 *
 * A request goes to the member that answered last; when it fails before
 * any answer (the member is down) or the member answers that it cannot
 * serve now (no leader: gRPC code UNAVAILABLE), it goes to the next, and
 * after a round of failures, 50 ms later, round again, until the retry
 * (conf.retry_ms from gw_begin) ends: the operation then fails as
 * unavailable, naming each member's last failure. A request carries the
 * time left as grpc-timeout, which the gateway makes the deadline of the
 * request inside etcd: a member that has lost its quorum answers
 * DEADLINE_EXCEEDED then, instead of holding the request (and the host
 * call, which the guest cannot cancel) past the call's deadline.
 *
 * With a user, the client authenticates before its first request to each
 * member, and once again when the member says the token is no longer valid
 * (a restarted member forgets its tokens).
 */
#include "etcd.h"

/* gRPC status codes that the gateway reports. */
enum {
    CODE_UNKNOWN = 2,
    CODE_INVALID_ARGUMENT = 3,
    CODE_DEADLINE_EXCEEDED = 4,
    CODE_PERMISSION_DENIED = 7,
    CODE_UNAVAILABLE = 14,
    CODE_UNAUTHENTICATED = 16
};

#define RANGE_PAGE 500 /* the most keys one range request asks for */
#define PAUSE_MS 50    /* between two rounds of members that all failed */
#define HTTP_BUFFER (16u << 10)
#define MAX_RESPONSE ((16u << 20) + (1u << 20))

static uint32_t current;     /* the endpoint that last answered */
static sesame_buf *tokens;   /* per endpoint; empty: none yet */
static int64_t deadline;     /* of the request sequence gw_begin started */
static uint32_t refused;     /* the host's refusal of the last request (not a member's failure) */
static sesame_buf body, req, resp, scratch;
static json_doc doc;

/* A failure of one request at one member: no answer (answered 0), or an
 * answer of etcd that is not a success, of gRPC code code (-1: the host
 * refused the request). text is it as etcdgw words it. */
typedef struct {
    int answered, code;
    bytes message, text;
} gw_error;

void gw_init(void) {
    for (uint32_t i = 0; tokens != NULL && i < conf.n_endpoints; i++)
        sesame_buf_free(&tokens[i]);
    free(tokens);
    tokens = calloc(conf.n_endpoints ? conf.n_endpoints : 1, sizeof *tokens);
    current = 0;
}

void gw_begin(void) {
    refused = 0;
    deadline = now_ms() + conf.retry_ms;
}

/* text builds a string in the call arena from the pieces in scratch. */
static bytes scratch_text(void) { return (bytes){dup(&call_mem, scratch.data, scratch.len), scratch.len}; }

static void scratch_start(uint32_t ep, const char *path) {
    scratch.len = 0;
    buf_str(&scratch, "etcd ");
    sesame_buf_append(&scratch, conf.endpoints[ep].data, conf.endpoints[ep].len);
    buf_str(&scratch, path);
    buf_str(&scratch, ": ");
}

static void no_answer(gw_error *e, uint32_t ep, const char *path) {
    scratch_start(ep, path);
    buf_str(&scratch, "sesame_v1.http_request: unavailable");
    *e = (gw_error){.text = scratch_text()};
}

static void answer_error(gw_error *e, uint32_t ep, const char *path, uint32_t status, int code, const uint8_t *m,
                         uint32_t mn) {
    scratch_start(ep, path);
    sesame_buf_append(&scratch, m, mn);
    buf_str(&scratch, " (HTTP ");
    buf_num(&scratch, status);
    buf_str(&scratch, ", code ");
    if (code < 0)
        buf_str(&scratch, "-");
    buf_num(&scratch, (uint64_t)(code < 0 ? -(int64_t)code : code));
    buf_str(&scratch, ")");
    *e = (gw_error){.answered = 1, .code = code, .message = {dup(&call_mem, m, mn), mn}, .text = scratch_text()};
}

/* A request's encoding (§7.10): str method, str url, the headers as a
 * params map (sorted), then the body. */
static int put_str(sesame_buf *b, const void *s, uint32_t n) {
    uint8_t len[4];
    sesame_put_u32(len, n);
    return sesame_buf_append(b, len, 4) && (n == 0 || sesame_buf_append(b, s, n));
}

static int encode_request(uint32_t ep, const char *path, const sesame_buf *token) {
    uint32_t pn = (uint32_t)strlen(path), en = conf.endpoints[ep].len;
    int64_t left = deadline - now_ms();
    sesame_buf timeout = {0};
    uint8_t n4[4];
    int ok = buf_num(&timeout, (uint64_t)(left > 1 ? left : 1)) && buf_str(&timeout, "m");
    req.len = 0;
    sesame_put_u32(n4, en + pn);
    ok = ok && put_str(&req, "POST", 4) && sesame_buf_append(&req, n4, 4) &&
         sesame_buf_append(&req, conf.endpoints[ep].data, en) && sesame_buf_append(&req, path, pn);
    sesame_put_u32(n4, token->len > 0 ? 3 : 2);
    ok = ok && sesame_buf_append(&req, n4, 4);
    if (token->len > 0)
        ok = ok && put_str(&req, "authorization", 13) && put_str(&req, token->data, token->len);
    ok = ok && put_str(&req, "content-type", 12) && put_str(&req, "application/json", 16) &&
         put_str(&req, "grpc-timeout", 12) && put_str(&req, timeout.data, timeout.len) &&
         sesame_buf_append(&req, body.data, body.len);
    sesame_buf_free(&timeout);
    return ok;
}

/* round_trip sends the request in req and leaves the answer's status and
 * body in *status and *b. It returns 0 with an answer; -1 when no answer
 * came (the host could not reach the member); -2 when the host refused the
 * request (refused says why). */
static int round_trip(uint32_t *status, bytes *b) {
    if (!sesame_buf_reserve(&resp, HTTP_BUFFER)) {
        refused = SESAME_TOO_LARGE;
        return -2;
    }
    int64_t n = sesame_http_request(req.data, req.len, resp.data, resp.cap);
    if (n > (int64_t)resp.cap && n <= MAX_RESPONSE) {
        resp.len = 0;
        if (!sesame_buf_reserve(&resp, (uint32_t)n)) {
            refused = SESAME_TOO_LARGE;
            return -2;
        }
        n = sesame_http_response(resp.data, resp.cap);
    }
    if (n == -(int64_t)SESAME_UNAVAILABLE)
        return -1;
    if (n < 0) {
        refused = (uint32_t)-n;
        return -2;
    }
    /* The response (§7.11): u32 status, the headers, the body. */
    const uint8_t *p = resp.data;
    uint32_t left = (uint32_t)n <= resp.cap ? (uint32_t)n : 0, count;
    if (left < 8 || (*status = sesame_get_u32(p)) < 100 || *status > 599) {
        refused = SESAME_INTERNAL;
        return -2;
    }
    count = sesame_get_u32(p + 4);
    p += 8, left -= 8;
    for (uint32_t i = 0; i < 2 * count; i++) {
        uint32_t k;
        if (left < 4 || (k = sesame_get_u32(p)) > left - 4) {
            refused = SESAME_INTERNAL;
            return -2;
        }
        p += 4 + k, left -= 4 + k;
    }
    *b = (bytes){(uint8_t *)p, left};
    return 0;
}

/* decode_fn reads the JSON answer of a request (root: its top node) into
 * out; 0 with doc.why set when it does not decode as etcdgw's struct. */
typedef int (*decode_fn)(uint32_t root, void *out);

/* post sends body to endpoint ep's path and decodes a 200 answer with
 * decode, or sets *e to the failure. */
static int post(uint32_t ep, const char *path, const sesame_buf *token, decode_fn decode, void *out, gw_error *e) {
    uint32_t status = 0;
    bytes b;
    int r = encode_request(ep, path, token) ? round_trip(&status, &b) : (refused = SESAME_TOO_LARGE, -2);
    if (r == -1) {
        no_answer(e, ep, path);
        return 0;
    }
    if (r == -2) {
        scratch.len = 0;
        answer_error(e, ep, path, 0, -1, NULL, 0);
        return 0;
    }
    if (status != 200) {
        const uint8_t *m = NULL, *alt = NULL;
        uint32_t mn = 0, altn = 0;
        int64_t code = 0;
        if (json_parse(&doc, b.p, b.n) && json_check_type(&doc, 1, JSON_OBJECT)) {
            uint32_t msg = json_member(&doc, 1, "message"), err = json_member(&doc, 1, "error");
            int64_t c = 0;
            if (json_string(&doc, msg, &m, &mn) && json_string(&doc, err, &alt, &altn) &&
                json_int(&doc, json_member(&doc, 1, "code"), &c)) {
                code = c;
                if (mn == 0)
                    m = alt, mn = altn;
            } else {
                m = NULL, mn = 0;
            }
        }
        if (mn == 0)
            m = (const uint8_t *)"the answer is not an etcd error", mn = 31;
        if (code == 0 && status == 503)
            code = CODE_UNAVAILABLE;
        answer_error(e, ep, path, status, (int)code, m, mn);
        return 0;
    }
    if (!json_parse(&doc, b.p, b.n) || !json_check_type(&doc, 1, JSON_OBJECT) || !decode(1, out)) {
        sesame_buf why = {0};
        buf_str(&why, "the answer does not decode: ");
        buf_str(&why, doc.why);
        answer_error(e, ep, path, 200, 0, why.data, why.len);
        sesame_buf_free(&why);
        return 0;
    }
    return 1;
}

static int decode_token(uint32_t root, void *out) {
    const uint8_t *s = NULL;
    uint32_t n = 0;
    if (!json_string(&doc, json_member(&doc, root, "token"), &s, &n))
        return 0;
    sesame_buf *t = out;
    t->len = 0;
    return n == 0 || sesame_buf_append(t, s, n) || (doc.why = "out of memory", 0);
}

static int authenticate(uint32_t ep, gw_error *e) {
    static const sesame_buf none;
    body.len = 0;
    int ok = buf_str(&body, "{\"name\":") && json_put_string(&body, conf.user.data, conf.user.len) &&
             buf_str(&body, ",\"password\":") && json_put_string(&body, conf.password.data, conf.password.len) &&
             buf_str(&body, "}");
    sesame_buf token = {0};
    ok = ok && post(ep, "/v3/auth/authenticate", &none, decode_token, &token, e);
    buf_wipe(&body);
    if (ok) {
        buf_wipe(&tokens[ep]);
        ok = token.len == 0 || sesame_buf_append(&tokens[ep], token.data, token.len);
    }
    buf_wipe(&token);
    sesame_buf_free(&token);
    return ok;
}

/* call_at is one attempt at endpoint ep, authenticating first when the
 * client has a user and no token for ep, and once again when ep says the
 * token is no longer valid. The body is in body. */
static int call_at(uint32_t ep, const char *path, decode_fn decode, void *out, gw_error *e) {
    for (int attempt = 0;; attempt++) {
        if (conf.user.len > 0 && tokens[ep].len == 0) {
            sesame_buf saved = body;
            body = (sesame_buf){0};
            int ok = authenticate(ep, e);
            sesame_buf_free(&body);
            body = saved;
            if (!ok)
                return 0;
        }
        if (post(ep, path, &tokens[ep], decode, out, e))
            return 1;
        if (attempt == 0 && conf.user.len > 0 && e->answered && e->code == CODE_UNAUTHENTICATED) {
            buf_wipe(&tokens[ep]);
            continue;
        }
        return 0;
    }
}

static int quoted_contains(bytes m, const char *s) {
    uint32_t n = (uint32_t)strlen(s);
    for (uint32_t i = 0; n <= m.n && i <= m.n - n; i++)
        if (memcmp(m.p + i, s, n) == 0)
            return 1;
    return 0;
}

/* failed is etcdFailed: the status and message of a request that failed
 * with e: refused by the host (as the host said), unavailable, refused by
 * etcd's authentication, or any other answer of etcd (INTERNAL). */
static uint32_t failed(const gw_error *e) {
    if (refused != 0)
        return host_failed("http_request", refused);
    int c = e->code;
    msg_reset();
    if (c == CODE_UNAVAILABLE || c == CODE_DEADLINE_EXCEEDED ||
        (c == CODE_UNKNOWN && e->message.n == 25 && memcmp(e->message.p, "context deadline exceeded", 25) == 0)) {
        msg_str("etcd is unavailable: ");
        msg_bytes(e->text.p, e->text.n);
        return fail(SESAME_UNAVAILABLE);
    }
    if (c == CODE_UNAUTHENTICATED || c == CODE_PERMISSION_DENIED ||
        (c == CODE_INVALID_ARGUMENT &&
         (quoted_contains(e->message, "authentication failed") || quoted_contains(e->message, "user name is empty")))) {
        msg_str("etcd refused the user ");
        msg_quote(conf.user.data, conf.user.len);
        msg_str(": ");
        msg_bytes(e->text.p, e->text.n);
        return fail(SESAME_PERMISSION_DENIED);
    }
    msg_bytes(e->text.p, e->text.n);
    return fail(SESAME_INTERNAL);
}

/* unavailable is the failure of a request that no endpoint served: each
 * endpoint's last failure, in the endpoints' order. */
static uint32_t unavailable(const char *path, const bytes *failures) {
    if (refused != 0)
        return host_failed("http_request", refused);
    msg_reset();
    msg_str("etcd is unavailable: ");
    msg_str(path);
    msg_str(": every endpoint failed: ");
    for (uint32_t i = 0, first = 1; i < conf.n_endpoints; i++) {
        if (failures[i].n == 0)
            continue;
        if (!first)
            msg_str("; ");
        msg_bytes(failures[i].p, failures[i].n);
        first = 0;
    }
    return fail(SESAME_UNAVAILABLE);
}

/* call posts the JSON in body to path, from member to member as the file
 * comment says, and decodes the answer into out. */
static uint32_t call(const char *path, decode_fn decode, void *out) {
    bytes *failures = alloc(&call_mem, conf.n_endpoints * sizeof *failures);
    if (failures == NULL)
        return out_of_memory();
    for (;;) {
        for (uint32_t i = 0; i < conf.n_endpoints; i++) {
            gw_error e;
            if (call_at(current, path, decode, out, &e))
                return SESAME_OK;
            if (e.answered && e.code != CODE_UNAVAILABLE)
                return failed(&e);
            failures[current] = e.text;
            if (now_ms() >= deadline)
                return unavailable(path, failures);
            current = (current + 1) % conf.n_endpoints;
        }
        int64_t left = deadline - now_ms();
        sleep_ms(left < PAUSE_MS ? left : PAUSE_MS);
        if (left <= PAUSE_MS)
            return unavailable(path, failures);
    }
}

/* Writing requests. */
static int field(const char *name) {
    return buf_str(&body, body.len > 1 ? ",\"" : "\"") && buf_str(&body, name) && buf_str(&body, "\":");
}

/* quoted_number appends v as etcdgw's Number marshals it: a decimal in a
 * string. */
static int quoted_number(int64_t v) {
    return buf_str(&body, v < 0 ? "\"-" : "\"") && buf_num(&body, v < 0 ? 0 - (uint64_t)v : (uint64_t)v) &&
           buf_str(&body, "\"");
}

/* range_request writes etcd's RangeRequest: key alone, or [key, range_end),
 * with etcdgw's omitempty fields. */
static int range_request(bytes key, bytes end, int64_t limit, int64_t revision) {
    int ok = buf_str(&body, "{\"key\":") && json_put_base64(&body, key.p, key.n);
    if (end.n > 0)
        ok = ok && buf_str(&body, ",\"range_end\":") && json_put_base64(&body, end.p, end.n);
    if (limit != 0)
        ok = ok && buf_str(&body, ",\"limit\":") && quoted_number(limit);
    if (revision != 0)
        ok = ok && buf_str(&body, ",\"revision\":") && quoted_number(revision);
    return ok && buf_str(&body, "}");
}

/* The answers. */
typedef struct {
    int64_t revision;
    kv *kvs;
    uint32_t n;
    int more;
} range_answer;

static int decode_bytes(uint32_t node, bytes *out) {
    int present;
    if (!json_bytes(&doc, node, &scratch, &present))
        return 0;
    *out = (bytes){dup(&call_mem, scratch.data, scratch.len), scratch.len};
    buf_wipe(&scratch);
    return out->p != NULL || (doc.why = "out of memory", 0);
}

static int decode_kv(uint32_t node, kv *x) {
    int64_t version = 0;
    *x = (kv){0};
    return json_check_type(&doc, node, JSON_OBJECT) && decode_bytes(json_member(&doc, node, "key"), &x->key) &&
           decode_bytes(json_member(&doc, node, "value"), &x->value) &&
           json_int_or_string(&doc, json_member(&doc, node, "create_revision"), &x->create_rev) &&
           json_int_or_string(&doc, json_member(&doc, node, "mod_revision"), &x->mod_rev) &&
           json_int_or_string(&doc, json_member(&doc, node, "version"), &version);
}

static int decode_range(uint32_t root, void *out) {
    range_answer *r = out;
    uint32_t header = json_member(&doc, root, "header"), kvs = json_member(&doc, root, "kvs");
    *r = (range_answer){0};
    if (!json_check_type(&doc, root, JSON_OBJECT) || !json_check_type(&doc, header, JSON_OBJECT) ||
        !json_int_or_string(&doc, json_member(&doc, header, "revision"), &r->revision) ||
        !json_check_type(&doc, kvs, JSON_ARRAY) || !json_bool(&doc, json_member(&doc, root, "more"), &r->more))
        return 0;
    uint32_t n = 0;
    for (uint32_t c = kvs ? doc.nodes[kvs].first : 0; c != 0; c = doc.nodes[c].next)
        n++;
    if (n > 0 && (r->kvs = alloc(&call_mem, n * sizeof *r->kvs)) == NULL)
        return doc.why = "out of memory", 0;
    for (uint32_t c = kvs ? doc.nodes[kvs].first : 0; c != 0; c = doc.nodes[c].next)
        if (!decode_kv(c, &r->kvs[r->n++]))
            return 0;
    return 1;
}

uint32_t gw_get(bytes key, kv **out) {
    range_answer r;
    body.len = 0;
    if (!range_request(key, (bytes){0}, 0, 0))
        return out_of_memory();
    uint32_t st = call("/v3/kv/range", decode_range, &r);
    *out = st == SESAME_OK && r.n > 0 ? &r.kvs[0] : NULL;
    return st;
}

/* prefix_end is the range_end of every key that starts with prefix: its
 * last byte below 0xff incremented and the rest cut ("\0" when none). */
static bytes prefix_end(bytes prefix) {
    bytes end = {dup(&call_mem, prefix.p, prefix.n), prefix.n};
    for (uint32_t i = prefix.n; end.p != NULL && i > 0; i--) {
        if (end.p[i - 1] < 0xff) {
            end.p[i - 1]++;
            end.n = i;
            return end;
        }
    }
    return (bytes){dup(&call_mem, "", 1), 1};
}

/* gw_prefix returns every key that starts with prefix, in byte order, as
 * of one revision (the first page's: the later pages read at it). */
uint32_t gw_prefix(bytes prefix, kv **out, uint32_t *n) {
    bytes key = prefix, end = prefix_end(prefix);
    int64_t revision = 0;
    kv *all = NULL;
    uint32_t count = 0;
    if (end.p == NULL)
        return out_of_memory();
    for (;;) {
        range_answer r;
        body.len = 0;
        if (!range_request(key, end, RANGE_PAGE, revision))
            return out_of_memory();
        uint32_t st = call("/v3/kv/range", decode_range, &r);
        if (st != SESAME_OK)
            return st;
        if (r.n > 0) {
            kv *more = alloc(&call_mem, (count + r.n) * sizeof *more);
            if (more == NULL)
                return out_of_memory();
            if (count > 0)
                memcpy(more, all, count * sizeof *all);
            memcpy(more + count, r.kvs, r.n * sizeof *r.kvs);
            all = more, count += r.n;
        }
        if (revision == 0)
            revision = r.revision;
        if (!r.more || r.n == 0) {
            *out = all, *n = count;
            return SESAME_OK;
        }
        bytes last = r.kvs[r.n - 1].key;
        key = cat(&call_mem, last.p, last.n, "", 1);
        if (key.p == NULL)
            return out_of_memory();
    }
}

static int ops(const char *name, const op *list, uint32_t n) {
    if (n == 0)
        return 1;
    int ok = field(name) && buf_str(&body, "[");
    for (uint32_t i = 0; ok && i < n; i++) {
        const op *o = &list[i];
        ok = buf_str(&body, i > 0 ? "," : "");
        if (o->kind == OP_PUT)
            ok = ok && buf_str(&body, "{\"request_put\":{\"key\":") && json_put_base64(&body, o->key.p, o->key.n) &&
                 buf_str(&body, ",\"value\":") && json_put_base64(&body, o->value.p, o->value.n) &&
                 buf_str(&body, "}}");
        else if (o->kind == OP_DELETE)
            ok = ok && buf_str(&body, "{\"request_delete_range\":{\"key\":") &&
                 json_put_base64(&body, o->key.p, o->key.n) && buf_str(&body, "}}");
        else
            ok = ok && buf_str(&body, "{\"request_range\":") && range_request(o->key, (bytes){0}, 0, 0) &&
                 buf_str(&body, "}");
    }
    return ok && buf_str(&body, "]");
}

static int decode_txn(uint32_t root, void *out) {
    txn_result *r = out;
    uint32_t responses = json_member(&doc, root, "responses");
    int64_t revision = 0;
    *r = (txn_result){0};
    if (!json_check_type(&doc, json_member(&doc, root, "header"), JSON_OBJECT) ||
        !json_int_or_string(&doc, json_member(&doc, json_member(&doc, root, "header"), "revision"), &revision) ||
        !json_bool(&doc, json_member(&doc, root, "succeeded"), &r->succeeded) ||
        !json_check_type(&doc, responses, JSON_ARRAY))
        return 0;
    uint32_t n = 0;
    for (uint32_t c = responses ? doc.nodes[responses].first : 0; c != 0; c = doc.nodes[c].next)
        n++;
    if (n > 0 && (r->gets = alloc(&call_mem, n * sizeof *r->gets)) == NULL)
        return doc.why = "out of memory", 0;
    for (uint32_t c = responses ? doc.nodes[responses].first : 0; c != 0; c = doc.nodes[c].next) {
        if (!json_check_type(&doc, c, JSON_OBJECT))
            return 0;
        uint32_t rr = json_member(&doc, c, "response_range");
        if (rr == 0 || doc.nodes[rr].type == JSON_NULL)
            continue;
        range_answer a;
        if (!decode_range(rr, &a))
            return 0;
        r->gets[r->n_gets++] = a.n > 0 ? &a.kvs[0] : NULL;
    }
    return 1;
}

/* gw_txn runs one transaction: atomically, if every compare holds, the
 * operations of then, else those of otherwise. */
uint32_t gw_txn(const cmp *c, uint32_t nc, const op *then, uint32_t nt, const op *otherwise, uint32_t no,
                txn_result *r) {
    body.len = 0;
    int ok = buf_str(&body, "{");
    if (nc > 0) {
        ok = ok && field("compare") && buf_str(&body, "[");
        for (uint32_t i = 0; ok && i < nc; i++) {
            ok = buf_str(&body, i > 0 ? ",{\"key\":" : "{\"key\":") && json_put_base64(&body, c[i].key.p, c[i].key.n) &&
                 buf_str(&body, c[i].mod ? ",\"target\":\"MOD\"" : ",\"target\":\"CREATE\"") &&
                 buf_str(&body, ",\"result\":\"EQUAL\"");
            if (c[i].rev != 0)
                ok = ok && buf_str(&body, c[i].mod ? ",\"mod_revision\":" : ",\"create_revision\":") &&
                     quoted_number(c[i].rev);
            ok = ok && buf_str(&body, "}");
        }
        ok = ok && buf_str(&body, "]");
    }
    ok = ok && ops("success", then, nt) && ops("failure", otherwise, no) && buf_str(&body, "}");
    if (!ok)
        return out_of_memory();
    uint32_t st = call("/v3/kv/txn", decode_txn, r);
    buf_wipe(&body);
    return st;
}
