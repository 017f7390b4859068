/* score.c — public scoring entry points: validate, chunk, run the forward
 * pass under the model's lock (wait for a device without it), optionally
 * squash with a sigmoid. */
#include <math.h>
#include <stdint.h>
#include <omp.h>
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/limits.h"
#include "common/sigmoid.h"
#include "engine/engine.h"
#include "tokenizer/prompt.h"

static rerank_status_t check_pair(const rerank_model_t *m, const rerank_pair_t *p, size_t i) {
    const rr_config_t *c = &m->cfg;
    if (p->n < 1) return rr_error(RERANK_ERR_INVALID_ARGUMENT, "pair %zu: %d tokens (need at least 1)", i, p->n);
    if (p->n > c->usable_pos)
        return rr_error(RERANK_ERR_LIMIT, "pair %zu: %d tokens exceed the model's %d positions", i, p->n,
                        c->usable_pos);
    if (!p->ids) return rr_error(RERANK_ERR_INVALID_ARGUMENT, "pair %zu: ids is NULL", i);
    for (int32_t j = 0; j < p->n; j++) {
        if (p->ids[j] < 0 || p->ids[j] >= c->vocab)
            return rr_error(RERANK_ERR_INVALID_ARGUMENT, "pair %zu: token %d has id %d outside the vocabulary [0, %d)",
                            i, j, p->ids[j], c->vocab);
        if (p->type_ids && c->type_vocab > 0 && (p->type_ids[j] < 0 || p->type_ids[j] >= c->type_vocab))
            return rr_error(RERANK_ERR_INVALID_ARGUMENT,
                            "pair %zu: token %d has type id %d outside [0, %d) (type_vocab_size)", i, j,
                            p->type_ids[j], c->type_vocab);
    }
    return RERANK_OK;
}

rerank_status_t rerank_score_tokens(rerank_model_t *m, const rerank_pair_t *pairs, size_t n_pairs,
                                    const rerank_score_options_t *opts, float *scores) {
    if (!m) return rr_error(RERANK_ERR_INVALID_ARGUMENT, "rerank_score_tokens: model is NULL");
    if (n_pairs == 0) return RERANK_OK;
    if (!pairs || !scores)
        return rr_error(RERANK_ERR_INVALID_ARGUMENT, "rerank_score_tokens: pairs or scores is NULL");
    rerank_score_options_t o = opts ? *opts : rerank_score_options_default();
    if (o.layers < 0 || o.layers > m->cfg.layers)
        return rr_error(RERANK_ERR_INVALID_ARGUMENT, "layers = %d must be in [0, %d]", o.layers, m->cfg.layers);
    int32_t layers = o.layers ? o.layers : m->cfg.layers;
    rerank_status_t st;
    for (size_t i = 0; i < n_pairs; i++)
        if ((st = check_pair(m, &pairs[i], i))) return st;

    pthread_mutex_lock(&m->lock);
    int prev_threads = omp_get_max_threads();
    omp_set_num_threads(m->threads);
    /* Whole pairs, up to RR_CHUNK_TOKENS tokens per forward pass on the CPU;
     * a device backend (one that ends passes without waiting) takes the
     * call in one pass and cuts its own chunks, pipelined on its stream.
     * The last pass may end without waiting for the device: its logits are
     * waited for below, without the lock, while another caller's pass is
     * packed and queued behind it. */
    st = RERANK_OK;
    void *ticket = NULL;
    const size_t cap = m->backend->end_async ? SIZE_MAX : RR_CHUNK_TOKENS;
    for (size_t a = 0; a < n_pairs && !st;) {
        size_t b = a, tokens = 0;
        while (b < n_pairs && (b == a || tokens + (size_t)pairs[b].n <= cap)) tokens += (size_t)pairs[b++].n;
        st = rr_model_forward(m, pairs + a, b - a, layers, scores + a, b == n_pairs ? &ticket : NULL);
        a = b;
    }
    omp_set_num_threads(prev_threads);
    pthread_mutex_unlock(&m->lock);
    const rerank_status_t w = rr_model_wait(m, ticket);
    if (!st) st = w;
    if (st) {
        memset(scores, 0, n_pairs * sizeof *scores);
        return st;
    }
    if (o.normalize)
        for (size_t i = 0; i < n_pairs; i++) scores[i] = rr_sigmoid(scores[i]);
    return RERANK_OK;
}

