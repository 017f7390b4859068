/* unigram.c — the SentencePiece Unigram model as Hugging Face `tokenizers`
 * runs it (Unigram::encode_optimized): Viterbi over a byte trie of the
 * pieces, f64 path scores, a character with no single-char piece costs
 * min_score - 10 as <unk>, consecutive unknowns are fused into one token
 * (fuse_unk), ties keep the first candidate (shorter piece, earlier start).
 *
 * The trie is built once at load from the sorted pieces, depth-first: a
 * node's children get one contiguous block (labels in one byte array) when
 * the node is visited, then each child's subtree follows; 11 bytes a node
 * (about 1.5 M nodes for XLM-R's 250k pieces). Duplicate pieces map to the
 * last id, like HF's token_to_ids HashMap. The model plugs into the
 * tokenizer through rr_unigram_ops (tok_model.h). */
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/limits.h"
#include "common/utf8.h"
#include "tokenizer/internal.h"

#define UNK_PENALTY 10.0

typedef struct {
    uint32_t first;
    int32_t value; /* piece id or -1 */
} tnode_t;

struct rr_unigram {
    /* trie: node i's children are nodes first .. first+nchild-1 */
    tnode_t *node;
    uint8_t *label;   /* label[i]: byte on the edge into node i */
    uint16_t *nchild; /* children of node i: first .. first + nchild - 1 */
    size_t n_nodes;
    uint32_t root_child[256]; /* node index + 1, 0 = none */
    /* model */
    double *scores;
    size_t n_vocab;
    int32_t unk_id; /* -1: none */
    int byte_fallback;
    int32_t byte_ids[256]; /* <0xXX> ids, -1 if missing */
    double min_score;
};

typedef struct {
    uint64_t prefix; /* first 8 bytes, big-endian, zero-padded: orders like memcmp */
    const char *s;
    uint32_t len;
    int32_t id;
} piece_key_t;

static piece_key_t make_key(const char *s, size_t len, size_t id) {
    piece_key_t k = {0, s, (uint32_t)len, (int32_t)id};
    for (size_t i = 0; i < 8; i++) k.prefix = (k.prefix << 8) | (i < len ? (uint8_t)s[i] : 0);
    return k;
}

static int key_cmp(const void *a, const void *b) {
    const piece_key_t *x = a, *y = b;
    if (x->prefix != y->prefix) return x->prefix < y->prefix ? -1 : 1;
    size_t m = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->s, y->s, m);
    if (c) return c;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

void rr_unigram_free(rr_unigram_t *u) {
    if (!u) return;
    rr_free(u->node);
    rr_free(u->label);
    rr_free(u->nchild);
    rr_free(u->scores);
    rr_free(u);
}

/* Child of `node` along byte c, or -1. Children's labels are contiguous. */
static inline int32_t child_of(const rr_unigram_t *u, uint32_t node, uint8_t c) {
    uint32_t lo = u->node[node].first, n = u->nchild[node];
    const uint8_t *l = u->label + lo;
    if (n <= 8) {
        for (uint32_t k = 0; k < n; k++)
            if (l[k] == c) return (int32_t)(lo + k);
        return -1;
    }
    const uint8_t *hit = memchr(l, c, n);
    return hit ? (int32_t)(lo + (uint32_t)(hit - l)) : -1;
}

