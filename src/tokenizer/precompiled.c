/* precompiled.c — SentencePiece's `precompiled_charsmap` normalizer, as
 * Hugging Face `tokenizers` (spm_precompiled) applies it.
 *
 * Blob layout: u32 LE trie size in bytes, then that many bytes of Darts-clone
 * double-array units (u32 LE each), then the replacement strings, each
 * NUL-terminated; a trie value is the byte offset of a replacement.
 *
 * HF's rule (reproduced exactly, quirks included): walk the text by extended
 * grapheme clusters; a cluster shorter than 6 bytes is first looked up whole,
 * and if the trie has ANY entry that is a prefix of it, the cluster is
 * replaced by the replacement of the SHORTEST such prefix. Otherwise each
 * code point of the cluster is looked up alone (again shortest prefix) and
 * replaced, or kept when it has no entry. */
#include <string.h>
#include <utf8proc.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/utf8.h"
#include "tokenizer/internal.h"

struct rr_precompiled {
    uint32_t *units;
    size_t n_units;
    char *strings;
    size_t strings_len;
    uint8_t ascii_plain[128]; /* 1: this ASCII byte alone has no entry */
};

rerank_status_t rr_precompiled_new(const unsigned char *blob, size_t n,
                                      rr_precompiled_t **out) {
    *out = NULL;
    if (n < 4) return rr_error(RERANK_ERR_FORMAT, "precompiled_charsmap: blob too short (%zu bytes)", n);
    uint32_t trie_bytes = (uint32_t)blob[0] | (uint32_t)blob[1] << 8 | (uint32_t)blob[2] << 16 |
                          (uint32_t)blob[3] << 24;
    if (trie_bytes % 4 || trie_bytes > n - 4 || trie_bytes == 0)
        return rr_error(RERANK_ERR_FORMAT,
                        "precompiled_charsmap: trie size %u invalid for a %zu-byte blob",
                        trie_bytes, n);
    size_t rest = n - 4 - trie_bytes;
    if (!rr_utf8_valid((const char *)blob + 4 + trie_bytes, rest, NULL))
        return rr_error(RERANK_ERR_FORMAT, "precompiled_charsmap: replacement strings are not UTF-8");
    rr_precompiled_t *pc = rr_calloc(1, sizeof *pc);
    if (!pc) return rr_error(RERANK_ERR_NOMEM, "precompiled_charsmap: out of memory");
    pc->n_units = trie_bytes / 4;
    pc->units = rr_malloc(trie_bytes);
    pc->strings = rr_malloc(rest + 1);
    if (!pc->units || !pc->strings) {
        rr_precompiled_free(pc);
        return rr_error(RERANK_ERR_NOMEM, "precompiled_charsmap: out of memory");
    }
    for (size_t i = 0; i < pc->n_units; i++) {
        const unsigned char *u = blob + 4 + 4 * i;
        pc->units[i] = (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 |
                       (uint32_t)u[3] << 24;
    }
    if (rest) memcpy(pc->strings, blob + 4 + trie_bytes, rest);
    pc->strings[rest] = 0;
    pc->strings_len = rest;
    for (int c = 0; c < 128; c++) {
        char ch = (char)c;
        const char *rep;
        size_t rl;
        pc->ascii_plain[c] = !rr_precompiled_transform(pc, &ch, 1, &rep, &rl);
    }
    *out = pc;
    return RERANK_OK;
}

void rr_precompiled_free(rr_precompiled_t *pc) {
    if (!pc) return;
    rr_free(pc->units);
    rr_free(pc->strings);
    rr_free(pc);
}

/* Darts-clone unit fields. */
static inline uint32_t u_offset(uint32_t u) { return (u >> 10) << ((u & (1u << 9)) >> 6); }
static inline uint32_t u_label(uint32_t u) { return u & ((1u << 31) | 0xFFu); }
static inline int u_has_leaf(uint32_t u) { return (u >> 8) & 1; }
static inline uint32_t u_value(uint32_t u) { return u & ((1u << 31) - 1); }

int rr_precompiled_transform(const rr_precompiled_t *pc, const char *s, size_t n,
                             const char **rep, size_t *rep_len) {
    size_t pos = 0;
    if (pc->n_units == 0) return 0;
    pos ^= u_offset(pc->units[0]);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == 0) return 0;
        pos ^= c;
        if (pos >= pc->n_units) return 0;
        uint32_t u = pc->units[pos];
        if (u_label(u) != c) return 0;
        pos ^= u_offset(u);
        if (u_has_leaf(u)) {
            if (pos >= pc->n_units) return 0;
            size_t v = u_value(pc->units[pos]);
            if (v > pc->strings_len) return 0;
            const char *r = pc->strings + v;
            size_t rl = strlen(r); /* strings[] is NUL-terminated at the end */
            /* a value pointing inside a code point would yield invalid UTF-8 */
            if (rl && ((unsigned char)r[0] & 0xC0) == 0x80) return 0;
            *rep = r;
            *rep_len = rl;
            return 1;
        }
    }
    return 0;
}

/* End of the extended grapheme cluster starting at s[i]. */
static size_t grapheme_end(const char *s, size_t n, size_t i) {
    int len;
    uint32_t c = rr_utf8_decode(s, n, i, &len);
    utf8proc_int32_t state = 0;
    size_t j = i + (size_t)len;
    /* fast path: ASCII followed by ASCII (other than CR LF) always breaks */
    if (c < 0x80 && (j >= n || ((unsigned char)s[j] < 0x80 && !(c == '\r' && s[j] == '\n'))))
        return j;
    while (j < n) {
        uint32_t d = rr_utf8_decode(s, n, j, &len);
        if (utf8proc_grapheme_break_stateful((utf8proc_int32_t)c, (utf8proc_int32_t)d, &state))
            break;
        c = d;
        j += (size_t)len;
    }
    return j;
}

rerank_status_t rr_precompiled_normalize(const rr_precompiled_t *pc, const char *s, size_t n,
                                         rr_sbuf_t *out) {
    rerank_status_t st = rr_sbuf_reserve(out, n);
    if (st) return st;
    size_t i = 0;
    while (i < n) {
        /* fast path: an ASCII char followed by ASCII is a grapheme of its own
         * (CR LF aside); without an entry it is copied as is */
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80 && pc->ascii_plain[c] && c != '\r' &&
            (i + 1 == n || (unsigned char)s[i + 1] < 0x80)) {
            if (out->n == out->cap && (st = rr_sbuf_reserve(out, n - i))) return st;
            out->p[out->n++] = (char)c;
            i++;
            continue;
        }
        size_t g = grapheme_end(s, n, i);
        const char *rep;
        size_t rl;
        if (g - i < 6 && rr_precompiled_transform(pc, s + i, g - i, &rep, &rl)) {
            if ((st = rr_sbuf_append(out, rep, rl))) return st;
            i = g;
            continue;
        }
        while (i < g) {
            int len;
            rr_utf8_decode(s, n, i, &len);
            if (rr_precompiled_transform(pc, s + i, (size_t)len, &rep, &rl))
                st = rr_sbuf_append(out, rep, rl);
            else
                st = rr_sbuf_append(out, s + i, (size_t)len);
            if (st) return st;
            i += (size_t)len;
        }
    }
    return RERANK_OK;
}
