/* tokenizer.c — the public tokenizer API: loading tokenizer.json, the
 * encode pipeline (added tokens -> normalizer -> pre-tokenizer -> model),
 * pair encoding with truncation and the post-processor template. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/file.h"
#include "common/limits.h"
#include "common/utf8.h"
#include "tokenizer/internal.h"

void rerank_encoding_free(rerank_encoding_t *enc) {
    if (!enc) return;
    rr_free(enc->ids);
    rr_free(enc->type_ids);
    enc->ids = enc->type_ids = NULL;
    enc->n = enc->cap = 0;
}

void rerank_tokenizer_free(rerank_tokenizer_t *tok) {
    if (!tok) return;
    rr_normalizer_free(tok->normalizer);
    rr_pretok_free(tok->pretok);
    if (tok->model.ops) tok->model.ops->free(tok->model.impl);
    rr_added_trie_free(tok->raw_added);
    rr_added_trie_free(tok->norm_added);
    for (size_t i = 0; i < tok->n_added; i++) rr_free(tok->added[i].content);
    rr_free(tok->added);
    rr_template_release(&tok->tpl);
    rr_free(tok);
}

/* The models a tokenizer.json may name (tok_model.h); BPE plugs in here. */
static const rr_tok_model_ops_t *const k_models[] = {&rr_unigram_ops, &rr_wordpiece_ops, &rr_bpe_ops};

static int model_lookup(const rerank_tokenizer_t *tok, const char *s, size_t n, int32_t *id) {
    return tok->model.ops->token_id(tok->model.impl, s, n, id);
}

static rerank_status_t parse_added(const json_t *arr, rerank_tokenizer_t *tok) {
    if (!arr || json_is_null(arr)) return RERANK_OK;
    if (!json_is_array(arr))
        return rr_error(RERANK_ERR_FORMAT, "tokenizer.json: \"added_tokens\" must be an array");
    size_t n = json_array_size(arr);
    if (n > 1u << 20) return rr_error(RERANK_ERR_LIMIT, "tokenizer.json: too many added tokens (%zu)", n);
    tok->added = rr_calloc(n ? n : 1, sizeof *tok->added);
    if (!tok->added) return rr_error(RERANK_ERR_NOMEM, "tokenizer.json: out of memory");
    rerank_status_t st;
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(arr, i);
        const json_t *c = json_object_get(e, "content"), *id = json_object_get(e, "id");
        if (!json_is_object(e) || !json_is_string(c) || !json_is_integer(id) ||
            json_integer_value(id) < 0 || json_integer_value(id) >= RR_MAX_VOCAB)
            return rr_error(RERANK_ERR_FORMAT, "tokenizer.json: added_tokens[%zu] needs a string \"content\" and an id in [0, %d)",
                            i, RR_MAX_VOCAB);
        rr_added_t *a = &tok->added[tok->n_added];
        a->len = json_string_length(c);
        if (!rr_utf8_valid(json_string_value(c), a->len, NULL))
            return rr_error(RERANK_ERR_FORMAT, "tokenizer.json: added_tokens[%zu].content is not UTF-8", i);
        if (a->len > RR_MAX_TOKEN_BYTES)
            return rr_error(RERANK_ERR_LIMIT, "tokenizer.json: added_tokens[%zu] longer than %d bytes", i, RR_MAX_TOKEN_BYTES);
        a->content = rr_strndup(json_string_value(c), a->len);
        if (!a->content) return rr_error(RERANK_ERR_NOMEM, "tokenizer.json: out of memory");
        tok->n_added++;
        if ((st = rr_json_bool(e, "single_word", 0, &a->single_word, "added_tokens")) ||
            (st = rr_json_bool(e, "lstrip", 0, &a->lstrip, "added_tokens")) ||
            (st = rr_json_bool(e, "rstrip", 0, &a->rstrip, "added_tokens")) ||
            (st = rr_json_bool(e, "special", 0, &a->special, "added_tokens")) ||
            (st = rr_json_bool(e, "normalized", !a->special, &a->normalized, "added_tokens")))
            return st;
        /* the model's own id wins (HF resolves added tokens via the vocab) */
        int32_t mid;
        a->id = model_lookup(tok, a->content, a->len, &mid) ? mid : (int32_t)json_integer_value(id);
        if (a->len == 0) continue;
        if (a->id + 1 > tok->vocab_size) tok->vocab_size = a->id + 1;
    }
    if (tok->normalizer) {
        /* normalized tokens are matched on normalized text: normalize them */
        rr_sbuf_t b = {0};
        for (size_t i = 0; i < tok->n_added; i++) {
            rr_added_t *a = &tok->added[i];
            if (!a->normalized || !a->len) continue;
            if ((st = rr_normalize(tok->normalizer, a->content, a->len, &b))) { rr_sbuf_release(&b); return st; }
            char *c2 = rr_strndup(b.p ? b.p : "", b.n);
            if (!c2) { rr_sbuf_release(&b); return rr_error(RERANK_ERR_NOMEM, "tokenizer.json: out of memory"); }
            rr_free(a->content);
            a->content = c2;
            a->len = b.n;
        }
        rr_sbuf_release(&b);
    }
    if ((st = rr_added_trie_new(tok->added, tok->n_added, 0, &tok->raw_added))) return st;
    return rr_added_trie_new(tok->added, tok->n_added, 1, &tok->norm_added);
}