static rerank_status_t build_trie(rr_unigram_t *u, piece_key_t *keys, size_t n) {
    qsort(keys, n, sizeof *keys, key_cmp);
    /* dedupe equal pieces, keeping the last id (sorted by id within equals) */
    size_t m = 0, total = 0;
    for (size_t i = 0; i < n; i++) {
        if (m && keys[m - 1].len == keys[i].len && !memcmp(keys[m - 1].s, keys[i].s, keys[i].len))
            keys[m - 1] = keys[i];
        else
            keys[m++] = keys[i];
    }
    for (size_t i = 0; i < m; i++) total += keys[i].len;
    size_t cap = total + 1;
    uint32_t *lo = rr_malloc(cap * sizeof(uint32_t));
    uint32_t *hi = rr_malloc(cap * sizeof(uint32_t));
    uint32_t *dep = rr_malloc(cap * sizeof(uint32_t));
    u->node = rr_malloc(cap * sizeof(tnode_t));
    u->label = rr_malloc(cap);
    u->nchild = rr_malloc(cap * sizeof(uint16_t));
    rerank_status_t st = RERANK_OK;
    if (!lo || !hi || !dep || !u->node || !u->label || !u->nchild) {
        st = rr_error(RERANK_ERR_NOMEM, "Unigram: out of memory building the piece trie");
        goto done;
    }
    size_t nn = 1;
    lo[0] = 0;
    hi[0] = (uint32_t)m;
    dep[0] = 0;
    /* depth-first: a node's children get one contiguous block when the node
     * is visited, then each child's subtree follows, so deep paths stay
     * close together in memory */
    tnode_t *nd = u->node;
    uint32_t *stack = dep ? rr_malloc(cap * sizeof(uint32_t)) : NULL;
    if (!stack) {
        st = rr_error(RERANK_ERR_NOMEM, "Unigram: out of memory building the piece trie");
        goto done;
    }
    size_t sp = 0;
    stack[sp++] = 0;
    u->label[0] = 0;
    while (sp) {
        uint32_t i = stack[--sp];
        uint32_t k = lo[i], h = hi[i], d = dep[i];
        nd[i].value = -1;
        if (k < h && keys[k].len == d) nd[i].value = keys[k++].id;
        nd[i].first = (uint32_t)nn;
        while (k < h) {
            uint8_t b = (uint8_t)keys[k].s[d];
            uint32_t j = k + 1;
            while (j < h && (uint8_t)keys[j].s[d] == b) j++;
            RR_ASSERT(nn < cap);
            u->label[nn] = b;
            lo[nn] = k;
            hi[nn] = j;
            dep[nn] = d + 1;
            nn++;
            k = j;
        }
        u->nchild[i] = (uint16_t)(nn - nd[i].first);
        for (size_t c = nn; c > nd[i].first; c--) stack[sp++] = (uint32_t)(c - 1);
    }
    rr_free(stack);
    u->n_nodes = nn;
    /* give back the unused tail of the worst-case allocation */
    tnode_t *shrunk = rr_realloc(u->node, nn * sizeof(tnode_t));
    if (shrunk) u->node = nd = shrunk;
    uint8_t *l2 = rr_realloc(u->label, nn);
    if (l2) u->label = l2;
    uint16_t *c2 = rr_realloc(u->nchild, nn * sizeof(uint16_t));
    if (c2) u->nchild = c2;
    memset(u->root_child, 0, sizeof u->root_child);
    for (uint32_t k = 0; k < u->nchild[0]; k++)
        u->root_child[u->label[nd[0].first + k]] = nd[0].first + k + 1;
done:
    rr_free(lo);
    rr_free(hi);
    rr_free(dep);
    return st;
}

int rr_unigram_lookup(const rr_unigram_t *u, const char *s, size_t n, int32_t *id) {
    if (n == 0) return 0;
    uint32_t node = u->root_child[(uint8_t)s[0]];
    if (!node) return 0;
    node--;
    for (size_t i = 1; i < n; i++) {
        int32_t c = child_of(u, node, (uint8_t)s[i]);
        if (c < 0) return 0;
        node = (uint32_t)c;
    }
    if (u->node[node].value < 0) return 0;
    *id = u->node[node].value;
    return 1;
}

static rerank_status_t finish(rr_unigram_t *u, piece_key_t *keys, size_t n_keys) {
    rerank_status_t st = build_trie(u, keys, n_keys);
    if (st) return st;
    for (int b = 0; b < 256; b++) {
        char name[8];
        static const char hex[] = "0123456789ABCDEF";
        memcpy(name, "<0x", 3);
        name[3] = hex[b >> 4];
        name[4] = hex[b & 15];
        name[5] = '>';
        if (!rr_unigram_lookup(u, name, 6, &u->byte_ids[b])) u->byte_ids[b] = -1;
    }
    return RERANK_OK;
}

rerank_status_t rr_unigram_new_raw(const char *const *pieces, const double *scores, size_t n, int32_t unk_id,
                                   int byte_fallback, rr_unigram_t **out) {
    *out = NULL;
    if (n == 0) return rr_error(RERANK_ERR_FORMAT, "Unigram: empty vocabulary");
    if (n > RR_MAX_VOCAB) return rr_error(RERANK_ERR_LIMIT, "Unigram: vocabulary too large");
    if (unk_id >= (int32_t)n) return rr_error(RERANK_ERR_FORMAT, "Unigram: unk_id %d out of range", unk_id);
    rr_unigram_t *u = rr_calloc(1, sizeof *u);
    piece_key_t *keys = rr_malloc(n * sizeof *keys);
    if (u) u->scores = rr_malloc(n * sizeof(double));
    if (!u || !keys || !u->scores) {
        rr_free(keys);
        rr_unigram_free(u);
        return rr_error(RERANK_ERR_NOMEM, "Unigram: out of memory");
    }
    u->n_vocab = n;
    u->unk_id = unk_id < 0 ? -1 : unk_id;
    u->byte_fallback = byte_fallback;
    u->min_score = 1e300;
    size_t nk = 0;
    for (size_t i = 0; i < n; i++) {
        u->scores[i] = scores[i];
        if (scores[i] < u->min_score) u->min_score = scores[i];
        size_t len = strlen(pieces[i]);
        if (len) keys[nk++] = make_key(pieces[i], len, i);
    }
    rerank_status_t st = finish(u, keys, nk);
    rr_free(keys);
    if (st) { rr_unigram_free(u); return st; }
    *out = u;
    return RERANK_OK;
}

