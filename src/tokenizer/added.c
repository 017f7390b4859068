/* added.c — splitting text on added tokens, as HF's
 * AddedVocabulary::find_matches: leftmost-longest, non-overlapping matches
 * (aho-corasick MatchKind::LeftmostLongest, resuming after each match's
 * end); single_word drops a match touching a \w char on either side; lstrip
 * / rstrip widen the match over adjacent \s whitespace (lstrip never past
 * the previous split). The tokens of one class (normalized or not) sit in a
 * byte trie built at load, so each position costs one walk as long as the
 * longest token matching there (a table lookup where none starts). */
#include <string.h>

#include "common/alloc.h"

#include "common/error.h"
#include "common/utf8.h"
#include "tokenizer/charclass.h"
#include "tokenizer/internal.h"

static rerank_status_t push(rr_splits_t *o, size_t a, size_t b, int32_t id) {
    if (o->n == o->cap) {
        rerank_status_t st = rr_grow((void **)&o->v, &o->cap, o->n + 1, sizeof *o->v);
        if (st) return st;
    }
    o->v[o->n].start = a;
    o->v[o->n].end = b;
    o->v[o->n].id = id;
    o->n++;
    return RERANK_OK;
}

/* Start of the code point ending right before byte i (i > 0). */
static size_t prev_cp(const char *s, size_t i) {
    size_t k = i - 1;
    while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80) k--;
    return k;
}

typedef struct {
    int32_t child, sibling; /* node indices, -1: none */
    int32_t token;          /* index into the token array, -1: none */
    uint8_t label;
} added_node_t;

struct rr_added_trie {
    int32_t root[256]; /* node of each first byte, -1: none */
    added_node_t *node;
    size_t n, cap;
};

void rr_added_trie_free(rr_added_trie_t *t) {
    if (!t) return;
    rr_free(t->node);
    rr_free(t);
}

static rerank_status_t new_node(rr_added_trie_t *t, uint8_t label, int32_t *idx) {
    rerank_status_t st = rr_grow((void **)&t->node, &t->cap, t->n + 1, sizeof *t->node);
    if (st) return st;
    t->node[t->n] = (added_node_t){-1, -1, -1, label};
    *idx = (int32_t)t->n++;
    return RERANK_OK;
}

rerank_status_t rr_added_trie_new(const rr_added_t *toks, size_t n_toks, int want_normalized, rr_added_trie_t **out) {
    *out = NULL;
    rr_added_trie_t *t = rr_calloc(1, sizeof *t);
    if (!t) return rr_error(RERANK_ERR_NOMEM, "added tokens: out of memory");
    memset(t->root, 0xFF, sizeof t->root);
    rerank_status_t st = RERANK_OK;
    int any = 0;
    for (size_t k = 0; !st && k < n_toks; k++) {
        const rr_added_t *a = &toks[k];
        if (!a->len || !a->normalized != !want_normalized) continue;
        any = 1;
        int32_t node = -1;
        for (size_t i = 0; !st && i < a->len; i++) {
            uint8_t c = (uint8_t)a->content[i];
            int32_t found = i == 0 ? t->root[c] : t->node[node].child, prev = -1;
            while (i > 0 && found >= 0 && t->node[found].label != c) {
                prev = found;
                found = t->node[found].sibling;
            }
            if (found < 0) {
                if ((st = new_node(t, c, &found))) break;
                if (i == 0) t->root[c] = found;
                else if (prev >= 0) t->node[prev].sibling = found;
                else t->node[node].child = found;
            }
            node = found;
        }
        if (!st && t->node[node].token < 0) t->node[node].token = (int32_t)k; /* equal contents: the first wins */
    }
    if (st || !any) {
        rr_added_trie_free(t);
        return st;
    }
    *out = t;
    return RERANK_OK;
}

/* The longest token of the trie that starts at s[p]: its index, and its
 * length in *len; -1 if none. */
static int32_t longest_at(const rr_added_trie_t *t, const char *s, size_t n, size_t p, size_t *len) {
    int32_t node = t->root[(uint8_t)s[p]], best = -1;
    for (size_t k = p + 1; node >= 0; k++) {
        if (t->node[node].token >= 0) {
            best = t->node[node].token;
            *len = k - p;
        }
        if (k >= n) break;
        int32_t c = t->node[node].child;
        while (c >= 0 && t->node[c].label != (uint8_t)s[k]) c = t->node[c].sibling;
        node = c;
    }
    return best;
}

rerank_status_t rr_added_split(const rr_added_t *toks, const rr_added_trie_t *trie, const char *s, size_t n,
                               rr_splits_t *out) {
    rerank_status_t st;
    size_t start_offset = 0, pos = 0;
    while (pos < n) {
        /* leftmost position where some token matches; longest token there */
        size_t p = pos, best_len = 0;
        int32_t best = -1;
        for (; p < n && best < 0; p++)
            if (trie->root[(uint8_t)s[p]] >= 0) best = longest_at(trie, s, n, p, &best_len);
        if (best < 0) break;
        p--;
        const rr_added_t *a = &toks[best];
        size_t start = p, stop = p + best_len;
        pos = stop; /* the automaton resumes after the raw match */
        if (a->single_word) {
            int len;
            int start_space = start == 0 ||
                              !rr_uc_is_word(rr_utf8_decode(s, n, prev_cp(s, start), &len));
            int stop_space = stop == n || !rr_uc_is_word(rr_utf8_decode(s, n, stop, &len));
            if (!start_space || !stop_space) continue;
        }
        if (a->lstrip) {
            size_t ns = start;
            while (ns > 0) {
                size_t k = prev_cp(s, ns);
                int len;
                if (!rr_uc_is_space(rr_utf8_decode(s, n, k, &len))) break;
                ns = k;
            }
            start = ns > start_offset ? ns : start_offset;
        }
        if (a->rstrip) {
            while (stop < n) {
                int len;
                if (!rr_uc_is_space(rr_utf8_decode(s, n, stop, &len))) break;
                stop += (size_t)len;
            }
        }
        if (start_offset < start && (st = push(out, start_offset, start, -1))) return st;
        if ((st = push(out, start, stop, a->id))) return st;
        start_offset = stop;
    }
    if (start_offset < n) return push(out, start_offset, n, -1);
    return RERANK_OK;
}
