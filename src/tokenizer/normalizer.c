/* normalizer.c — tokenizer.json "normalizer": parsing and application.
 * Supported types: Sequence, Precompiled, Replace (String or Regex pattern),
 * Lowercase, NFC, NFD, NFKC, NFKD, Strip, StripAccents, Prepend and
 * BertNormalizer (bert.h). Anything else is
 * RERANK_ERR_UNSUPPORTED naming the type. */
#include <string.h>
#include <utf8proc.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/utf8.h"
#include "tokenizer/charclass.h"
#include "tokenizer/internal.h"

#define RR_MAX_NORM_DEPTH 16

static void norm_clear(rr_normalizer_t *n) {
    for (size_t i = 0; i < n->n_children; i++) norm_clear(&n->children[i]);
    rr_free(n->children);
    rr_precompiled_free(n->pc);
    rr_regex_free(n->re);
    rr_free(n->pattern);
    rr_free(n->content);
    memset(n, 0, sizeof *n);
}

void rr_normalizer_free(rr_normalizer_t *n) {
    if (!n) return;
    norm_clear(n);
    rr_free(n);
}

static rerank_status_t get_string(const json_t *obj, const char *key, const char *ctx,
                                  char **out, size_t *len) {
    const json_t *v = json_object_get(obj, key);
    if (!json_is_string(v))
        return rr_error(RERANK_ERR_FORMAT, "tokenizer.json: %s.%s must be a string", ctx, key);
    *len = json_string_length(v);
    *out = rr_strndup(json_string_value(v), *len);
    if (!*out) return rr_error(RERANK_ERR_NOMEM, "tokenizer.json: out of memory");
    if (!rr_utf8_valid(*out, *len, NULL))
        return rr_error(RERANK_ERR_FORMAT, "tokenizer.json: %s.%s is not valid UTF-8", ctx, key);
    return RERANK_OK;
}

static rerank_status_t parse_into(const json_t *j, rr_normalizer_t *n, int depth) {
    const char *type = rr_json_type(j);
    rerank_status_t st;
    if (!type) return rr_error(RERANK_ERR_FORMAT, "tokenizer.json: normalizer without a \"type\"");
    if (depth > RR_MAX_NORM_DEPTH)
        return rr_error(RERANK_ERR_FORMAT, "tokenizer.json: normalizers nested too deeply");
    if (!strcmp(type, "Sequence")) {
        const json_t *arr = json_object_get(j, "normalizers");
        if (!json_is_array(arr))
            return rr_error(RERANK_ERR_FORMAT, "tokenizer.json: Sequence normalizer needs a \"normalizers\" array");
        n->kind = RR_NORM_SEQUENCE;
        size_t k = json_array_size(arr);
        if (k > 256) return rr_error(RERANK_ERR_LIMIT, "tokenizer.json: too many normalizers (%zu)", k);
        n->children = rr_calloc(k ? k : 1, sizeof *n->children);
        if (!n->children) return rr_error(RERANK_ERR_NOMEM, "tokenizer.json: out of memory");
        for (size_t i = 0; i < k; i++) {
            n->n_children = i + 1;
            if ((st = parse_into(json_array_get(arr, i), &n->children[i], depth + 1))) return st;
        }
        return RERANK_OK;
    }
    if (!strcmp(type, "Precompiled")) {
        const json_t *v = json_object_get(j, "precompiled_charsmap");
        if (!json_is_string(v))
            return rr_error(RERANK_ERR_FORMAT, "tokenizer.json: Precompiled.precompiled_charsmap must be a base64 string");
        unsigned char *blob;
        size_t bn;
        if ((st = rr_base64_decode(json_string_value(v), json_string_length(v), &blob, &bn))) {
            rr_error_prefix("tokenizer.json: Precompiled.precompiled_charsmap");
            return st;
        }
        n->kind = RR_NORM_PRECOMPILED;
        st = rr_precompiled_new(blob, bn, &n->pc);
        rr_free(blob);
        return st;
    }
    if (!strcmp(type, "Replace")) {
        const json_t *pat = json_object_get(j, "pattern");
        n->kind = RR_NORM_REPLACE;
        if ((st = get_string(j, "content", "Replace", &n->content, &n->content_len))) return st;
        const json_t *s = json_object_get(pat, "String"), *r = json_object_get(pat, "Regex");
        if (json_is_string(s)) {
            st = rr_regex_compile_literal(json_string_value(s), json_string_length(s), &n->re);
        } else if (json_is_string(r)) {
            st = rr_regex_compile(json_string_value(r), json_string_length(r), &n->re);
        } else {
            return rr_error(RERANK_ERR_FORMAT, "tokenizer.json: Replace.pattern must be {\"String\": s} or {\"Regex\": r}");
        }
        if (st) rr_error_prefix("tokenizer.json: Replace normalizer");
        return st;
    }
    if (!strcmp(type, "Lowercase")) { n->kind = RR_NORM_LOWERCASE; return RERANK_OK; }
    if (!strcmp(type, "NFC")) { n->kind = RR_NORM_NFC; return RERANK_OK; }
    if (!strcmp(type, "NFD")) { n->kind = RR_NORM_NFD; return RERANK_OK; }
    if (!strcmp(type, "NFKC")) { n->kind = RR_NORM_NFKC; return RERANK_OK; }
    if (!strcmp(type, "NFKD")) { n->kind = RR_NORM_NFKD; return RERANK_OK; }
    if (!strcmp(type, "StripAccents")) { n->kind = RR_NORM_STRIP_ACCENTS; return RERANK_OK; }
    if (!strcmp(type, "Strip")) {
        n->kind = RR_NORM_STRIP;
        if ((st = rr_json_bool(j, "strip_left", 1, &n->strip_left, "Strip"))) return st;
        return rr_json_bool(j, "strip_right", 1, &n->strip_right, "Strip");
    }
    if (!strcmp(type, "Prepend")) {
        n->kind = RR_NORM_PREPEND;
        return get_string(j, "prepend", "Prepend", &n->content, &n->content_len);
    }
    if (!strcmp(type, "BertNormalizer")) {
        n->kind = RR_NORM_BERT;
        return rr_bert_norm_opts_parse(j, &n->bert);
    }
    return rr_error(RERANK_ERR_UNSUPPORTED, "tokenizer.json: unsupported normalizer type \"%s\"", type);
}

