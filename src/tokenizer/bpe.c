/* bpe.c — the BPE model of Hugging Face `tokenizers` (models/bpe), plugged
 * into the tokenizer as rr_bpe_ops. A word starts as one symbol per char
 * (its vocab id; else its <0xXX> byte pieces with byte_fallback; else the
 * unk token, fused over a run with fuse_unk; else nothing), then the
 * adjacent pair with the lowest merge rank is merged, the leftmost first
 * among equal ranks, until no adjacent pair has a merge (HF's Word::merge_all:
 * a min-heap of (rank, position) with stale entries skipped).
 *
 * merges may be "a b" strings or ["a", "b"] pairs (both occur on the Hub);
 * a later duplicate of a pair overrides the earlier (HF builds a HashMap).
 * Supported options: unk_token, fuse_unk, byte_fallback, ignore_merges;
 * dropout must be null or 0 and continuing_subword_prefix /
 * end_of_word_suffix null or "" (else RERANK_ERR_UNSUPPORTED). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/limits.h"
#include "common/strmap.h"
#include "common/utf8.h"
#include "tokenizer/tok_model.h"

/* Chars of one word BPE takes on: each char is a symbol, and the symbols,
 * the heap and the links take ~40 bytes each. Real words are short; this
 * bounds a pathological one (e.g. 16 MB of letters without a break). */
#define RR_BPE_MAX_WORD_CHARS (1u << 20)
/* Code points below this have their single-char id in a table. */
#define SMALL_CP 1024

typedef struct {
    uint64_t key; /* (left id << 32) | right id; EMPTY when free */
    uint32_t rank;
    int32_t new_id;
} merge_slot_t;

#define EMPTY UINT64_MAX

typedef struct rr_bpe {
    rr_strmap_t *vocab;
    merge_slot_t *merges;
    size_t mask; /* merges table size - 1 (a power of two) */
    int32_t small[SMALL_CP]; /* id of the one-char token U+0000..U+03FF, -1 if none */
    int32_t byte_ids[256];   /* <0xXX> ids for byte_fallback, -1 if none */
    int32_t unk_id;          /* -1: no unk_token */
    int fuse_unk, byte_fallback, ignore_merges;
    /* whole[id]: does a word that is exactly token `id` come out as that one
     * token? Learnt on first sight (WHOLE_UNKNOWN until then); concurrent
     * first sights store the same answer, so relaxed atomics suffice. Most
     * frequent words are vocab tokens: this spares them the merges. */
    _Atomic unsigned char *whole;
    size_t n_whole;
    uint32_t serial; /* this model's tag in the threads' word caches */
} rr_bpe_t;

enum { WHOLE_UNKNOWN = 0, WHOLE_YES = 1, WHOLE_NO = 2 };

static atomic_uint g_serial; /* models loaded so far: each one's serial */

static size_t slot_of(const rr_bpe_t *b, uint64_t key) {
    uint64_t h = key * 0x9E3779B97F4A7C15ull;
    return (size_t)(h ^ (h >> 29)) & b->mask;
}

static const merge_slot_t *merge_find(const rr_bpe_t *b, int32_t l, int32_t r) {
    uint64_t key = (uint64_t)(uint32_t)l << 32 | (uint32_t)r;
    for (size_t i = slot_of(b, key);; i = (i + 1) & b->mask) {
        const merge_slot_t *s = &b->merges[i];
        if (s->key == key) return s;
        if (s->key == EMPTY) return NULL;
    }
}

static void bpe_free(void *impl) {
    rr_bpe_t *b = impl;
    if (!b) return;
    rr_strmap_free(b->vocab);
    rr_free(b->merges);
    rr_free((void *)b->whole);
    rr_free(b);
}

static int bpe_token_id(const void *impl, const char *s, size_t n, int32_t *id) {
    return rr_strmap_get(((const rr_bpe_t *)impl)->vocab, s, n, id);
}

/* ---- loading ---------------------------------------------------------------- */

