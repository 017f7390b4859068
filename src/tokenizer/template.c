/* template.c — post-processors (TemplateProcessing, RobertaProcessing,
 * BertProcessing, Sequence of those with ByteLevel) reduced to one template
 * form, and pair truncation arithmetic. */
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/limits.h"
#include "tokenizer/internal.h"

static void items_free(rr_tpl_item_t *it, size_t n) {
    for (size_t i = 0; i < n; i++) rr_free(it[i].ids);
    rr_free(it);
}

void rr_template_release(rr_template_t *t) {
    items_free(t->single, t->n_single);
    items_free(t->pair, t->n_pair);
    memset(t, 0, sizeof *t);
}

static rerank_status_t add_item(rr_tpl_item_t **items, size_t *n, int seq, const int32_t *ids,
                                size_t n_ids, int32_t type_id) {
    rr_tpl_item_t *p = rr_realloc(*items, (*n + 1) * sizeof *p);
    if (!p) return rr_error(RERANK_ERR_NOMEM, "post_processor: out of memory");
    *items = p;
    rr_tpl_item_t *it = &p[*n];
    memset(it, 0, sizeof *it);
    it->seq = seq;
    it->type_id = type_id;
    if (n_ids) {
        it->ids = rr_malloc(n_ids * sizeof(int32_t));
        if (!it->ids) return rr_error(RERANK_ERR_NOMEM, "post_processor: out of memory");
        memcpy(it->ids, ids, n_ids * sizeof(int32_t));
        it->n_ids = n_ids;
    }
    (*n)++;
    return RERANK_OK;
}

static rerank_status_t parse_pair_token(const json_t *j, const char *ctx, const char *key,
                                        int32_t *id) {
    const json_t *v = json_object_get(j, key);
    const json_t *i = json_array_get(v, 1);
    if (!json_is_array(v) || json_array_size(v) != 2 || !json_is_string(json_array_get(v, 0)) ||
        !json_is_integer(i) || json_integer_value(i) < 0 || json_integer_value(i) >= RR_MAX_VOCAB)
        return rr_error(RERANK_ERR_FORMAT, "tokenizer.json: %s.%s must be [token, id]", ctx, key);
    *id = (int32_t)json_integer_value(i);
    return RERANK_OK;
}

static rerank_status_t parse_template_list(const json_t *arr, const json_t *specials, int is_pair,
                                           rr_tpl_item_t **items, size_t *n) {
    rerank_status_t st;
    if (!json_is_array(arr))
        return rr_error(RERANK_ERR_FORMAT, "tokenizer.json: TemplateProcessing.%s must be an array",
                        is_pair ? "pair" : "single");
    if (json_array_size(arr) > 1024)
        return rr_error(RERANK_ERR_LIMIT, "tokenizer.json: TemplateProcessing template too long");
    int seen[2] = {0, 0};
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const json_t *e = json_array_get(arr, i);
        const json_t *sp = json_object_get(e, "SpecialToken"), *sq = json_object_get(e, "Sequence");
        const json_t *body = sp ? sp : sq;
        const json_t *tid = json_object_get(body, "type_id");
        const char *name = json_string_value(json_object_get(body, "id"));
        if (!json_is_object(body) || !name || !json_is_integer(tid) || json_integer_value(tid) < 0 ||
            json_integer_value(tid) > 1000000)
            return rr_error(RERANK_ERR_FORMAT,
                            "tokenizer.json: TemplateProcessing item %zu must be {SpecialToken|Sequence: {id, type_id}}", i);
        int32_t type_id = (int32_t)json_integer_value(tid);
        if (sq) {
            int seq = !strcmp(name, "A") ? 0 : !strcmp(name, "B") ? 1 : -1;
            if (seq < 0 || (seq == 1 && !is_pair))
                return rr_error(RERANK_ERR_FORMAT, "tokenizer.json: TemplateProcessing sequence id \"%s\" invalid here", name);
            seen[seq]++;
            if ((st = add_item(items, n, seq, NULL, 0, type_id))) return st;
        } else {
            const json_t *tok = json_object_get(specials, name);
            const json_t *ids = json_object_get(tok, "ids");
            if (!json_is_array(ids))
                return rr_error(RERANK_ERR_FORMAT, "tokenizer.json: TemplateProcessing special token \"%s\" is not in special_tokens", name);
            size_t k = json_array_size(ids);
            if (k > 64) return rr_error(RERANK_ERR_LIMIT, "tokenizer.json: special token \"%s\" has too many ids", name);
            int32_t buf[64];
            for (size_t m = 0; m < k; m++) {
                const json_t *v = json_array_get(ids, m);
                if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= RR_MAX_VOCAB)
                    return rr_error(RERANK_ERR_FORMAT, "tokenizer.json: special token \"%s\" has a bad id", name);
                buf[m] = (int32_t)json_integer_value(v);
            }
            if ((st = add_item(items, n, -1, buf, k, type_id))) return st;
        }
    }
    if (seen[0] != 1 || (is_pair && seen[1] != 1))
        return rr_error(RERANK_ERR_FORMAT, "tokenizer.json: TemplateProcessing %s template must use %s exactly once",
                        is_pair ? "pair" : "single", is_pair ? "A and B" : "A");
    return RERANK_OK;
}