rerank_status_t rr_tokenizer_from_json(const json_t *root, const rr_vocab_t *pre,
                                       rerank_tokenizer_t **out) {
    *out = NULL;
    if (!json_is_object(root)) return rr_error(RERANK_ERR_FORMAT, "tokenizer.json: top level is not an object");
    rerank_tokenizer_t *tok = rr_calloc(1, sizeof *tok);
    if (!tok) return rr_error(RERANK_ERR_NOMEM, "tokenizer: out of memory");
    rerank_status_t st;
    const json_t *model = json_object_get(root, "model");
    const char *mtype = rr_json_type(model);
    if (!json_is_object(model)) {
        st = rr_error(RERANK_ERR_FORMAT, "tokenizer.json: missing \"model\" object");
        goto fail;
    }
    if (!mtype) {
        /* HF accepts an untagged model; infer the common ones */
        const json_t *v = json_object_get(model, "vocab");
        mtype = json_is_array(v) ? "Unigram" : json_object_get(model, "merges") ? "BPE" : "WordPiece";
    }
    for (size_t i = 0; i < sizeof k_models / sizeof *k_models && !tok->model.ops; i++)
        if (!strcmp(mtype, k_models[i]->type)) tok->model.ops = k_models[i];
    if (!tok->model.ops) {
        st = rr_error(RERANK_ERR_UNSUPPORTED, "tokenizer.json: unsupported model type \"%s\" (supported: Unigram, WordPiece, BPE)", mtype);
        goto fail;
    }
    {
        static const rr_vocab_t none;
        if ((st = tok->model.ops->load(model, pre ? pre : &none, &tok->model.impl, &tok->model.vocab_size))) {
            tok->model.ops = NULL;
            goto fail;
        }
    }
    tok->vocab_size = tok->model.vocab_size;
    if ((st = rr_normalizer_new(json_object_get(root, "normalizer"), &tok->normalizer))) goto fail;
    if ((st = rr_pretok_new(json_object_get(root, "pre_tokenizer"), &tok->pretok))) goto fail;
    if ((st = rr_template_parse(json_object_get(root, "post_processor"), &tok->tpl))) goto fail;
    if ((st = parse_added(json_object_get(root, "added_tokens"), tok))) goto fail;
    for (size_t i = 0; i < tok->tpl.n_pair; i++)
        for (size_t k = 0; k < tok->tpl.pair[i].n_ids; k++)
            if (tok->tpl.pair[i].ids[k] + 1 > tok->vocab_size) tok->vocab_size = tok->tpl.pair[i].ids[k] + 1;
    *out = tok;
    return RERANK_OK;
fail:
    rerank_tokenizer_free(tok);
    return st;
}