rerank_status_t rerank_model_tokenize_pair(const rerank_model_t *m, const char *query, size_t query_len,
                                           const char *doc, size_t doc_len, const rerank_pair_options_t *opts,
                                           rerank_encoding_t *enc) {
    if (!m || !enc) return rr_error(RERANK_ERR_INVALID_ARGUMENT, "rerank_model_tokenize_pair: NULL model or encoding");
    if (!m->tok)
        return rr_error(RERANK_ERR_INVALID_ARGUMENT, "rerank_model_tokenize_pair: model was loaded without a tokenizer");
    rerank_pair_options_t o = opts ? *opts : rerank_pair_options_default();
    if (o.max_length < 0) return rr_error(RERANK_ERR_INVALID_ARGUMENT, "max_length = %d is negative", o.max_length);
    if (o.instruction && !m->prompt)
        return rr_error(RERANK_ERR_INVALID_ARGUMENT, "%s is a cross-encoder: it takes no instruction",
                        m->cfg.architecture);
    /* 0: the model's default; any length: at most the model's positions. */
    if (o.max_length == 0) o.max_length = rr_model_default_max_length(m);
    if (o.max_length > m->cfg.usable_pos) o.max_length = m->cfg.usable_pos;
    if (!m->prompt) return rerank_tokenize_pair(m->tok, query, query_len, doc, doc_len, &o, enc);
    /* An LLM reranker: its prompt, the middle cut from the right (the
     * recipe's own rule; "none" never cuts, and an over-long prompt fails
     * when scored). */
    if (o.direction == RERANK_TRUNC_LEFT)
        return rr_error(RERANK_ERR_INVALID_ARGUMENT, "%s: the prompt recipe cuts the document from the right; "
                        "left truncation is not supported", m->cfg.architecture);
    return rr_prompt_encode(m->prompt, o.instruction, o.instruction_len, query, query_len, doc, doc_len,
                            o.truncation == RERANK_TRUNC_NONE ? 0 : o.max_length, enc);
}

rerank_status_t rerank_score(rerank_model_t *m, const char *query, size_t query_len, const char *const *docs,
                             const size_t *doc_lens, size_t n_docs, const rerank_score_options_t *opts,
                             float *scores) {
    if (!m) return rr_error(RERANK_ERR_INVALID_ARGUMENT, "rerank_score: model is NULL");
    if (n_docs == 0) return RERANK_OK;
    if (!docs || !scores || (!query && query_len))
        return rr_error(RERANK_ERR_INVALID_ARGUMENT, "rerank_score: query, docs or scores is NULL");
    if (!m->tok) return rr_error(RERANK_ERR_INVALID_ARGUMENT, "rerank_score: model was loaded without a tokenizer");
    rerank_score_options_t o = opts ? *opts : rerank_score_options_default();
    if (o.layers < 0 || o.layers > m->cfg.layers)
        return rr_error(RERANK_ERR_INVALID_ARGUMENT, "layers = %d must be in [0, %d]", o.layers, m->cfg.layers);

    /* Tokenize every pair into one buffer, then score them all. */
    rerank_status_t st = RERANK_OK;
    rerank_encoding_t enc = {0};
    rerank_pair_t *pairs = rr_calloc(n_docs, sizeof *pairs);
    size_t *offs = rr_calloc(n_docs, sizeof *offs);
    int32_t *ids = NULL, *types = NULL;
    size_t used = 0, cap = 0;
    if (!pairs || !offs) { st = rr_error(RERANK_ERR_NOMEM, "out of memory for %zu documents", n_docs); goto done; }
    for (size_t i = 0; i < n_docs; i++) {
        if (!docs[i] && (!doc_lens || doc_lens[i])) {
            st = rr_error(RERANK_ERR_INVALID_ARGUMENT, "document %zu is NULL", i);
            goto done;
        }
        size_t dl = doc_lens ? doc_lens[i] : strlen(docs[i]);
        if ((st = rerank_model_tokenize_pair(m, query ? query : "", query_len, docs[i] ? docs[i] : "", dl, &o.pair,
                                             &enc))) {
            rr_error_prefix("document %zu", i);
            goto done;
        }
        if (used + enc.n > cap) {
            size_t ncap = (used + enc.n) * 2 + 1024;
            int32_t *ni = rr_realloc(ids, ncap * sizeof *ni);
            if (ni) ids = ni;
            int32_t *nt = ni ? rr_realloc(types, ncap * sizeof *nt) : NULL;
            if (nt) types = nt;
            if (!ni || !nt) { st = rr_error(RERANK_ERR_NOMEM, "out of memory for token ids"); goto done; }
            cap = ncap;
        }
        memcpy(ids + used, enc.ids, enc.n * sizeof *ids);
        memcpy(types + used, enc.type_ids, enc.n * sizeof *types);
        offs[i] = used;
        pairs[i].n = (int32_t)enc.n;
        used += enc.n;
    }
    for (size_t i = 0; i < n_docs; i++) {
        pairs[i].ids = ids + offs[i];
        pairs[i].type_ids = types + offs[i];
    }
    st = rerank_score_tokens(m, pairs, n_docs, &o, scores);
done:
    rerank_encoding_free(&enc);
    rr_free(pairs);
    rr_free(offs);
    rr_free(ids);
    rr_free(types);
    return st;
}