static rerank_status_t parse_one(const json_t *j, rr_template_t *t, int depth) {
    const char *type = rr_json_type(j);
    rerank_status_t st;
    if (!type) return rr_error(RERANK_ERR_FORMAT, "tokenizer.json: post_processor without a \"type\"");
    if (!strcmp(type, "TemplateProcessing")) {
        const json_t *sp = json_object_get(j, "special_tokens");
        if (!json_is_object(sp))
            return rr_error(RERANK_ERR_FORMAT, "tokenizer.json: TemplateProcessing.special_tokens must be an object");
        if ((st = parse_template_list(json_object_get(j, "single"), sp, 0, &t->single, &t->n_single)))
            return st;
        return parse_template_list(json_object_get(j, "pair"), sp, 1, &t->pair, &t->n_pair);
    }
    if (!strcmp(type, "RobertaProcessing") || !strcmp(type, "BertProcessing")) {
        int roberta = type[0] == 'R';
        int32_t cls, sep;
        if ((st = parse_pair_token(j, type, "cls", &cls)) || (st = parse_pair_token(j, type, "sep", &sep)))
            return st;
        if ((st = add_item(&t->single, &t->n_single, -1, &cls, 1, 0)) ||
            (st = add_item(&t->single, &t->n_single, 0, NULL, 0, 0)) ||
            (st = add_item(&t->single, &t->n_single, -1, &sep, 1, 0)))
            return st;
        int32_t tb = roberta ? 0 : 1;
        if ((st = add_item(&t->pair, &t->n_pair, -1, &cls, 1, 0)) ||
            (st = add_item(&t->pair, &t->n_pair, 0, NULL, 0, 0)) ||
            (st = add_item(&t->pair, &t->n_pair, -1, &sep, 1, 0)))
            return st;
        if (roberta && (st = add_item(&t->pair, &t->n_pair, -1, &sep, 1, 0))) return st;
        if ((st = add_item(&t->pair, &t->n_pair, 1, NULL, 0, tb)) ||
            (st = add_item(&t->pair, &t->n_pair, -1, &sep, 1, tb)))
            return st;
        return RERANK_OK;
    }
    if (!strcmp(type, "Sequence") && depth == 0) {
        const json_t *arr = json_object_get(j, "processors");
        if (!json_is_array(arr))
            return rr_error(RERANK_ERR_FORMAT, "tokenizer.json: Sequence post_processor needs a \"processors\" array");
        int have = 0;
        for (size_t i = 0; i < json_array_size(arr); i++) {
            const json_t *p = json_array_get(arr, i);
            const char *pt = rr_json_type(p);
            if (pt && !strcmp(pt, "ByteLevel")) continue; /* offsets only */
            if (have)
                return rr_error(RERANK_ERR_UNSUPPORTED, "tokenizer.json: Sequence post_processor with several templates");
            if ((st = parse_one(p, t, depth + 1))) return st;
            have = 1;
        }
        if (!have) goto plain;
        return RERANK_OK;
    }
    if (!strcmp(type, "ByteLevel")) goto plain;
    return rr_error(RERANK_ERR_UNSUPPORTED, "tokenizer.json: unsupported post_processor type \"%s\"", type);
plain:
    if ((st = add_item(&t->single, &t->n_single, 0, NULL, 0, 0)) ||
        (st = add_item(&t->pair, &t->n_pair, 0, NULL, 0, 0)))
        return st;
    return add_item(&t->pair, &t->n_pair, 1, NULL, 0, 1);
}