rerank_status_t rr_normalizer_new(const json_t *j, rr_normalizer_t **out) {
    *out = NULL;
    if (!j || json_is_null(j)) return RERANK_OK;
    rr_normalizer_t *n = rr_calloc(1, sizeof *n);
    if (!n) return rr_error(RERANK_ERR_NOMEM, "tokenizer.json: out of memory");
    rerank_status_t st = parse_into(j, n, 0);
    if (st) { rr_normalizer_free(n); return st; }
    *out = n;
    return RERANK_OK;
}

/* ---- application ------------------------------------------------------- */

static rerank_status_t apply_replace(const rr_normalizer_t *nz, const char *s, size_t n,
                                     rr_sbuf_t *out) {
    size_t pos = 0, copied = 0, last_end = (size_t)-1;
    rerank_status_t st;
    while (pos <= n) {
        size_t ms, me;
        int r = rr_regex_find(nz->re, s, n, pos, &ms, &me);
        if (r < 0) return rr_error(RERANK_ERR_NOMEM, "Replace normalizer: out of memory");
        if (r == 0) break;
        if (ms == me && me == last_end) {
            /* no empty match right after the previous match: retry one char on */
            if (ms >= n) break;
            int len;
            rr_utf8_decode(s, n, ms, &len);
            pos = ms + (size_t)len;
            continue;
        }
        if ((st = rr_sbuf_append(out, s + copied, ms - copied))) return st;
        if ((st = rr_sbuf_append(out, nz->content, nz->content_len))) return st;
        copied = me;
        last_end = me;
        if (me == ms) {
            if (me >= n) break;
            /* empty match: next search starts at the same place, which the
             * rule above then skips by one char */
            pos = me;
        } else {
            pos = me;
        }
    }
    return rr_sbuf_append(out, s + copied, n - copied);
}