rerank_status_t rerank_tokenizer_load(const char *path, rerank_tokenizer_t **out) {
    if (!out) return rr_error(RERANK_ERR_INVALID_ARGUMENT, "rerank_tokenizer_load: out is NULL");
    *out = NULL;
    if (!path || !*path) return rr_error(RERANK_ERR_INVALID_ARGUMENT, "rerank_tokenizer_load: empty path");
    struct stat sb;
    char *file = NULL;
    if (stat(path, &sb)) return rr_error(RERANK_ERR_IO, "cannot access %s: %s", path, strerror(errno));
    if (S_ISDIR(sb.st_mode)) {
        size_t n = strlen(path);
        file = rr_malloc(n + 16);
        if (!file) return rr_error(RERANK_ERR_NOMEM, "out of memory");
        snprintf(file, n + 16, "%s%s", path, path[n - 1] == '/' ? "tokenizer.json" : "/tokenizer.json");
    }
    const char *fp = file ? file : path;
    char *buf = NULL;
    size_t n = 0;
    rerank_status_t st = rr_file_read(fp, RR_MAX_TOKENIZER_JSON_BYTES, &buf, &n);
    if (st) { rr_free(file); return st; }
    if (rr_is_lfs_pointer(buf, n)) {
        st = rr_error(RERANK_ERR_FORMAT, "%s: a Git LFS pointer (%zu bytes), not the tokenizer: the repository was "
                      "cloned without git-lfs (run `git lfs pull` there, or fetch it with `rerank pull`)", fp, n);
        rr_free(buf);
        rr_free(file);
        return st;
    }
    rr_vocab_t pre;
    if ((st = rr_vocab_fast_parse(buf, &n, &pre))) {
        rr_free(buf);
        rr_free(file);
        return st;
    }
    json_error_t jerr;
    json_t *root = json_loadb(buf, n, JSON_ALLOW_NUL, &jerr);
    rr_free(buf);
    if (!root) {
        rr_vocab_release(&pre);
        st = json_error_code(&jerr) == json_error_out_of_memory
                 ? rr_error(RERANK_ERR_NOMEM, "%s: out of memory parsing the JSON", fp)
                 : rr_error(RERANK_ERR_FORMAT, "%s: invalid JSON at line %d column %d: %s", fp, jerr.line, jerr.column,
                            jerr.text);
        rr_free(file);
        return st;
    }
    st = rr_tokenizer_from_json(root, &pre, out);
    json_decref(root);
    rr_vocab_release(&pre);
    if (st) rr_error_prefix("%s", fp);
    rr_free(file);
    return st;
}

/* ---- encoding -------------------------------------------------------------- */

typedef struct {
    rr_sbuf_t norm;
    rr_words_t words;
    rr_splits_t sub;
    rr_enc_limit_t *lim; /* NULL: no limit */
    size_t base;         /* ids->n when the call started */
    int stopped;         /* the limit was reached at the end of a word */
    rr_ids_t starts;     /* lim->full: where each model word's ids start (from base) */
} scratch_t;

static void scratch_free(scratch_t *s) {
    rr_sbuf_release(&s->norm);
    rr_words_release(&s->words);
    rr_free(s->sub.v);
    rr_ids_release(&s->starts);
}

static int counts_from_end(const scratch_t *sc) { return sc->lim && sc->lim->max && sc->lim->full; }

/* HF's Left early exit walks the words from the end and stops at the first
 * whose ids bring the suffix to max (added tokens count but never stop it):
 * the count is the suffix from the last word start that leaves >= max ids,
 * or everything when no word does. */
static size_t count_from_end(const scratch_t *sc, size_t total) {
    for (size_t k = sc->starts.n; k-- > 0;)
        if (total - (size_t)sc->starts.v[k] >= sc->lim->max) return total - (size_t)sc->starts.v[k];
    return total;
}

/* After a word went through the model: has the sequence reached the limit? */
static void check_limit(scratch_t *sc, const rr_ids_t *ids) {
    if (!sc->lim || !sc->lim->max || sc->lim->full || sc->stopped) return;
    if (ids->n - sc->base >= sc->lim->max) {
        sc->lim->count = ids->n - sc->base;
        sc->stopped = 1;
    }
}

/* 1 when encoding must stop here (limit reached and the caller wants the prefix only). */
static int must_stop(const scratch_t *sc) { return sc->stopped && !sc->lim->full; }

/* Pre-tokenize and model one piece of normalized text. */
static rerank_status_t encode_piece(const rerank_tokenizer_t *tok, const char *s, size_t n,
                                    int first, scratch_t *sc, rr_ids_t *ids) {
    rerank_status_t st = rr_pretokenize(tok->pretok, s, n, first, &sc->words);
    for (size_t i = 0; !st && i < sc->words.n && !must_stop(sc); i++) {
        const char *w = sc->words.text.p + sc->words.w[i].start;
        size_t wl = sc->words.w[i].len;
        if (wl == 0) continue;
        if (counts_from_end(sc) && (st = rr_ids_push(&sc->starts, (int32_t)(ids->n - sc->base)))) break;
        st = tok->model.ops->encode(tok->model.impl, w, wl, ids);
        check_limit(sc, ids);
    }
    return st;
}