/* A string option that must be null/absent or "" (what this model supports). */
static rerank_status_t empty_string_option(const json_t *model, const char *key) {
    const json_t *v = json_object_get(model, key);
    if (!v || json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0)) return RERANK_OK;
    if (!json_is_string(v)) return rr_error(RERANK_ERR_FORMAT, "tokenizer.json: BPE.%s must be a string or null", key);
    return rr_error(RERANK_ERR_UNSUPPORTED, "tokenizer.json: BPE.%s \"%.40s\" is not supported (only null or \"\")", key,
                    json_string_value(v));
}

static rerank_status_t parse_options(const json_t *model, rr_bpe_t *b) {
    rerank_status_t st;
    const json_t *d = json_object_get(model, "dropout");
    if (d && !json_is_null(d)) {
        if (!json_is_number(d)) return rr_error(RERANK_ERR_FORMAT, "tokenizer.json: BPE.dropout must be a number or null");
        if (json_number_value(d) != 0.0)
            return rr_error(RERANK_ERR_UNSUPPORTED, "tokenizer.json: BPE.dropout %g is not supported (random merges; only null or 0)",
                            json_number_value(d));
    }
    if ((st = empty_string_option(model, "continuing_subword_prefix")) ||
        (st = empty_string_option(model, "end_of_word_suffix")) ||
        (st = rr_json_bool(model, "fuse_unk", 0, &b->fuse_unk, "BPE")) ||
        (st = rr_json_bool(model, "byte_fallback", 0, &b->byte_fallback, "BPE")) ||
        (st = rr_json_bool(model, "ignore_merges", 0, &b->ignore_merges, "BPE")))
        return st;
    return RERANK_OK;
}

static rerank_status_t add_token(rr_bpe_t *b, const char *s, size_t n, int64_t id, size_t i, int32_t *max_id) {
    if (n == 0 || n > RR_MAX_TOKEN_BYTES || !rr_utf8_valid(s, n, NULL))
        return rr_error(n > RR_MAX_TOKEN_BYTES ? RERANK_ERR_LIMIT : RERANK_ERR_FORMAT,
                        "tokenizer.json: BPE vocab entry %zu must be a UTF-8 string of 1..%d bytes", i, RR_MAX_TOKEN_BYTES);
    if (id < 0 || id >= RR_MAX_VOCAB)
        return rr_error(RERANK_ERR_FORMAT, "tokenizer.json: BPE vocab entry %zu (\"%.40s\") needs an id in [0, %d)", i, s,
                        RR_MAX_VOCAB);
    if (id > *max_id) *max_id = (int32_t)id;
    return rr_strmap_put(b->vocab, s, n, (int32_t)id);
}

static rerank_status_t load_vocab(const json_t *model, const rr_vocab_t *pre, rr_bpe_t *b, int32_t *max_id) {
    const json_t *v = json_object_get(model, "vocab");
    size_t n = pre->has_merges ? pre->n : json_object_size(v);
    if (!pre->has_merges && !json_is_object(v))
        return rr_error(RERANK_ERR_FORMAT, "tokenizer.json: BPE model needs a \"vocab\" object {token: id}");
    if (n == 0 || n > RR_MAX_VOCAB)
        return rr_error(n ? RERANK_ERR_LIMIT : RERANK_ERR_FORMAT, "tokenizer.json: BPE vocab %s %zu entries (limit %d)",
                        n ? "has" : "is empty:", n, RR_MAX_VOCAB);
    if (!(b->vocab = rr_strmap_new(n))) return rr_error(RERANK_ERR_NOMEM, "BPE: out of memory");
    rerank_status_t st = RERANK_OK;
    if (pre->has_merges) {
        for (size_t i = 0; !st && i < n; i++) st = add_token(b, pre->arena + pre->off[i], pre->len[i], pre->id[i], i, max_id);
        return st;
    }
    const char *key;
    const json_t *val;
    size_t i = 0;
    json_object_foreach((json_t *)v, key, val) {
        if (!json_is_integer(val))
            return rr_error(RERANK_ERR_FORMAT, "tokenizer.json: BPE vocab entry \"%.40s\" needs an integer id", key);
        if ((st = add_token(b, key, strlen(key), json_integer_value(val), i++, max_id))) return st;
    }
    return RERANK_OK;
}