rerank_status_t rr_template_parse(const json_t *j, rr_template_t *out) {
    memset(out, 0, sizeof *out);
    rerank_status_t st;
    if (!j || json_is_null(j)) {
        /* no post-processor: A (type 0), A B (types 0, 1) */
        if ((st = add_item(&out->single, &out->n_single, 0, NULL, 0, 0)) ||
            (st = add_item(&out->pair, &out->n_pair, 0, NULL, 0, 0)) ||
            (st = add_item(&out->pair, &out->n_pair, 1, NULL, 0, 1))) {
            rr_template_release(out);
            return st;
        }
        return RERANK_OK;
    }
    st = parse_one(j, out, 0);
    if (st) rr_template_release(out);
    return st;
}

size_t rr_template_overhead(const rr_template_t *t, int is_pair) {
    const rr_tpl_item_t *it = is_pair ? t->pair : t->single;
    size_t n = is_pair ? t->n_pair : t->n_single, k = 0;
    for (size_t i = 0; i < n; i++) k += it[i].n_ids;
    return k;
}

rerank_status_t rr_template_apply(const rr_template_t *t, const int32_t *a, size_t na,
                                  const int32_t *b, size_t nb, rerank_encoding_t *enc) {
    int pair = b != NULL;
    const rr_tpl_item_t *it = pair ? t->pair : t->single;
    size_t n = pair ? t->n_pair : t->n_single;
    size_t total = rr_template_overhead(t, pair) + na + (pair ? nb : 0);
    enc->n = 0;
    if (total > enc->cap) {
        size_t bytes;
        if (rr_mul_size(total, sizeof(int32_t), &bytes))
            return rr_error(RERANK_ERR_LIMIT, "encoding too large");
        int32_t *ids = rr_realloc(enc->ids, bytes);
        if (!ids) return rr_error(RERANK_ERR_NOMEM, "encoding: out of memory");
        enc->ids = ids;
        int32_t *ty = rr_realloc(enc->type_ids, bytes);
        if (!ty) return rr_error(RERANK_ERR_NOMEM, "encoding: out of memory");
        enc->type_ids = ty;
        enc->cap = total;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const int32_t *src = it[i].seq < 0 ? it[i].ids : it[i].seq == 0 ? a : b;
        size_t m = it[i].seq < 0 ? it[i].n_ids : it[i].seq == 0 ? na : nb;
        if (m) memcpy(enc->ids + k, src, m * sizeof(int32_t));
        for (size_t j = 0; j < m; j++) enc->type_ids[k + j] = it[i].type_id;
        k += m;
    }
    RR_ASSERT(k == total);
    enc->n = total;
    return RERANK_OK;
}

void rr_truncate_pair(size_t *na, size_t *nb, int32_t max_length, size_t overhead,
                      rerank_truncation_t strategy) {
    if (max_length <= 0 || strategy == RERANK_TRUNC_NONE) return;
    size_t max = (size_t)max_length;
    if (strategy == RERANK_TRUNC_FLAG) {
        /* FlagEmbedding: query to max*3//4, doc to max, then only_second */
        size_t qmax = max * 3 / 4;
        if (*na > qmax) *na = qmax;
        if (*nb > max) *nb = max;
        size_t total = *na + *nb + overhead;
        if (total > max) {
            size_t remove = total - max;
            /* transformers leaves the pair untruncated when the document is
             * not longer than the overflow (it logs an error instead) */
            if (*nb > remove) *nb -= remove;
        }
        return;
    }
    /* tokenizers' LongestFirst on max_length - added tokens. That is an
     * unsigned subtraction (TokenizerImpl::post_process): below the added
     * tokens it wraps to a huge length and nothing more is cut; the sides
     * keep what the early exit at max_length left (the counts passed in). */
    if (max < overhead) return;
    size_t m = max - overhead;
    if (m == 0) { *na = *nb = 0; return; }
    if (*na + *nb <= m) return;
    size_t n1 = *na, n2 = *nb;
    int swap = 0;
    if (n1 > n2) { size_t t = n1; n1 = n2; n2 = t; swap = 1; }
    if (n1 > m) n2 = n1;
    else n2 = n1 > m - n1 ? n1 : m - n1;
    if (n1 + n2 > m) {
        n1 = m / 2;
        n2 = n1 + m % 2;
    }
    if (swap) { size_t t = n1; n1 = n2; n2 = t; }
    if (*na > n1) *na = n1;
    if (*nb > n2) *nb = n2;
}
