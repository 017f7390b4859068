/* vocab_fast.c — a fast path for the biggest parts of a tokenizer.json: a
 * Unigram model's "vocab" array of [piece, score] pairs (250k of them, 17 MB
 * for XLM-R), a BPE model's "vocab" object {token: id} and "merges" list
 * (151k each, 11 MB for Qwen3). Building a jansson tree for them costs most
 * of the load time, so they are located with a small structural scan, parsed
 * here directly into flat arrays, and cut out of the buffer (leaving "[]" or
 * "{}") before jansson parses the rest.
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
    rr_free(v->id);
    rr_free(v->m_off);
    rr_free(v->m_len);
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

/* Decode the string at s[*i] == '"' into the arena: 1, or 0 on a format
 * surprise (the jansson path decides), -1 out of memory (error set). */
static int read_string(const char *s, size_t n, size_t *i, rr_sbuf_t *a) {
    size_t k = *i + 1;
    for (;;) {
        size_t run = k;
        while (k < n && s[k] != '"' && s[k] != '\\' && (unsigned char)s[k] >= 0x20) k++;
        if (rr_sbuf_append(a, s + run, k - run)) return -1;
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
            if (rr_sbuf_append_cp(a, v)) return -1;
            continue;
        }
        default: return 0;
        }
        if (rr_sbuf_append(a, &c, 1)) return -1;
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

/* Record arena[a0 ..) as piece v->n (grows off / len and, for Unigram,
 * score, for BPE id); len UINT32_MAX flags an arena too big for offsets. */
static rerank_status_t push_piece(rr_vocab_t *v, size_t *cap, const rr_sbuf_t *arena, size_t a0, int unigram) {
    if (v->n == *cap) {
        size_t c0 = *cap;
        rerank_status_t st;
        if ((st = rr_grow((void **)&v->off, &c0, v->n + 1, sizeof *v->off))) return st;
        c0 = *cap;
        if ((st = rr_grow((void **)&v->len, &c0, v->n + 1, sizeof *v->len))) return st;
        c0 = *cap;
        if (unigram ? (st = rr_grow((void **)&v->score, &c0, v->n + 1, sizeof *v->score))
                    : (st = rr_grow((void **)&v->id, &c0, v->n + 1, sizeof *v->id)))
            return st;
        *cap = c0;
    }
    int big = arena->n > UINT32_MAX;
    v->off[v->n] = big ? 0 : (uint32_t)a0;
    v->len[v->n] = big ? UINT32_MAX : (uint32_t)(arena->n - a0);
    return RERANK_OK;
}

