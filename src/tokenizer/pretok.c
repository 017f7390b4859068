/* pretok.c — tokenizer.json "pre_tokenizer": Metaspace, WhitespaceSplit,
 * BertPreTokenizer (bert.h), Split and ByteLevel (pretok_split.c) and
 * Sequence of those. */
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/utf8.h"
#include "tokenizer/charclass.h"
#include "tokenizer/internal.h"

#define RR_MAX_PRETOK_DEPTH 16

static void pretok_clear(rr_pretok_t *p) {
    for (size_t i = 0; i < p->n_children; i++) pretok_clear(&p->children[i]);
    rr_free(p->children);
    rr_regex_free(p->re);
    memset(p, 0, sizeof *p);
}

void rr_pretok_free(rr_pretok_t *p) {
    if (!p) return;
    pretok_clear(p);
    rr_free(p);
}

static rerank_status_t parse_metaspace(const json_t *j, rr_pretok_t *p) {
    rerank_status_t st;
    p->kind = RR_PRETOK_METASPACE;
    const json_t *r = json_object_get(j, "replacement");
    if (!json_is_string(r))
        return rr_error(RERANK_ERR_FORMAT, "tokenizer.json: Metaspace.replacement must be a string");
    const char *rs = json_string_value(r);
    size_t rn = json_string_length(r);
    int len = 0;
    if (rn == 0 || rn > 4 || !rr_utf8_valid(rs, rn, NULL) ||
        (rr_utf8_decode(rs, rn, 0, &len), (size_t)len != rn))
        return rr_error(RERANK_ERR_FORMAT, "tokenizer.json: Metaspace.replacement must be one character");
    memcpy(p->replacement, rs, rn);
    p->replacement_len = (int)rn;
    /* legacy add_prefix_space: false means "never" unless prepend_scheme says */
    int aps;
    if ((st = rr_json_bool(j, "add_prefix_space", 1, &aps, "Metaspace"))) return st;
    p->prepend = aps ? RR_PREPEND_ALWAYS : RR_PREPEND_NEVER;
    const json_t *ps = json_object_get(j, "prepend_scheme");
    if (ps && !json_is_null(ps)) {
        const char *v = json_string_value(ps);
        if (!v) return rr_error(RERANK_ERR_FORMAT, "tokenizer.json: Metaspace.prepend_scheme must be a string");
        if (!strcmp(v, "always")) p->prepend = RR_PREPEND_ALWAYS;
        else if (!strcmp(v, "first")) p->prepend = RR_PREPEND_FIRST;
        else if (!strcmp(v, "never")) p->prepend = RR_PREPEND_NEVER;
        else return rr_error(RERANK_ERR_FORMAT, "tokenizer.json: unknown Metaspace.prepend_scheme \"%s\"", v);
    }
    return rr_json_bool(j, "split", 1, &p->split, "Metaspace");
}

static rerank_status_t parse_into(const json_t *j, rr_pretok_t *p, int depth) {
    const char *type = rr_json_type(j);
    if (!type) return rr_error(RERANK_ERR_FORMAT, "tokenizer.json: pre_tokenizer without a \"type\"");
    if (depth > RR_MAX_PRETOK_DEPTH)
        return rr_error(RERANK_ERR_FORMAT, "tokenizer.json: pre_tokenizers nested too deeply");
    if (!strcmp(type, "Sequence")) {
        const json_t *arr = json_object_get(j, "pretokenizers");
        if (!json_is_array(arr))
            return rr_error(RERANK_ERR_FORMAT, "tokenizer.json: Sequence pre_tokenizer needs a \"pretokenizers\" array");
        size_t k = json_array_size(arr);
        if (k > 256) return rr_error(RERANK_ERR_LIMIT, "tokenizer.json: too many pre_tokenizers (%zu)", k);
        p->kind = RR_PRETOK_SEQUENCE;
        p->children = rr_calloc(k ? k : 1, sizeof *p->children);
        if (!p->children) return rr_error(RERANK_ERR_NOMEM, "tokenizer.json: out of memory");
        for (size_t i = 0; i < k; i++) {
            p->n_children = i + 1;
            rerank_status_t st = parse_into(json_array_get(arr, i), &p->children[i], depth + 1);
            if (st) return st;
        }
        return RERANK_OK;
    }
    if (!strcmp(type, "Metaspace")) return parse_metaspace(j, p);
    if (!strcmp(type, "WhitespaceSplit")) { p->kind = RR_PRETOK_WHITESPACE_SPLIT; return RERANK_OK; }
    if (!strcmp(type, "BertPreTokenizer")) { p->kind = RR_PRETOK_BERT; return RERANK_OK; }
    if (!strcmp(type, "Split")) return rr_pretok_split_parse(j, p);
    if (!strcmp(type, "ByteLevel")) return rr_pretok_byte_level_parse(j, p);
    return rr_error(RERANK_ERR_UNSUPPORTED, "tokenizer.json: unsupported pre_tokenizer type \"%s\"", type);
}

