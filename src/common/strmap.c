/* strmap.c — the open-addressing string -> int32 map (see strmap.h). */
#include "strmap.h"

#include <string.h>

#include "alloc.h"

typedef struct {
    uint64_t hash;   /* 0 = empty slot */
    size_t off, len; /* key bytes in the arena */
    int32_t value;
} slot_t;

struct rr_strmap {
    slot_t *slots;
    size_t cap, size; /* cap is a power of two */
    char *arena;
    size_t arena_n, arena_cap;
};

static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a, then a final mix */
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h ? h : 1;
}

rr_strmap_t *rr_strmap_new(size_t expected) {
    rr_strmap_t *m = rr_calloc(1, sizeof *m);
    if (!m) return NULL;
    size_t cap = 16;
    while (cap < expected * 2 && cap < ((size_t)1 << 40)) cap <<= 1;
    m->slots = rr_calloc(cap, sizeof *m->slots);
    if (!m->slots) { rr_free(m); return NULL; }
    m->cap = cap;
    return m;
}

void rr_strmap_free(rr_strmap_t *m) {
    if (!m) return;
    rr_free(m->slots);
    rr_free(m->arena);
    rr_free(m);
}

static slot_t *find(const rr_strmap_t *m, const char *key, size_t len, uint64_t h) {
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        slot_t *s = &m->slots[i];
        if (s->hash == 0) return s;
        if (s->hash == h && s->len == len && memcmp(m->arena + s->off, key, len) == 0) return s;
    }
}

static rerank_status_t grow(rr_strmap_t *m) {
    size_t ncap = m->cap * 2;
    slot_t *ns = rr_calloc(ncap, sizeof *ns);
    if (!ns) return RERANK_ERR_NOMEM;
    for (size_t i = 0; i < m->cap; i++) {
        slot_t *s = &m->slots[i];
        if (!s->hash) continue;
        size_t j = s->hash & (ncap - 1);
        while (ns[j].hash) j = (j + 1) & (ncap - 1);
        ns[j] = *s;
    }
    rr_free(m->slots);
    m->slots = ns;
    m->cap = ncap;
    return RERANK_OK;
}

rerank_status_t rr_strmap_put(rr_strmap_t *m, const char *key, size_t len, int32_t value) {
    if ((m->size + 1) * 4 > m->cap * 3 && grow(m) != RERANK_OK) return RERANK_ERR_NOMEM;
    uint64_t h = hash_bytes(key, len);
    slot_t *s = find(m, key, len, h);
    if (s->hash) { s->value = value; return RERANK_OK; }
    if (m->arena_n + len > m->arena_cap) {
        size_t ncap = m->arena_cap ? m->arena_cap : 4096;
        while (ncap < m->arena_n + len) ncap *= 2;
        char *na = rr_realloc(m->arena, ncap);
        if (!na) return RERANK_ERR_NOMEM;
        m->arena = na;
        m->arena_cap = ncap;
    }
    if (len) memcpy(m->arena + m->arena_n, key, len);
    s->hash = h;
    s->off = m->arena_n;
    s->len = len;
    s->value = value;
    m->arena_n += len;
    m->size++;
    return RERANK_OK;
}

int rr_strmap_get(const rr_strmap_t *m, const char *key, size_t len, int32_t *value) {
    slot_t *s = find(m, key, len, hash_bytes(key, len));
    if (!s->hash) return 0;
    *value = s->value;
    return 1;
}

size_t rr_strmap_size(const rr_strmap_t *m) { return m->size; }
