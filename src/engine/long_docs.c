/* long_docs.c — long documents through a model (rerank_model_window_pair,
 * rerank_score_long): the windows of each document at the model's length,
 * all scored in one call, each document's score the best of its windows.
 * A cross-encoder's windows are cuts of the document in the pair template
 * (tokenizer/window.c); an LLM reranker's are cuts of the document inside
 * its prompt (tokenizer/prompt.c), which share the prompt up to the
 * document, so the forward pass computes that once per batch. */
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/sigmoid.h"
#include "engine/engine.h"
#include "tokenizer/prompt.h"
#include "tokenizer/window.h"

rerank_status_t rerank_model_window_pair(const rerank_model_t *m, const char *query, size_t query_len,
                                         const char *doc, size_t doc_len, const rerank_pair_options_t *popts,
                                         const rerank_long_options_t *lopts, rerank_windows_t *out) {
    if (!m || !out) return rr_error(RERANK_ERR_INVALID_ARGUMENT, "rerank_model_window_pair: NULL model or windows");
    out->n = out->enc.n = 0;
    if (!m->tok)
        return rr_error(RERANK_ERR_INVALID_ARGUMENT, "rerank_model_window_pair: model was loaded without a tokenizer");
    rerank_long_options_t lo = lopts ? *lopts : rerank_long_options_default();
    rerank_status_t st = rr_long_options_check(&lo);
    if (st) return st;
    rerank_pair_options_t po = popts ? *popts : rerank_pair_options_default();
    /* Truncation as ever: the pair as the model tokenizes it, one window. */
    if (lo.mode == RERANK_LONG_DOCS_TRUNCATE && lo.max_tokens_per_doc == 0) {
        rerank_encoding_t enc = {0};
        st = rerank_model_tokenize_pair(m, query, query_len, doc, doc_len, &po, &enc);
        if (!st) st = rr_windows_append(&enc, (rerank_chunk_info_t){.n_chunks = 1}, out);
        rerank_encoding_free(&enc);
        return st;
    }
    if (po.max_length < 0) return rr_error(RERANK_ERR_INVALID_ARGUMENT, "max_length = %d is negative", po.max_length);
    /* 0: the model's default; any length: at most the model's positions. */
    if (po.max_length == 0) po.max_length = rr_model_default_max_length(m);
    if (po.max_length > m->cfg.usable_pos) po.max_length = m->cfg.usable_pos;
    /* An LLM reranker: windows of the document inside its prompt, cut from
     * the right as its recipe cuts ("none": no cut, in truncate mode). */
    if (m->prompt) {
        if (po.direction == RERANK_TRUNC_LEFT)
            return rr_error(RERANK_ERR_INVALID_ARGUMENT, "%s: the prompt recipe cuts the document from the right; "
                            "left truncation is not supported", m->cfg.architecture);
        const int32_t max_length =
            lo.mode == RERANK_LONG_DOCS_TRUNCATE && po.truncation == RERANK_TRUNC_NONE ? 0 : po.max_length;
        return rr_prompt_windows(m->prompt, po.instruction, po.instruction_len, query, query_len, doc, doc_len,
                                 max_length, &lo, out);
    }
    if (po.instruction)
        return rr_error(RERANK_ERR_INVALID_ARGUMENT, "%s is a cross-encoder: it takes no instruction",
                        m->cfg.architecture);
    return rr_tokenize_windows(m->tok, query, query_len, doc, doc_len, &po, &lo, out);
}

/* The windows of every document, as one array of pairs into w's buffers:
 * pairs[first[i] .. first[i + 1]) are document i's. */
typedef struct doc_windows {
    rerank_windows_t *w; /* one per document */
    rerank_pair_t *pairs;
    size_t *first;
    size_t n_pairs;
} doc_windows_t;

static void doc_windows_free(doc_windows_t *dw, size_t n_docs) {
    if (dw->w)
        for (size_t i = 0; i < n_docs; i++) rerank_windows_free(&dw->w[i]);
    rr_free(dw->w);
    rr_free(dw->pairs);
    rr_free(dw->first);
}

