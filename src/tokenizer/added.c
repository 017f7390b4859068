/* added.c — splitting text on added tokens, as HF's
 * AddedVocabulary::find_matches: leftmost-longest, non-overlapping matches
 * (aho-corasick MatchKind::LeftmostLongest, resuming after each match's
 * end); single_word drops a match touching a \w char on either side; lstrip
 * / rstrip widen the match over adjacent \s whitespace (lstrip never past
 * the previous split). */
#include <string.h>

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

rerank_status_t rr_added_split(const rr_added_t *toks, size_t n_toks, int want_normalized,
                               const char *s, size_t n, rr_splits_t *out) {
    rerank_status_t st;
    unsigned char firsts[256] = {0};
    int any = 0;
    for (size_t t = 0; t < n_toks; t++)
        if (toks[t].len && !toks[t].normalized == !want_normalized) {
            firsts[(unsigned char)toks[t].content[0]] = 1;
            any = 1;
        }
    size_t start_offset = 0, pos = 0;
    while (any && pos < n) {
        /* leftmost position where some token matches; longest token there */
        size_t p = pos;
        long best = -1;
        size_t best_len = 0;
        for (; p < n; p++) {
            if (!firsts[(unsigned char)s[p]]) continue;
            for (size_t t = 0; t < n_toks; t++) {
                const rr_added_t *a = &toks[t];
                if (!a->len || !a->normalized != !want_normalized) continue;
                if (a->len <= n - p && a->len > best_len && !memcmp(s + p, a->content, a->len)) {
                    best = (long)t;
                    best_len = a->len;
                }
            }
            if (best >= 0) break;
        }
        if (best < 0) break;
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