/* The two strings of merge i from the JSON: "a b" or ["a", "b"]. */
static rerank_status_t json_merge(const json_t *e, size_t i, const char **a, size_t *na, const char **c, size_t *nc) {
    if (json_is_string(e)) {
        const char *s = json_string_value(e), *sp = memchr(s, ' ', json_string_length(e));
        if (sp && !memchr(sp + 1, ' ', json_string_length(e) - (size_t)(sp + 1 - s))) {
            *a = s;
            *na = (size_t)(sp - s);
            *c = sp + 1;
            *nc = json_string_length(e) - *na - 1;
            return RERANK_OK;
        }
    } else if (json_is_array(e) && json_array_size(e) == 2 && json_is_string(json_array_get(e, 0)) &&
               json_is_string(json_array_get(e, 1))) {
        *a = json_string_value(json_array_get(e, 0));
        *na = json_string_length(json_array_get(e, 0));
        *c = json_string_value(json_array_get(e, 1));
        *nc = json_string_length(json_array_get(e, 1));
        return RERANK_OK;
    }
    return rr_error(RERANK_ERR_FORMAT, "tokenizer.json: BPE merge %zu must be \"a b\" (one space) or [\"a\", \"b\"]", i);
}

static rerank_status_t add_merge(rr_bpe_t *b, size_t rank, const char *a, size_t na, const char *c, size_t nc,
                                 char *buf) {
    int32_t l, r, m;
    if (na + nc > RR_MAX_TOKEN_BYTES)
        return rr_error(RERANK_ERR_LIMIT, "tokenizer.json: BPE merge %zu joins more than %d bytes", rank, RR_MAX_TOKEN_BYTES);
    memcpy(buf, a, na);
    memcpy(buf + na, c, nc);
    const char *miss = !rr_strmap_get(b->vocab, a, na, &l) ? a : !rr_strmap_get(b->vocab, c, nc, &r) ? c
                       : !rr_strmap_get(b->vocab, buf, na + nc, &m)                                     ? buf
                                                                                                        : NULL;
    if (miss)
        return rr_error(RERANK_ERR_FORMAT, "tokenizer.json: BPE merge %zu (\"%.*s\" \"%.*s\"): \"%.*s\" is not in the vocab",
                        rank, (int)na, a, (int)nc, c, (int)(miss == buf ? na + nc : miss == a ? na : nc), miss);
    uint64_t key = (uint64_t)(uint32_t)l << 32 | (uint32_t)r;
    size_t i = slot_of(b, key);
    while (b->merges[i].key != EMPTY && b->merges[i].key != key) i = (i + 1) & b->mask;
    b->merges[i] = (merge_slot_t){key, (uint32_t)rank, m};
    return RERANK_OK;
}

static rerank_status_t load_merges(const json_t *model, const rr_vocab_t *pre, rr_bpe_t *b) {
    const json_t *arr = json_object_get(model, "merges");
    if (!pre->has_merges && !json_is_array(arr))
        return rr_error(RERANK_ERR_FORMAT, "tokenizer.json: BPE model needs a \"merges\" array");
    size_t n = pre->has_merges ? pre->n_merges : json_array_size(arr);
    if (n > RR_MAX_VOCAB)
        return rr_error(RERANK_ERR_LIMIT, "tokenizer.json: BPE has %zu merges (limit %d)", n, RR_MAX_VOCAB);
    size_t size = 16;
    while (size < 2 * n) size *= 2;
    b->merges = rr_malloc(size * sizeof *b->merges);
    char *buf = rr_malloc(2 * RR_MAX_TOKEN_BYTES + 1);
    if (!b->merges || !buf) {
        rr_free(buf);
        return rr_error(RERANK_ERR_NOMEM, "BPE: out of memory for %zu merges", n);
    }
    b->mask = size - 1;
    for (size_t i = 0; i < size; i++) b->merges[i].key = EMPTY;
    rerank_status_t st = RERANK_OK;
    for (size_t i = 0; !st && i < n; i++) {
        const char *a = NULL, *c = NULL;
        size_t na = 0, nc = 0;
        if (pre->has_merges) {
            a = pre->arena + pre->m_off[2 * i];
            na = pre->m_len[2 * i];
            c = pre->arena + pre->m_off[2 * i + 1];
            nc = pre->m_len[2 * i + 1];
        } else if ((st = json_merge(json_array_get(arr, i), i, &a, &na, &c, &nc))) {
            break;
        }
        st = add_merge(b, i, a, na, c, nc, buf);
    }
    rr_free(buf);
    return st;
}