/* Record arena[a0 .. a1) as string `k` of the merges. */
static rerank_status_t push_merge_str(rr_vocab_t *v, size_t *cap, size_t k, size_t a0, size_t a1) {
    if (k == *cap) {
        size_t c0 = *cap;
        rerank_status_t st;
        if ((st = rr_grow((void **)&v->m_off, &c0, k + 1, sizeof *v->m_off))) return st;
        c0 = *cap;
        if ((st = rr_grow((void **)&v->m_len, &c0, k + 1, sizeof *v->m_len))) return st;
        *cap = c0;
    }
    v->m_off[k] = (uint32_t)a0;
    v->m_len[k] = (uint32_t)(a1 - a0);
    return RERANK_OK;
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
        int r = read_string(s, n, &i, &arena);
        if (r < 0) { st = RERANK_ERR_NOMEM; goto fail; }
        if (!r) goto bad;
        i = skip_ws(s, n, i);
        if (i >= n || s[i] != ',') goto bad;
        i = skip_ws(s, n, i + 1);
        double sc;
        if (!read_number(s, n, &i, &sc)) goto bad;
        i = skip_ws(s, n, i);
        if (i >= n || s[i] != ']') goto bad;
        i = skip_ws(s, n, i + 1);
        if (v->n >= RR_MAX_VOCAB) goto bad;
        if ((st = push_piece(v, &cap_n, &arena, a0, 1))) goto fail;
        if (v->len[v->n] == UINT32_MAX) goto bad;
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

/* A BPE vocab object {"token": id, ...} at s[i] == '{'. */
static rerank_status_t parse_bpe_vocab(const char *s, size_t n, size_t i, size_t *end, rr_vocab_t *v,
                                       rr_sbuf_t *arena) {
    size_t cap_n = 0;
    rerank_status_t st;
    i = skip_ws(s, n, i + 1);
    if (i < n && s[i] == '}') return RERANK_OK; /* empty: the normal path complains */
    for (;;) {
        i = skip_ws(s, n, i);
        if (i >= n || s[i] != '"') return RERANK_OK;
        size_t a0 = arena->n;
        int r = read_string(s, n, &i, arena);
        if (r <= 0) return r < 0 ? RERANK_ERR_NOMEM : RERANK_OK;
        i = skip_ws(s, n, i);
        if (i >= n || s[i] != ':') return RERANK_OK;
        i = skip_ws(s, n, i + 1);
        uint32_t id = 0;
        size_t d0 = i;
        while (i < n && s[i] >= '0' && s[i] <= '9' && i - d0 < 9) id = id * 10 + (uint32_t)(s[i++] - '0');
        if (i == d0 || id >= RR_MAX_VOCAB || (s[d0] == '0' && i - d0 > 1)) return RERANK_OK;
        i = skip_ws(s, n, i);
        if (v->n >= RR_MAX_VOCAB) return RERANK_OK;
        if ((st = push_piece(v, &cap_n, arena, a0, 0))) return st;
        if (v->len[v->n] == UINT32_MAX) return RERANK_OK;
        v->id[v->n] = (int32_t)id;
        v->n++;
        if (i < n && s[i] == ',') { i++; continue; }
        if (i < n && s[i] == '}') { *end = i + 1; return RERANK_OK; }
        return RERANK_OK;
    }
}

/* A BPE merges array at s[i] == '[': "a b" strings or ["a", "b"] pairs. */
static rerank_status_t parse_bpe_merges(const char *s, size_t n, size_t i, size_t *end, rr_vocab_t *v,
                                        rr_sbuf_t *arena) {
    size_t cap = 0, k = 0;
    rerank_status_t st;
    i = skip_ws(s, n, i + 1);
    if (i < n && s[i] == ']') { *end = i + 1; return RERANK_OK; }
    for (;;) {
        i = skip_ws(s, n, i);
        if (i >= n || k / 2 >= RR_MAX_VOCAB || arena->n > UINT32_MAX / 2) return RERANK_OK;
        size_t a0 = arena->n, a1, b0;
        if (s[i] == '"') {
            int r = read_string(s, n, &i, arena);
            if (r <= 0) return r < 0 ? RERANK_ERR_NOMEM : RERANK_OK;
            /* exactly one space: "a b" */
            const char *sp = memchr(arena->p + a0, ' ', arena->n - a0);
            if (!sp || memchr(sp + 1, ' ', arena->n - a0 - (size_t)(sp + 1 - (arena->p + a0)))) return RERANK_OK;
            a1 = (size_t)(sp - arena->p);
            b0 = a1 + 1;
        } else if (s[i] == '[') {
            i = skip_ws(s, n, i + 1);
            int r = i < n && s[i] == '"' ? read_string(s, n, &i, arena) : 0;
            if (r <= 0) return r < 0 ? RERANK_ERR_NOMEM : RERANK_OK;
            a1 = b0 = arena->n;
            i = skip_ws(s, n, i);
            if (i >= n || s[i] != ',') return RERANK_OK;
            i = skip_ws(s, n, i + 1);
            r = i < n && s[i] == '"' ? read_string(s, n, &i, arena) : 0;
            if (r <= 0) return r < 0 ? RERANK_ERR_NOMEM : RERANK_OK;
            i = skip_ws(s, n, i);
            if (i >= n || s[i] != ']') return RERANK_OK;
            i++;
        } else {
            return RERANK_OK;
        }
        if ((st = push_merge_str(v, &cap, k, a0, a1)) || (st = push_merge_str(v, &cap, k + 1, b0, arena->n)))
            return st;
        k += 2;
        i = skip_ws(s, n, i);
        if (i < n && s[i] == ',') { i++; continue; }
        if (i < n && s[i] == ']') break;
        return RERANK_OK;
    }
    v->n_merges = k / 2;
    *end = i + 1;
    return RERANK_OK;
}

/* Replace buf[from, to) by the two bytes `empty` ("[]" or "{}"). */
static void cut(char *buf, size_t *n, size_t from, size_t to, const char *empty) {
    buf[from] = empty[0];
    buf[from + 1] = empty[1];
    memmove(buf + from + 2, buf + to, *n - to);
    *n -= to - from - 2;
}

/* The BPE vocab and merges of the model object at buf[m]. */
static rerank_status_t bpe_fast(char *buf, size_t *np, size_t m, rr_vocab_t *out) {
    size_t n = *np;
    size_t v = find_key(buf, n, m, "vocab"), g = find_key(buf, n, m, "merges");
    if (!v || buf[v] != '{' || !g || buf[g] != '[') return RERANK_OK;
    rr_sbuf_t arena = {0};
    size_t vend = 0, gend = 0;
    rerank_status_t st = parse_bpe_vocab(buf, n, v, &vend, out, &arena);
    if (!st && vend) st = parse_bpe_merges(buf, n, g, &gend, out, &arena);
    if (st || !vend || !gend || out->n == 0) { /* failed, or not our business */
        rr_sbuf_release(&arena);
        rr_vocab_release(out);
        return st;
    }
    out->arena = arena.p;
    out->arena_n = arena.n;
    out->has_merges = 1;
    /* cut the later one first: the earlier one's offsets stay valid */
    if (g > v) { cut(buf, np, g, gend, "[]"); cut(buf, np, v, vend, "{}"); }
    else { cut(buf, np, v, vend, "{}"); cut(buf, np, g, gend, "[]"); }
    return RERANK_OK;
}

rerank_status_t rr_vocab_fast_parse(char *buf, size_t *np, rr_vocab_t *out) {
    size_t n = *np;
    memset(out, 0, sizeof *out);
    size_t m = find_key(buf, n, 0, "model");
    if (!m || buf[m] != '{') return RERANK_OK;
    size_t t = find_key(buf, n, m, "type");
    static const char unigram[] = "\"Unigram\"", bpe[] = "\"BPE\"";
    if (!t) return RERANK_OK;
    if (n - t >= sizeof bpe - 1 && !memcmp(buf + t, bpe, sizeof bpe - 1)) return bpe_fast(buf, np, m, out);
    if (n - t < sizeof unigram - 1 || memcmp(buf + t, unigram, sizeof unigram - 1)) return RERANK_OK;
    size_t v = find_key(buf, n, m, "vocab");
    if (!v || buf[v] != '[') return RERANK_OK;
    size_t end = 0;
    rerank_status_t st = parse_vocab(buf, n, v, &end, out);
    if (st || out->n == 0) return st;
    /* cut the array out, leaving "[]": the JSON stays valid */
    cut(buf, np, v, end, "[]");
    return RERANK_OK;
}
