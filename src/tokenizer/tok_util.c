/* tok_util.c — growable containers and JSON helpers (tok_util.h) and
 * base64 for the tokenizer module. */
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/utf8.h"
#include "tokenizer/internal.h"

rerank_status_t rr_grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return RERANK_OK;
    size_t nc = *cap ? *cap : 16;
    while (nc < need) {
        if (nc > ((size_t)-1) / 4) return rr_error(RERANK_ERR_LIMIT, "tokenizer: buffer too large");
        nc *= 2;
    }
    size_t bytes;
    if (rr_mul_size(nc, elem, &bytes)) return rr_error(RERANK_ERR_LIMIT, "tokenizer: buffer too large");
    void *q = rr_realloc(*p, bytes);
    if (!q) return rr_error(RERANK_ERR_NOMEM, "tokenizer: out of memory (%zu bytes)", bytes);
    *p = q;
    *cap = nc;
    return RERANK_OK;
}

rerank_status_t rr_ids_reserve(rr_ids_t *v, size_t extra) {
    if (extra > ((size_t)-1) / 8 - v->n) return rr_error(RERANK_ERR_LIMIT, "tokenizer: too many ids");
    return rr_grow((void **)&v->v, &v->cap, v->n + extra, sizeof *v->v);
}

rerank_status_t rr_ids_push(rr_ids_t *v, int32_t id) {
    if (v->n == v->cap) {
        rerank_status_t st = rr_ids_reserve(v, 1);
        if (st) return st;
    }
    v->v[v->n++] = id;
    return RERANK_OK;
}

void rr_ids_release(rr_ids_t *v) {
    rr_free(v->v);
    v->v = NULL;
    v->n = v->cap = 0;
}

rerank_status_t rr_sbuf_reserve(rr_sbuf_t *b, size_t extra) {
    if (extra > ((size_t)-1) / 8 - b->n) return rr_error(RERANK_ERR_LIMIT, "tokenizer: text too large");
    return rr_grow((void **)&b->p, &b->cap, b->n + extra, 1);
}

rerank_status_t rr_sbuf_append(rr_sbuf_t *b, const char *s, size_t n) {
    if (b->cap - b->n < n) {
        rerank_status_t st = rr_sbuf_reserve(b, n);
        if (st) return st;
    }
    if (n) memcpy(b->p + b->n, s, n);
    b->n += n;
    return RERANK_OK;
}

rerank_status_t rr_sbuf_append_cp(rr_sbuf_t *b, uint32_t cp) {
    char tmp[4];
    int k = rr_utf8_encode(cp, tmp);
    return rr_sbuf_append(b, tmp, (size_t)k);
}

void rr_sbuf_release(rr_sbuf_t *b) {
    rr_free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}

rerank_status_t rr_words_push(rr_words_t *ws, size_t start, size_t len, int first) {
    if (ws->n == ws->cap) {
        rerank_status_t st = rr_grow((void **)&ws->w, &ws->cap, ws->n + 1, sizeof *ws->w);
        if (st) return st;
    }
    ws->w[ws->n].start = start;
    ws->w[ws->n].len = len;
    ws->w[ws->n].first = first;
    ws->n++;
    return RERANK_OK;
}

rerank_status_t rr_words_push_text(rr_words_t *ws, const char *s, size_t n, int first) {
    size_t base = ws->text.n;
    rerank_status_t st = rr_sbuf_append(&ws->text, s, n);
    return st ? st : rr_words_push(ws, base, n, first);
}

void rr_words_reset(rr_words_t *ws) {
    ws->n = 0;
    ws->text.n = 0;
}

void rr_words_release(rr_words_t *ws) {
    rr_sbuf_release(&ws->text);
    rr_free(ws->w);
    ws->w = NULL;
    ws->n = ws->cap = 0;
}

const char *rr_json_type(const json_t *obj) {
    if (!json_is_object(obj)) return NULL;
    return json_string_value(json_object_get(obj, "type"));
}

rerank_status_t rr_json_bool(const json_t *obj, const char *key, int dflt, int *out,
                             const char *ctx) {
    const json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) { *out = dflt; return RERANK_OK; }
    if (!json_is_boolean(v))
        return rr_error(RERANK_ERR_FORMAT, "tokenizer.json: %s.%s must be a boolean", ctx, key);
    *out = json_is_true(v);
    return RERANK_OK;
}

static int b64val(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

rerank_status_t rr_base64_decode(const char *s, size_t n, unsigned char **out, size_t *out_n) {
    *out = NULL;
    *out_n = 0;
    while (n && s[n - 1] == '=') n--;
    if (n % 4 == 1) return rr_error(RERANK_ERR_FORMAT, "base64: bad length");
    unsigned char *o = rr_malloc(n / 4 * 3 + 3);
    if (!o) return rr_error(RERANK_ERR_NOMEM, "base64: out of memory");
    size_t k = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64val((unsigned char)s[i]);
        if (v < 0) {
            rr_free(o);
            return rr_error(RERANK_ERR_FORMAT, "base64: invalid character at offset %zu", i);
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            o[k++] = (unsigned char)(acc >> bits);
        }
    }
    *out = o;
    *out_n = k;
    return RERANK_OK;
}