static rerank_status_t bpe_load(const json_t *model, const rr_vocab_t *pre, void **impl, int32_t *vocab_size) {
    *impl = NULL;
    rr_bpe_t *b = rr_calloc(1, sizeof *b);
    if (!b) return rr_error(RERANK_ERR_NOMEM, "BPE: out of memory");
    int32_t max_id = -1;
    rerank_status_t st = parse_options(model, b);
    if (!st) st = load_vocab(model, pre, b, &max_id);
    if (!st) st = load_merges(model, pre, b);
    b->unk_id = -1;
    const json_t *unk = json_object_get(model, "unk_token");
    if (!st && unk && !json_is_null(unk)) {
        if (!json_is_string(unk)) st = rr_error(RERANK_ERR_FORMAT, "tokenizer.json: BPE.unk_token must be a string or null");
        else if (!rr_strmap_get(b->vocab, json_string_value(unk), json_string_length(unk), &b->unk_id))
            st = rr_error(RERANK_ERR_FORMAT, "tokenizer.json: BPE.unk_token \"%.40s\" is not in the vocab", json_string_value(unk));
    }
    if (!st) {
        b->n_whole = (size_t)max_id + 1;
        b->whole = rr_calloc(b->n_whole ? b->n_whole : 1, sizeof *b->whole);
        if (!b->whole) st = rr_error(RERANK_ERR_NOMEM, "BPE: out of memory");
    }
    if (st) {
        bpe_free(b);
        return st;
    }
    for (uint32_t cp = 0; cp < SMALL_CP; cp++) {
        char s[4];
        int k = rr_utf8_encode(cp, s);
        if (!rr_strmap_get(b->vocab, s, (size_t)k, &b->small[cp])) b->small[cp] = -1;
    }
    for (int i = 0; i < 256; i++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", i);
        if (!rr_strmap_get(b->vocab, name, 6, &b->byte_ids[i])) b->byte_ids[i] = -1;
    }
    b->serial = atomic_fetch_add(&g_serial, 1) + 1; /* 0: an empty cache slot */
    *impl = b;
    *vocab_size = max_id + 1;
    return RERANK_OK;
}

/* ---- the per-thread word cache ------------------------------------------------ */

/* Like HF's BPE_LOCAL_CACHE: each thread keeps the ids of the short words it
 * saw last, in a direct-mapped table (64-byte entries), so a frequent word
 * costs one hash and one line of memory instead of a vocab lookup and the
 * merges. Entries are tagged with the model's serial (unique per load), so a
 * model loaded at a freed one's address never sees its entries. The table is
 * made on a thread's first short word (failing like any allocation) and
 * freed when the thread exits. */
#define WC_SLOTS 4096
#define WC_KEY 22
#define WC_IDS 4

typedef struct {
    uint32_t serial;
    uint8_t len, n;
    char key[WC_KEY];
    int32_t ids[WC_IDS];
    uint32_t pad[5]; /* 64 bytes */
} wc_entry_t;

static _Thread_local wc_entry_t *tl_cache;
static pthread_key_t wc_key;
static pthread_once_t wc_once = PTHREAD_ONCE_INIT;

