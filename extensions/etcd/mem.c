/*
 * mem.c — arenas, and the small byte helpers of etcd.h.
 *
 * What a call reads and builds (etcd's answers, the records it opens, the
 * requests it sends) is allocated from call_mem and released, wiped, when
 * the call ends: no path of the vault frees piecemeal, and no plaintext
 * outlives the call in freed memory.
 */
#include "etcd.h"

#include <time.h>

struct chunk {
    chunk *next;
    uint32_t size, used;
    uint8_t data[];
};

arena call_mem, team_mem, hint_mem;

void *alloc(arena *a, uint32_t n) {
    n = (n + 7) & ~7u;
    chunk *c = a->head;
    if (c == NULL || c->size - c->used < n) {
        uint32_t size = n > 16384 ? n : 16384;
        c = calloc(1, sizeof *c + size);
        if (c == NULL)
            return NULL;
        c->size = size;
        c->next = a->head;
        a->head = c;
    }
    c->used += n;
    return c->data + c->used - n;
}

uint8_t *dup(arena *a, const void *p, uint32_t n) {
    uint8_t *d = alloc(a, n ? n : 1);
    if (d != NULL && n > 0)
        memcpy(d, p, n);
    return d;
}

void reset(arena *a) {
    while (a->head != NULL) {
        chunk *c = a->head;
        a->head = c->next;
        memset(c->data, 0, c->used);
        free(c);
    }
}

int same(bytes a, bytes b) { return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0); }

/* cat returns x ‖ y in a; p is NULL out of memory. */
bytes cat(arena *a, const void *x, uint32_t xn, const void *y, uint32_t yn) {
    bytes b = {alloc(a, xn + yn + 1), xn + yn};
    if (b.p != NULL) {
        if (xn)
            memcpy(b.p, x, xn);
        if (yn)
            memcpy(b.p + xn, y, yn);
    }
    return b;
}

void put_be64(uint8_t *p, int64_t v) {
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)((uint64_t)v >> (56 - 8 * i));
}

int64_t get_be64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return (int64_t)v;
}

int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sleep_ms(int64_t ms) {
    if (ms <= 0)
        return;
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}