static rerank_status_t unigram_load(const json_t *model, const rr_vocab_t *pre, void **impl, int32_t *vocab_size) {
    *impl = NULL;
    const json_t *vocab = json_object_get(model, "vocab");
    if (!json_is_array(vocab))
        return rr_error(RERANK_ERR_FORMAT, "tokenizer.json: Unigram model needs a \"vocab\" array of [piece, score]");
    size_t n = json_array_size(vocab);
    int use_pre = n == 0 && pre && pre->n > 0;
    if (use_pre) n = pre->n;
    if (n == 0) return rr_error(RERANK_ERR_FORMAT, "tokenizer.json: Unigram vocab is empty");
    if (n > RR_MAX_VOCAB)
        return rr_error(RERANK_ERR_LIMIT, "tokenizer.json: Unigram vocab has %zu entries (limit %d)", n, RR_MAX_VOCAB);
    int32_t unk_id = -1;
    const json_t *unk = json_object_get(model, "unk_id");
    if (unk && !json_is_null(unk)) {
        if (!json_is_integer(unk) || json_integer_value(unk) < 0 ||
            json_integer_value(unk) >= (json_int_t)n)
            return rr_error(RERANK_ERR_FORMAT, "tokenizer.json: Unigram unk_id must be an id below the vocab size %zu", n);
        unk_id = (int32_t)json_integer_value(unk);
    }
    int byte_fallback;
    rerank_status_t st = rr_json_bool(model, "byte_fallback", 0, &byte_fallback, "Unigram");
    if (st) return st;
    rr_unigram_t *u = rr_calloc(1, sizeof *u);
    piece_key_t *keys = rr_malloc(n * sizeof *keys);
    if (u) u->scores = rr_malloc(n * sizeof(double));
    if (!u || !keys || !u->scores) {
        rr_free(keys);
        rr_unigram_free(u);
        return rr_error(RERANK_ERR_NOMEM, "Unigram: out of memory");
    }
    u->n_vocab = n;
    u->unk_id = unk_id;
    u->byte_fallback = byte_fallback;
    u->min_score = 1e300;
    size_t nk = 0;
    for (size_t i = 0; i < n; i++) {
        const char *ps;
        size_t len;
        double sc;
        if (use_pre) {
            ps = pre->arena + pre->off[i];
            len = pre->len[i];
            sc = pre->score[i];
        } else {
            const json_t *e = json_array_get(vocab, i);
            const json_t *p = json_array_get(e, 0), *sj = json_array_get(e, 1);
            if (!json_is_array(e) || json_array_size(e) != 2 || !json_is_string(p) || !json_is_number(sj)) {
                st = rr_error(RERANK_ERR_FORMAT, "tokenizer.json: Unigram vocab entry %zu is not [string, number]", i);
                break;
            }
            ps = json_string_value(p);
            len = json_string_length(p);
            sc = json_number_value(sj);
        }
        if (!rr_utf8_valid(ps, len, NULL)) {
            st = rr_error(RERANK_ERR_FORMAT, "tokenizer.json: Unigram vocab entry %zu is not valid UTF-8", i);
            break;
        }
        if (len > RR_MAX_TOKEN_BYTES) {
            st = rr_error(RERANK_ERR_LIMIT, "tokenizer.json: Unigram piece %zu longer than %d bytes", i, RR_MAX_TOKEN_BYTES);
            break;
        }
        u->scores[i] = sc;
        if (sc < u->min_score) u->min_score = sc;
        if (len) keys[nk++] = make_key(ps, len, i);
    }
    if (!st) st = finish(u, keys, nk);
    rr_free(keys);
    if (st) { rr_unigram_free(u); return st; }
    *impl = u;
    *vocab_size = (int32_t)n;
    return RERANK_OK;
}