/* One segment of raw text (no raw added tokens inside). */
static rerank_status_t encode_segment(const rerank_tokenizer_t *tok, const char *s, size_t n,
                                      int first, scratch_t *sc, rr_ids_t *ids) {
    rerank_status_t st = rr_normalize(tok->normalizer, s, n, &sc->norm);
    if (st || sc->norm.n == 0) return st;
    if (!tok->norm_added) return encode_piece(tok, sc->norm.p, sc->norm.n, first, sc, ids);
    sc->sub.n = 0;
    if ((st = rr_added_split(tok->added, tok->norm_added, sc->norm.p, sc->norm.n, &sc->sub))) return st;
    for (size_t i = 0; !st && i < sc->sub.n && !must_stop(sc); i++) {
        const rr_split_t *p = &sc->sub.v[i];
        if (p->id >= 0) st = rr_ids_push(ids, p->id);
        else st = encode_piece(tok, sc->norm.p + p->start, p->end - p->start, first && p->start == 0, sc, ids);
    }
    return st;
}

rerank_status_t rr_tokenizer_encode(const rerank_tokenizer_t *tok, const char *text, size_t len,
                                    rr_enc_limit_t *lim, rr_ids_t *ids) {
    scratch_t sc = {.lim = lim, .base = ids->n};
    rr_splits_t sp = {0};
    rerank_status_t st = RERANK_OK;
    if (len == 0) goto done;
    if (tok->raw_added) {
        if ((st = rr_added_split(tok->added, tok->raw_added, text, len, &sp))) goto done;
    } else {
        st = encode_segment(tok, text, len, 1, &sc, ids);
        goto done;
    }
    for (size_t i = 0; !st && i < sp.n && !must_stop(&sc); i++) {
        const rr_split_t *p = &sp.v[i];
        if (p->id >= 0) st = rr_ids_push(ids, p->id);
        else if (p->end > p->start)
            st = encode_segment(tok, text + p->start, p->end - p->start, p->start == 0, &sc, ids);
    }
done:
    if (counts_from_end(&sc)) lim->count = count_from_end(&sc, ids->n - sc.base);
    else if (lim && !sc.stopped) lim->count = ids->n - sc.base;
    rr_free(sp.v);
    scratch_free(&sc);
    return st;
}

rerank_status_t rr_tokenizer_check_text(const char *what, const char *s, size_t n) {
    if (!s && n) return rr_error(RERANK_ERR_INVALID_ARGUMENT, "%s is NULL with length %zu", what, n);
    if (n > RR_MAX_TEXT_BYTES)
        return rr_error(RERANK_ERR_LIMIT, "%s is %zu bytes (limit %u)", what, n, RR_MAX_TEXT_BYTES);
    size_t bad;
    if (!rr_utf8_valid(s, n, &bad))
        return rr_error(RERANK_ERR_INVALID_UTF8, "%s is not valid UTF-8 (byte offset %zu)", what, bad);
    return RERANK_OK;
}

rerank_status_t rerank_tokenize(const rerank_tokenizer_t *tok, const char *text, size_t len,
                                rerank_encoding_t *enc) {
    if (!tok || !enc) return rr_error(RERANK_ERR_INVALID_ARGUMENT, "rerank_tokenize: NULL tokenizer or encoding");
    enc->n = 0;
    rerank_status_t st = rr_tokenizer_check_text("text", text, len);
    if (st) return st;
    rr_ids_t ids = {0};
    st = rr_tokenizer_encode(tok, text, len, NULL, &ids);
    if (!st) {
        /* plain sequence, all type ids 0 */
        rr_tpl_item_t a = {.seq = 0};
        rr_template_t plain = {.single = &a, .n_single = 1};
        st = rr_template_apply(&plain, ids.v, ids.n, NULL, 0, enc);
    }
    rr_ids_release(&ids);
    if (st) enc->n = 0;
    return st;
}

