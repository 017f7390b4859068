/* vocab_fast.c — a fast path for the biggest part of a Unigram
 * tokenizer.json: the model's "vocab" array of [piece, score] pairs (250k of
 * them, 17 MB for XLM-R). Building a jansson tree for it costs most of the
 * load time, so it is located with a small structural scan, parsed here
 * directly into flat arrays, and cut out of the buffer (leaving "[]") before
 * jansson parses the rest.
 *
 * Anything unexpected (no such array, a malformed entry, an odd escape)
 * just leaves the buffer untouched and returns with out->n == 0: the normal
 * jansson path then parses everything and reports errors properly. */
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/limits.h"
#include "common/utf8.h"
#include "tokenizer/tok_util.h"
#include "tokenizer/vocab_fast.h"

void rr_vocab_release(rr_vocab_t *v) {
    rr_free(v->arena);
    rr_free(v->off);
    rr_free(v->len);
    rr_free(v->score);
    memset(v, 0, sizeof *v);
}

static size_t skip_ws(const char *s, size_t n, size_t i) {
    while (i < n && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t')) i++;
    return i;
}

/* Skip a string starting at s[i] == '"'; returns index after it or 0. */
static size_t skip_string(const char *s, size_t n, size_t i) {
    for (i++; i < n; i++) {
        if (s[i] == '\\') { i++; continue; }
        if (s[i] == '"') return i + 1;
    }
    return 0;
}

/* Skip any JSON value at s[i]; returns index after it or 0 on trouble. */
static size_t skip_value(const char *s, size_t n, size_t i) {
    int depth = 0;
    do {
        i = skip_ws(s, n, i);
        if (i >= n) return 0;
        char c = s[i];
        if (c == '"') {
            if (!(i = skip_string(s, n, i))) return 0;
        } else if (c == '{' || c == '[') {
            if (++depth > 10000) return 0;
            i++;
        } else if (c == '}' || c == ']') {
            depth--;
            i++;
        } else if (c == ',' || c == ':') {
            if (depth == 0) return 0;
            i++;
        } else {
            /* a scalar: number, true, false, null */
            size_t i0 = i;
            while (i < n && s[i] != ',' && s[i] != ']' && s[i] != '}' && s[i] != ':' &&
                   s[i] != '"' && s[i] != ' ' && s[i] != '\n' && s[i] != '\r' && s[i] != '\t')
                i++;
            if (i == i0) return 0;
        }
    } while (depth > 0);
    return i;
}

/* Position of the value of key `key` in the object starting at s[i] == '{'
 * (only plain, unescaped keys are recognised); 0 if absent. */
static size_t find_key(const char *s, size_t n, size_t i, const char *key) {
    size_t kl = strlen(key);
    i = skip_ws(s, n, i);
    if (i >= n || s[i] != '{') return 0;
    i++;
    for (;;) {
        i = skip_ws(s, n, i);
        if (i >= n || s[i] != '"') return 0;
        size_t ks = i + 1, ke = skip_string(s, n, i);
        if (!ke) return 0;
        i = skip_ws(s, n, ke);
        if (i >= n || s[i] != ':') return 0;
        i = skip_ws(s, n, i + 1);
        if (ke - 1 - ks == kl && !memcmp(s + ks, key, kl)) return i;
        if (!(i = skip_value(s, n, i))) return 0;
        i = skip_ws(s, n, i);
        if (i < n && s[i] == ',') { i++; continue; }
        return 0;
    }
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int hex4(const char *s, size_t n, size_t i, uint32_t *v) {
    if (i + 4 > n) return 0;
    *v = 0;
    for (int k = 0; k < 4; k++) {
        int h = hexval(s[i + k]);
        if (h < 0) return 0;
        *v = *v * 16 + (uint32_t)h;
    }
    return 1;
}

/* Decode the string at s[*i] == '"' into the arena; 0 on trouble. */
static int read_string(const char *s, size_t n, size_t *i, rr_sbuf_t *a) {
    size_t k = *i + 1;
    for (;;) {
        size_t run = k;
        while (k < n && s[k] != '"' && s[k] != '\\' && (unsigned char)s[k] >= 0x20) k++;
        if (rr_sbuf_append(a, s + run, k - run)) return 0;
        if (k >= n || (unsigned char)s[k] < 0x20) return 0;
        if (s[k] == '"') { *i = k + 1; return 1; }
        if (++k >= n) return 0;
        char e = s[k++];
        char c;
        switch (e) {
        case '"': c = '"'; break;
        case '\\': c = '\\'; break;
        case '/': c = '/'; break;
        case 'b': c = '\b'; break;
        case 'f': c = '\f'; break;
        case 'n': c = '\n'; break;
        case 'r': c = '\r'; break;
        case 't': c = '\t'; break;
        case 'u': {
            uint32_t v, lo;
            if (!hex4(s, n, k, &v)) return 0;
            k += 4;
            if (v >= 0xDC00 && v <= 0xDFFF) return 0;
            if (v >= 0xD800 && v <= 0xDBFF) {
                if (k + 6 > n || s[k] != '\\' || s[k + 1] != 'u' || !hex4(s, n, k + 2, &lo) ||
                    lo < 0xDC00 || lo > 0xDFFF)
                    return 0;
                k += 6;
                v = 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00);
            }
            if (rr_sbuf_append_cp(a, v)) return 0;
            continue;
        }
        default: return 0;
        }
        if (rr_sbuf_append(a, &c, 1)) return 0;
    }
}

static int read_number(const char *s, size_t n, size_t *i, double *out) {
    char buf[64];
    size_t k = *i, m = 0;
    while (k < n && m < sizeof buf - 1 &&
           ((s[k] >= '0' && s[k] <= '9') || s[k] == '-' || s[k] == '+' || s[k] == '.' ||
            s[k] == 'e' || s[k] == 'E'))
        buf[m++] = s[k++];
    if (m == 0 || m == sizeof buf - 1) return 0;
    buf[m] = 0;
    /* JSON grammar: -?digits[.digits][e[+-]digits] */
    size_t p = 0;
    if (buf[p] == '-') p++;
    if (!(buf[p] >= '0' && buf[p] <= '9')) return 0;
    if (buf[p] == '0' && buf[p + 1] >= '0' && buf[p + 1] <= '9') return 0;
    char *end;
    *out = strtod(buf, &end);
    if (end != buf + m) return 0;
    *i = k;
    return 1;
}

static rerank_status_t parse_vocab(const char *s, size_t n, size_t i, size_t *end, rr_vocab_t *v) {
    size_t cap_n = 0;
    rr_sbuf_t arena = {0};
    rerank_status_t st = RERANK_OK;
    i++; /* '[' */
    i = skip_ws(s, n, i);
    if (i < n && s[i] == ']') goto bad; /* empty: let the normal path complain */
    for (;;) {
        i = skip_ws(s, n, i);
        if (i >= n || s[i] != '[') goto bad;
        i = skip_ws(s, n, i + 1);
        if (i >= n || s[i] != '"') goto bad;
        size_t a0 = arena.n;
        if (!read_string(s, n, &i, &arena)) goto bad;
        i = skip_ws(s, n, i);
        if (i >= n || s[i] != ',') goto bad;
        i = skip_ws(s, n, i + 1);
        double sc;
        if (!read_number(s, n, &i, &sc)) goto bad;
        i = skip_ws(s, n, i);
        if (i >= n || s[i] != ']') goto bad;
        i = skip_ws(s, n, i + 1);
        if (v->n >= RR_MAX_VOCAB) goto bad;
        if (v->n == cap_n) {
            size_t c0 = cap_n;
            if ((st = rr_grow((void **)&v->off, &c0, v->n + 1, sizeof *v->off))) goto fail;
            c0 = cap_n;
            if ((st = rr_grow((void **)&v->len, &c0, v->n + 1, sizeof *v->len))) goto fail;
            c0 = cap_n;
            if ((st = rr_grow((void **)&v->score, &c0, v->n + 1, sizeof *v->score))) goto fail;
            cap_n = c0;
        }
        if (arena.n > UINT32_MAX) goto bad;
        v->off[v->n] = (uint32_t)a0;
        v->len[v->n] = (uint32_t)(arena.n - a0);
        v->score[v->n] = sc;
        v->n++;
        if (i < n && s[i] == ',') { i++; continue; }
        if (i < n && s[i] == ']') { *end = i + 1; break; }
        goto bad;
    }
    v->arena = arena.p;
    v->arena_n = arena.n;
    return RERANK_OK;
bad:
    st = RERANK_OK; /* not our business: the jansson path will decide */
fail:
    rr_sbuf_release(&arena);
    rr_vocab_release(v);
    return st;
}

rerank_status_t rr_vocab_fast_parse(char *buf, size_t *np, rr_vocab_t *out) {
    size_t n = *np;
    memset(out, 0, sizeof *out);
    size_t m = find_key(buf, n, 0, "model");
    if (!m || buf[m] != '{') return RERANK_OK;
    size_t t = find_key(buf, n, m, "type");
    if (t) {
        static const char want[] = "\"Unigram\"";
        if (n - t < sizeof want - 1 || memcmp(buf + t, want, sizeof want - 1)) return RERANK_OK;
    }
    size_t v = find_key(buf, n, m, "vocab");
    if (!v || buf[v] != '[') return RERANK_OK;
    size_t end = 0;
    rerank_status_t st = parse_vocab(buf, n, v, &end, out);
    if (st || out->n == 0) return st;
    /* cut the array out, leaving "[]": the JSON stays valid */
    buf[v] = '[';
    buf[v + 1] = ']';
    memmove(buf + v + 2, buf + end, n - end);
    *np = n - (end - v - 2);
    return RERANK_OK;
}