static rerank_status_t apply_utf8proc(const char *s, size_t n, utf8proc_option_t opt,
                                      rr_sbuf_t *out) {
    if (n == 0) return RERANK_OK;
    opt |= UTF8PROC_STABLE;
    utf8proc_ssize_t need = utf8proc_decompose((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n,
                                               NULL, 0, opt);
    if (need < 0) return rr_error(RERANK_ERR_INTERNAL, "unicode normalization failed: %s",
                                  utf8proc_errmsg(need));
    size_t bytes;
    if (rr_mul_size((size_t)need + 1, sizeof(utf8proc_int32_t), &bytes))
        return rr_error(RERANK_ERR_LIMIT, "unicode normalization: text too large");
    utf8proc_int32_t *buf = rr_malloc(bytes);
    if (!buf) return rr_error(RERANK_ERR_NOMEM, "unicode normalization: out of memory");
    utf8proc_ssize_t got = utf8proc_decompose((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n,
                                              buf, need, opt);
    if (got < 0 || got > need) {
        rr_free(buf);
        return rr_error(RERANK_ERR_INTERNAL, "unicode normalization failed");
    }
    utf8proc_ssize_t len = utf8proc_reencode(buf, got, opt);
    rerank_status_t st = len < 0 ? rr_error(RERANK_ERR_INTERNAL, "unicode normalization failed")
                                 : rr_sbuf_append(out, (const char *)buf, (size_t)len);
    rr_free(buf);
    return st;
}

static rerank_status_t apply_one(const rr_normalizer_t *nz, const char *s, size_t n,
                                 rr_sbuf_t *out);

static rerank_status_t apply_sequence(const rr_normalizer_t *nz, const char *s, size_t n,
                                      rr_sbuf_t *out) {
    /* ping-pong: child i reads `cur` and writes the other buffer */
    rr_sbuf_t a = {0}, b = {0};
    rerank_status_t st = rr_sbuf_append(&a, s, n);
    for (size_t i = 0; !st && i < nz->n_children; i++) {
        b.n = 0;
        st = apply_one(&nz->children[i], a.p, a.n, &b);
        rr_sbuf_t t = a;
        a = b;
        b = t;
    }
    if (!st) st = rr_sbuf_append(out, a.p, a.n);
    rr_sbuf_release(&a);
    rr_sbuf_release(&b);
    return st;
}

static rerank_status_t apply_one(const rr_normalizer_t *nz, const char *s, size_t n,
                                 rr_sbuf_t *out) {
    rerank_status_t st = RERANK_OK;
    switch (nz->kind) {
    case RR_NORM_SEQUENCE: return apply_sequence(nz, s, n, out);
    case RR_NORM_PRECOMPILED: return rr_precompiled_normalize(nz->pc, s, n, out);
    case RR_NORM_REPLACE: return apply_replace(nz, s, n, out);
    case RR_NORM_NFC:
        /* text below U+0300 is NFC already: nothing there decomposes or
         * composes with a neighbour (a byte >= 0xCC starts U+0300 or up) */
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)s[i] >= 0xCC) return apply_utf8proc(s, n, UTF8PROC_COMPOSE, out);
        return rr_sbuf_append(out, s, n);
    case RR_NORM_NFD: return apply_utf8proc(s, n, UTF8PROC_DECOMPOSE, out);
    case RR_NORM_NFKC: return apply_utf8proc(s, n, UTF8PROC_COMPOSE | UTF8PROC_COMPAT, out);
    case RR_NORM_NFKD: return apply_utf8proc(s, n, UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT, out);
    case RR_NORM_LOWERCASE:
        for (size_t i = 0; i < n && !st;) {
            int len;
            uint32_t c = rr_utf8_decode(s, n, i, &len);
            i += (size_t)len;
            if (c == 0x130) { /* full mapping: İ -> i + combining dot above */
                st = rr_sbuf_append(out, "i\xcc\x87", 3);
                continue;
            }
            st = rr_sbuf_append_cp(out, (uint32_t)utf8proc_tolower((utf8proc_int32_t)c));
        }
        return st;
    case RR_NORM_STRIP_ACCENTS:
        for (size_t i = 0; i < n && !st;) {
            int len;
            uint32_t c = rr_utf8_decode(s, n, i, &len);
            if (utf8proc_category((utf8proc_int32_t)c) != UTF8PROC_CATEGORY_MN)
                st = rr_sbuf_append(out, s + i, (size_t)len);
            i += (size_t)len;
        }
        return st;
    case RR_NORM_STRIP: {
        size_t a = 0, b = n;
        if (nz->strip_left)
            while (a < b) {
                int len;
                uint32_t c = rr_utf8_decode(s, n, a, &len);
                if (!rr_uc_is_space(c)) break;
                a += (size_t)len;
            }
        if (nz->strip_right)
            while (b > a) {
                size_t k = b - 1;
                while (k > a && ((unsigned char)s[k] & 0xC0) == 0x80) k--;
                int len;
                uint32_t c = rr_utf8_decode(s, n, k, &len);
                if (!rr_uc_is_space(c)) break;
                b = k;
            }
        return rr_sbuf_append(out, s + a, b - a);
    }
    case RR_NORM_PREPEND:
        if (n && (st = rr_sbuf_append(out, nz->content, nz->content_len))) return st;
        return rr_sbuf_append(out, s, n);
    case RR_NORM_BERT:
        return rr_bert_normalize(&nz->bert, s, n, out);
    }
    RR_ASSERT(0 && "unknown normalizer kind");
    return RERANK_ERR_INTERNAL;
}

rerank_status_t rr_normalize(const rr_normalizer_t *nz, const char *s, size_t n, rr_sbuf_t *out) {
    out->n = 0;
    if (!nz) return rr_sbuf_append(out, s, n);
    return apply_one(nz, s, n, out);
}