rerank_status_t rr_pretok_new(const json_t *j, rr_pretok_t **out) {
    *out = NULL;
    if (!j || json_is_null(j)) return RERANK_OK;
    rr_pretok_t *p = rr_calloc(1, sizeof *p);
    if (!p) return rr_error(RERANK_ERR_NOMEM, "tokenizer.json: out of memory");
    rerank_status_t st = parse_into(j, p, 0);
    if (st) { rr_pretok_free(p); return st; }
    *out = p;
    return RERANK_OK;
}

/* Metaspace: ' ' -> replacement, maybe prepend it, then split so that every
 * replacement char starts a new word (SplitDelimiterBehavior::MergedWithNext). */
static rerank_status_t metaspace(const rr_pretok_t *p, const char *s, size_t n, int first,
                                 rr_words_t *out) {
    if (n == 0) return RERANK_OK;
    rerank_status_t st;
    size_t base = out->text.n;
    const char *rep = p->replacement;
    size_t rl = (size_t)p->replacement_len;
    int starts_rep = s[0] == ' ' || (n >= rl && !memcmp(s, rep, rl));
    int prepend = !starts_rep && (p->prepend == RR_PREPEND_ALWAYS ||
                                  (p->prepend == RR_PREPEND_FIRST && first));
    if ((st = rr_sbuf_reserve(&out->text, n * rl + rl))) return st;
    if (prepend) rr_sbuf_append(&out->text, rep, rl);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ' ') rr_sbuf_append(&out->text, rep, rl);
        else out->text.p[out->text.n++] = s[i];
    }
    size_t end = out->text.n;
    if (!p->split) return rr_words_push(out, base, end - base, first);
    const char *t = out->text.p;
    size_t ws = base;
    int wfirst = first;
    for (size_t i = base; i < end;) {
        if (i > ws && end - i >= rl && !memcmp(t + i, rep, rl)) {
            if ((st = rr_words_push(out, ws, i - ws, wfirst))) return st;
            wfirst = 0;
            ws = i;
        }
        int len;
        rr_utf8_decode(t, end, i, &len);
        i += (size_t)len;
    }
    return rr_words_push(out, ws, end - ws, wfirst);
}

static rerank_status_t whitespace_split(const char *s, size_t n, int first, rr_words_t *out) {
    size_t base = out->text.n;
    rerank_status_t st = rr_sbuf_append(&out->text, s, n);
    if (st) return st;
    size_t i = 0, ws = 0;
    int in_word = 0;
    while (i < n) {
        int len;
        uint32_t c = rr_utf8_decode(s, n, i, &len);
        if (rr_uc_is_space(c)) {
            if (in_word && (st = rr_words_push(out, base + ws, i - ws, first && ws == 0))) return st;
            in_word = 0;
        } else if (!in_word) {
            in_word = 1;
            ws = i;
        }
        i += (size_t)len;
    }
    if (in_word) return rr_words_push(out, base + ws, n - ws, first && ws == 0);
    return RERANK_OK;
}

static rerank_status_t apply_one(const rr_pretok_t *p, const char *s, size_t n, int first,
                                 rr_words_t *out);

static rerank_status_t apply_sequence(const rr_pretok_t *p, const char *s, size_t n, int first,
                                      rr_words_t *out) {
    rr_words_t a = {0}, b = {0};
    rerank_status_t st = rr_words_push_text(&a, s, n, first);
    for (size_t c = 0; !st && c < p->n_children; c++) {
        rr_words_reset(&b);
        for (size_t i = 0; !st && i < a.n; i++)
            st = apply_one(&p->children[c], a.text.p + a.w[i].start, a.w[i].len, a.w[i].first, &b);
        rr_words_t t = a;
        a = b;
        b = t;
    }
    for (size_t i = 0; !st && i < a.n; i++) st = rr_words_push_text(out, a.text.p + a.w[i].start, a.w[i].len, a.w[i].first);
    rr_words_release(&a);
    rr_words_release(&b);
    return st;
}

static rerank_status_t apply_one(const rr_pretok_t *p, const char *s, size_t n, int first,
                                 rr_words_t *out) {
    if (n == 0) return RERANK_OK;
    switch (p->kind) {
    case RR_PRETOK_SEQUENCE: return apply_sequence(p, s, n, first, out);
    case RR_PRETOK_METASPACE: return metaspace(p, s, n, first, out);
    case RR_PRETOK_WHITESPACE_SPLIT: return whitespace_split(s, n, first, out);
    case RR_PRETOK_BERT: return rr_bert_pretokenize(s, n, first, out);
    case RR_PRETOK_SPLIT: return rr_pretok_split_apply(p, s, n, first, out);
    case RR_PRETOK_BYTE_LEVEL: return rr_pretok_byte_level_apply(p, s, n, first, out);
    }
    RR_ASSERT(0 && "unknown pre-tokenizer kind");
    return RERANK_ERR_INTERNAL;
}

rerank_status_t rr_pretokenize(const rr_pretok_t *p, const char *s, size_t n, int first,
                               rr_words_t *out) {
    rr_words_reset(out);
    if (!p) return n ? rr_words_push_text(out, s, n, first) : RERANK_OK;
    return apply_one(p, s, n, first, out);
}