rerank_pair_options_t rerank_pair_options_default(void) {
    return (rerank_pair_options_t){.max_length = 0, .truncation = RERANK_TRUNC_FLAG, .direction = RERANK_TRUNC_RIGHT};
}

rerank_status_t rerank_tokenize_pair(const rerank_tokenizer_t *tok, const char *query, size_t query_len,
                                     const char *doc, size_t doc_len, const rerank_pair_options_t *opts,
                                     rerank_encoding_t *enc) {
    if (!tok || !enc) return rr_error(RERANK_ERR_INVALID_ARGUMENT, "rerank_tokenize_pair: NULL tokenizer or encoding");
    enc->n = 0;
    const rerank_pair_options_t o = opts ? *opts : rerank_pair_options_default();
    const int32_t max_length = o.max_length;
    const rerank_truncation_t truncation = o.truncation;
    const rerank_trunc_direction_t direction = o.direction;
    if (max_length < 0)
        return rr_error(RERANK_ERR_INVALID_ARGUMENT, "rerank_tokenize_pair: max_length %d is negative", max_length);
    if (o.instruction)
        return rr_error(RERANK_ERR_INVALID_ARGUMENT,
                        "rerank_tokenize_pair: a tokenizer alone takes no instruction (only a model knows its "
                        "prompt: rerank_model_tokenize_pair)");
    if (truncation != RERANK_TRUNC_FLAG && truncation != RERANK_TRUNC_LONGEST_FIRST && truncation != RERANK_TRUNC_NONE)
        return rr_error(RERANK_ERR_INVALID_ARGUMENT, "rerank_tokenize_pair: unknown truncation strategy %d", (int)truncation);
    if (direction != RERANK_TRUNC_RIGHT && direction != RERANK_TRUNC_LEFT)
        return rr_error(RERANK_ERR_INVALID_ARGUMENT, "rerank_tokenize_pair: unknown truncation direction %d", (int)direction);
    size_t overhead = rr_template_overhead(&tok->tpl, 1);
    rerank_status_t st;
    if ((st = rr_tokenizer_check_text("query", query, query_len)) || (st = rr_tokenizer_check_text("document", doc, doc_len)))
        return st;
    /* Each side is tokenized only up to where its length is decided (HF
     * tokenizers >= 0.23 under truncation; transformers' FlagEmbedding path
     * tokenizes each side with its own max_length): Right stops there; Left
     * needs the whole side, and HF counts its words from the end. */
    rr_enc_limit_t ql = {0}, dl = {0};
    if (max_length > 0 && truncation != RERANK_TRUNC_NONE) {
        ql.max = truncation == RERANK_TRUNC_FLAG ? (size_t)max_length * 3 / 4 : (size_t)max_length;
        dl.max = (size_t)max_length;
        ql.full = dl.full = direction == RERANK_TRUNC_LEFT;
    }
    rr_ids_t q = {0}, d = {0};
    st = rr_tokenizer_encode(tok, query, query_len, &ql, &q);
    if (!st) st = rr_tokenizer_encode(tok, doc, doc_len, &dl, &d);
    if (!st) {
        size_t na = ql.count, nb = dl.count;
        rr_truncate_pair(&na, &nb, max_length, overhead, truncation);
        /* Left keeps each sequence's last tokens (transformers'
         * FlagEmbedding steps are suffix cuts too, so their composition keeps
         * the last nb tokens). The kept lengths follow the counts, which for
         * Left are taken from the end, so longest_first may keep other
         * lengths than Right. */
        const int32_t *qv = q.v, *dv = d.v;
        if (direction == RERANK_TRUNC_LEFT) {
            if (qv) qv += q.n - na;
            if (dv) dv += d.n - nb;
        }
        static const int32_t empty[1] = {0};
        st = rr_template_apply(&tok->tpl, qv, na, dv ? dv : empty, nb, enc);
    }
    rr_ids_release(&q);
    rr_ids_release(&d);
    if (st) enc->n = 0;
    return st;
}

int32_t rerank_tokenizer_pair_overhead(const rerank_tokenizer_t *tok) {
    return tok ? (int32_t)rr_template_overhead(&tok->tpl, 1) : 0;
}

int32_t rerank_tokenizer_vocab_size(const rerank_tokenizer_t *tok) {
    return tok ? tok->vocab_size : 0;
}