static void wc_destroy(void *p) { rr_free(p); }
static void wc_init(void) { (void)pthread_key_create(&wc_key, wc_destroy); }

static wc_entry_t *wc_table(void) {
    if (tl_cache) return tl_cache;
    pthread_once(&wc_once, wc_init);
    wc_entry_t *t = rr_calloc(WC_SLOTS, sizeof *t);
    if (t && pthread_setspecific(wc_key, t)) {
        rr_free(t);
        t = NULL;
    }
    return tl_cache = t;
}

static void wc_store(wc_entry_t *slot, uint32_t serial, const char *s, size_t n, const int32_t *ids, size_t count) {
    if (!slot || count > WC_IDS) return;
    slot->serial = serial;
    slot->len = (uint8_t)n;
    slot->n = (uint8_t)count;
    memcpy(slot->key, s, n);
    if (count) memcpy(slot->ids, ids, count * sizeof *ids);
}

static wc_entry_t *wc_slot(wc_entry_t *t, const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return &t[(h ^ (h >> 32)) & (WC_SLOTS - 1)];
}

/* ---- encoding ----------------------------------------------------------------- */

typedef struct {
    int32_t id, prev, next; /* id -1: merged into its left neighbour */
} sym_t;

typedef struct {
    uint32_t rank, pos;
    int32_t new_id;
} cand_t;

static int cand_less(const cand_t *a, const cand_t *b) {
    return a->rank != b->rank ? a->rank < b->rank : a->pos < b->pos;
}

static void heap_push(cand_t *h, size_t *n, cand_t c) {
    size_t i = (*n)++;
    while (i > 0 && cand_less(&c, &h[(i - 1) / 2])) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = c;
}

static cand_t heap_pop(cand_t *h, size_t *n) {
    cand_t top = h[0], last = h[--*n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && cand_less(&h[c + 1], &h[c])) c++;
        if (!cand_less(&h[c], &last)) break;
        h[i] = h[c];
        i = c;
    }
    if (*n) h[i] = last;
    return top;
}

/* Queue the merge of symbol `pos` with its right neighbour, if there is one. */
static void push_pair(const rr_bpe_t *b, const sym_t *sy, uint32_t pos, cand_t *h, size_t *nh) {
    if (sy[pos].next < 0) return;
    const merge_slot_t *m = merge_find(b, sy[pos].id, sy[sy[pos].next].id);
    if (m) heap_push(h, nh, (cand_t){m->rank, pos, m->new_id});
}

/* Symbols of the word's chars (HF's merge_word before merge_all). */
static size_t initial_symbols(const rr_bpe_t *b, const char *s, size_t n, sym_t *sy) {
    size_t k = 0;
    int32_t unk = -1; /* a pending (possibly fused) unk */
    for (size_t i = 0; i < n;) {
        int len;
        uint32_t cp = rr_utf8_decode(s, n, i, &len);
        int32_t id = -1;
        if (cp < SMALL_CP) id = b->small[cp];
        else if (!rr_strmap_get(b->vocab, s + i, (size_t)len, &id)) id = -1;
        if (id >= 0) {
            if (unk >= 0) { sy[k++].id = unk; unk = -1; }
            sy[k++].id = id;
        } else {
            int all = b->byte_fallback;
            for (int j = 0; all && j < len; j++) all = b->byte_ids[(uint8_t)s[i + j]] >= 0;
            if (all) {
                for (int j = 0; j < len; j++) sy[k++].id = b->byte_ids[(uint8_t)s[i + j]];
            } else if (b->unk_id >= 0) {
                if (unk >= 0 && !b->fuse_unk) sy[k++].id = unk;
                unk = b->unk_id;
            }
        }
        i += (size_t)len;
    }
    if (unk >= 0) sy[k++].id = unk;
    return k;
}

#define STACK_SYMS 128