/* Append the id(s) of a fused run of unknown characters. */
static rerank_status_t emit_unknown(const rr_unigram_t *u, const char *s, size_t n, rr_ids_t *ids) {
    int32_t id;
    if (rr_unigram_lookup(u, s, n, &id)) return rr_ids_push(ids, id);
    if (u->byte_fallback) {
        int all = 1;
        for (size_t i = 0; i < n && all; i++) all = u->byte_ids[(uint8_t)s[i]] >= 0;
        if (all) {
            rerank_status_t st = rr_ids_reserve(ids, n);
            if (st) return st;
            for (size_t i = 0; i < n; i++) ids->v[ids->n++] = u->byte_ids[(uint8_t)s[i]];
            return RERANK_OK;
        }
    }
    if (u->unk_id < 0)
        return rr_error(RERANK_ERR_UNSUPPORTED, "Unigram: text has a character outside the vocabulary and the model has no unk_id");
    return rr_ids_push(ids, u->unk_id);
}

#define STACK_LEN 256

rerank_status_t rr_unigram_encode(const rr_unigram_t *u, const char *s, size_t n, rr_ids_t *ids) {
    if (n == 0) return RERANK_OK;
    double best_s[STACK_LEN + 1];
    int32_t start_s[STACK_LEN + 1], id_s[STACK_LEN + 1], ends_s[STACK_LEN + 1];
    double *best = best_s;
    int32_t *start = start_s, *idv = id_s, *ends = ends_s;
    void *heap = NULL;
    if (n > STACK_LEN) {
        if (n > RR_MAX_TEXT_BYTES * 4ull) return rr_error(RERANK_ERR_LIMIT, "Unigram: word too long");
        heap = rr_malloc((n + 1) * (sizeof(double) + 3 * sizeof(int32_t)));
        if (!heap) return rr_error(RERANK_ERR_NOMEM, "Unigram: out of memory (word of %zu bytes)", n);
        best = heap;
        start = (int32_t *)(best + n + 1);
        idv = start + n + 1;
        ends = idv + n + 1;
    }
    for (size_t i = 0; i <= n; i++) start[i] = -1;
    best[0] = 0.0;
    const double unk_score = u->min_score - UNK_PENALTY;
    const int32_t unk_tag = -2; /* node id marking an <unk> */
    size_t pos = 0;
    while (pos < n) {
        const double base = best[pos];
        int mblen;
        rr_utf8_decode(s, n, pos, &mblen);
        int has_single = 0;
        uint32_t node = u->root_child[(uint8_t)s[pos]];
        if (node) {
            node--;
            size_t k = pos + 1;
            for (;;) {
                int32_t v = u->node[node].value;
                if (v >= 0) {
                    double cand = u->scores[v] + base;
                    if (start[k] < 0 || cand > best[k]) {
                        best[k] = cand;
                        start[k] = (int32_t)pos;
                        idv[k] = v;
                    }
                    if (k - pos == (size_t)mblen) has_single = 1;
                }
                if (k >= n) break;
                int32_t c = child_of(u, node, (uint8_t)s[k]);
                if (c < 0) break;
                node = (uint32_t)c;
                k++;
            }
        }
        if (!has_single) {
            size_t k = pos + (size_t)mblen;
            double cand = unk_score + base;
            if (start[k] < 0 || cand > best[k]) {
                best[k] = cand;
                start[k] = (int32_t)pos;
                idv[k] = unk_tag;
            }
        }
        pos += (size_t)mblen;
    }
    /* backtrack into ends[] (token end offsets, in order), then emit
     * forward, fusing runs of unknowns */
    size_t count = 0;
    for (size_t e = n; e > 0; e = (size_t)start[e]) count++;
    {
        size_t w = count;
        for (size_t e = n; e > 0; e = (size_t)start[e]) ends[--w] = (int32_t)e;
    }
    rerank_status_t st = rr_ids_reserve(ids, count);
    for (size_t t = 0; t < count && !st;) {
        int32_t v = idv[ends[t]];
        if (v != unk_tag) {
            ids->v[ids->n++] = v;
            t++;
            continue;
        }
        size_t b0 = t ? (size_t)ends[t - 1] : 0, t2 = t;
        while (t2 < count && idv[ends[t2]] == unk_tag) t2++;
        st = emit_unknown(u, s + b0, (size_t)ends[t2 - 1] - b0, ids);
        t = t2;
    }
    rr_free(heap);
    return st;
}

static rerank_status_t unigram_encode(const void *impl, const char *s, size_t n, rr_ids_t *ids) {
    return rr_unigram_encode(impl, s, n, ids);
}

static int unigram_token_id(const void *impl, const char *s, size_t n, int32_t *id) {
    return rr_unigram_lookup(impl, s, n, id);
}

static void unigram_free(void *impl) { rr_unigram_free(impl); }

const rr_tok_model_ops_t rr_unigram_ops = {"Unigram", unigram_load, unigram_encode, unigram_token_id, unigram_free};