static rerank_status_t window_docs(const rerank_model_t *m, const char *query, size_t query_len,
                                   const char *const *docs, const size_t *doc_lens, size_t n_docs,
                                   const rerank_pair_options_t *po, const rerank_long_options_t *lo,
                                   doc_windows_t *dw) {
    dw->w = rr_calloc(n_docs, sizeof *dw->w);
    dw->first = rr_calloc(n_docs + 1, sizeof *dw->first);
    if (!dw->w || !dw->first) return rr_error(RERANK_ERR_NOMEM, "out of memory for %zu documents", n_docs);
    /* Each document's windows. */
    rerank_status_t st;
    for (size_t i = 0; i < n_docs; i++) {
        if (!docs[i] && (!doc_lens || doc_lens[i]))
            return rr_error(RERANK_ERR_INVALID_ARGUMENT, "document %zu is NULL", i);
        size_t dl = doc_lens ? doc_lens[i] : strlen(docs[i]);
        if ((st = rerank_model_window_pair(m, query ? query : "", query_len, docs[i] ? docs[i] : "", dl, po, lo,
                                           &dw->w[i]))) {
            rr_error_prefix("document %zu", i);
            return st;
        }
        dw->first[i + 1] = dw->first[i] + dw->w[i].n;
    }
    /* All windows as one array of pairs. */
    dw->n_pairs = dw->first[n_docs];
    dw->pairs = rr_calloc(dw->n_pairs, sizeof *dw->pairs);
    if (!dw->pairs) return rr_error(RERANK_ERR_NOMEM, "out of memory for %zu windows", dw->n_pairs);
    for (size_t i = 0; i < n_docs; i++)
        for (size_t k = 0; k < dw->w[i].n; k++) {
            const rerank_windows_t *w = &dw->w[i];
            dw->pairs[dw->first[i] + k] =
                (rerank_pair_t){w->enc.ids + w->offset[k], w->enc.type_ids + w->offset[k], w->len[k]};
        }
    return RERANK_OK;
}

rerank_status_t rerank_score_long(rerank_model_t *m, const char *query, size_t query_len, const char *const *docs,
                                  const size_t *doc_lens, size_t n_docs, const rerank_score_options_t *opts,
                                  const rerank_long_options_t *lopts, float *scores, rerank_chunk_info_t *best) {
    if (!m) return rr_error(RERANK_ERR_INVALID_ARGUMENT, "rerank_score_long: model is NULL");
    if (n_docs == 0) return RERANK_OK;
    if (!docs || !scores || (!query && query_len))
        return rr_error(RERANK_ERR_INVALID_ARGUMENT, "rerank_score_long: query, docs or scores is NULL");
    rerank_score_options_t o = opts ? *opts : rerank_score_options_default();
    rerank_long_options_t lo = lopts ? *lopts : rerank_long_options_default();
    doc_windows_t dw = {0};
    float *ws = NULL;
    rerank_status_t st = window_docs(m, query, query_len, docs, doc_lens, n_docs, &o.pair, &lo, &dw);
    /* Score every window in one call (raw logits: the max is taken first). */
    int normalize = o.normalize;
    o.normalize = 0;
    if (!st && !(ws = rr_calloc(dw.n_pairs, sizeof *ws)))
        st = rr_error(RERANK_ERR_NOMEM, "out of memory for %zu window scores", dw.n_pairs);
    if (!st) st = rerank_score_tokens(m, dw.pairs, dw.n_pairs, &o, ws);
    /* A document's score: its best window's (the first of equals). */
    for (size_t i = 0; !st && i < n_docs; i++) {
        size_t b = dw.first[i];
        for (size_t k = dw.first[i] + 1; k < dw.first[i + 1]; k++)
            if (ws[k] > ws[b]) b = k;
        scores[i] = normalize ? rr_sigmoid(ws[b]) : ws[b];
        if (best) best[i] = dw.w[i].chunks[b - dw.first[i]];
    }
    doc_windows_free(&dw, n_docs);
    rr_free(ws);
    return st;
}