static rerank_status_t bpe_encode(const void *impl, const char *s, size_t n, rr_ids_t *ids) {
    const rr_bpe_t *b = impl;
    wc_entry_t *slot = NULL;
    if (n <= WC_KEY) {
        if (!(slot = wc_table())) return rr_error(RERANK_ERR_NOMEM, "BPE: out of memory (word cache)");
        slot = wc_slot(slot, s, n);
        if (slot->serial == b->serial && slot->len == n && !memcmp(slot->key, s, n)) {
            rerank_status_t st = rr_ids_reserve(ids, slot->n);
            if (st) return st;
            if (slot->n) memcpy(ids->v + ids->n, slot->ids, slot->n * sizeof *slot->ids);
            ids->n += slot->n;
            return RERANK_OK;
        }
    }
    int32_t whole = -1;
    unsigned char known = WHOLE_NO;
    if (rr_strmap_get(b->vocab, s, n, &whole)) {
        known = b->ignore_merges ? WHOLE_YES : atomic_load_explicit(&b->whole[whole], memory_order_relaxed);
        if (known == WHOLE_YES) {
            wc_store(slot, b->serial, s, n, &whole, 1);
            return rr_ids_push(ids, whole);
        }
    }
    /* at most one symbol per byte (byte_fallback), and a char has >= 1 byte */
    if (n > RR_BPE_MAX_WORD_CHARS)
        return rr_error(RERANK_ERR_LIMIT, "BPE: a word of %zu bytes (limit %u) without a break", n, RR_BPE_MAX_WORD_CHARS);
    sym_t sy_s[STACK_SYMS];
    cand_t h_s[3 * STACK_SYMS];
    sym_t *sy = sy_s;
    cand_t *h = h_s;
    void *heap = NULL;
    if (n > STACK_SYMS) {
        heap = rr_malloc(n * (sizeof *sy + 3 * sizeof *h));
        if (!heap) return rr_error(RERANK_ERR_NOMEM, "BPE: out of memory (word of %zu bytes)", n);
        sy = heap;
        h = (cand_t *)(sy + n);
    }
    size_t k = initial_symbols(b, s, n, sy), nh = 0;
    for (size_t i = 0; i < k; i++) {
        sy[i].prev = (int32_t)i - 1;
        sy[i].next = i + 1 < k ? (int32_t)i + 1 : -1;
    }
    for (size_t i = 0; i + 1 < k; i++) push_pair(b, sy, (uint32_t)i, h, &nh);
    /* each merge pops one candidate and pushes at most two: the heap never
     * holds more than 3k entries */
    while (nh) {
        cand_t c = heap_pop(h, &nh);
        sym_t *l = &sy[c.pos];
        if (l->id < 0 || l->next < 0) continue;
        const merge_slot_t *m = merge_find(b, l->id, sy[l->next].id);
        if (!m || m->new_id != c.new_id) continue; /* stale */
        int32_t r = l->next;
        l->id = c.new_id;
        l->next = sy[r].next;
        sy[r].id = -1;
        if (l->next >= 0) sy[l->next].prev = (int32_t)c.pos;
        if (l->prev >= 0) push_pair(b, sy, (uint32_t)l->prev, h, &nh);
        push_pair(b, sy, c.pos, h, &nh);
    }
    size_t count = 0;
    for (int32_t i = k ? 0 : -1; i >= 0; i = sy[i].next) count++;
    if (known == WHOLE_UNKNOWN)
        atomic_store_explicit(&b->whole[whole], count == 1 && sy[0].id == whole ? WHOLE_YES : WHOLE_NO,
                              memory_order_relaxed);
    rerank_status_t st = rr_ids_reserve(ids, count);
    for (int32_t i = k && !st ? 0 : -1; i >= 0; i = sy[i].next) ids->v[ids->n++] = sy[i].id;
    if (!st) wc_store(slot, b->serial, s, n, count ? ids->v + ids->n - count : NULL, count);
    rr_free(heap);
    return st;
}

const rr_tok_model_ops_t rr_bpe_ops = {"BPE", bpe_load, bpe_encode, bpe_token_id, bpe_free};
