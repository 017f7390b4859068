/* model.c — load / free / describe a model (public API). */
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/limits.h"
#include "engine/engine.h"
#include "tokenizer/prompt.h"

/* Label tokens a family may name (rr_family_t.label_tokens). */
#define RR_MAX_LABEL_TOKENS 4


rerank_model_options_t rerank_model_options_default(void) {
    return (rerank_model_options_t){.precision = RERANK_PRECISION_FP32, .threads = 0, .device = NULL,
                                    .shared_prefix = RERANK_SHARED_PREFIX_ON};
}

rerank_score_options_t rerank_score_options_default(void) {
    return (rerank_score_options_t){.pair = rerank_pair_options_default(), .layers = 0, .normalize = 0};
}

void rr_model_profile(rerank_model_t *m, rr_profile_t *p) {
    *p = (rr_profile_t){0};
    pthread_mutex_lock(&m->lock);
    if (m->backend && m->backend->profile) m->backend->profile(m->be, p);
    p->forward_s = m->forward_s;
    p->work = m->work;
    pthread_mutex_unlock(&m->lock);
    pthread_mutex_lock(&m->wait_lock);
    p->forward_s += m->wait_s;
    pthread_mutex_unlock(&m->wait_lock);
}

/* An LLM reranker: the ids of its label tokens ("yes", "no"), each one
 * token of the tokenizer, handed to the family to bind its head rows; and
 * its prompt recipe bound to the tokenizer. */
static rerank_status_t bind_tokens(rerank_model_t *m, const char *dir) {
    const rr_family_t *f = m->family;
    rerank_status_t st = RERANK_OK;
    if (f->label_tokens && f->bind_labels) {
        int32_t ids[RR_MAX_LABEL_TOKENS];
        int n = 0;
        for (; f->label_tokens[n] && n < RR_MAX_LABEL_TOKENS; n++) {
            const char *t = f->label_tokens[n];
            rerank_encoding_t enc = {0};
            if ((st = rerank_tokenize(m->tok, t, strlen(t), &enc))) rr_error_prefix("%s: label token", dir);
            else if (enc.n != 1)
                st = rr_error(RERANK_ERR_FORMAT, "%s: tokenizer.json: \"%s\" is %zu tokens, not one (the %s head "
                              "scores its token)", dir, t, enc.n, m->cfg.architecture);
            else ids[n] = enc.ids[0];
            rerank_encoding_free(&enc);
            if (st) return st;
            if (ids[n] >= m->cfg.vocab)
                return rr_error(RERANK_ERR_FORMAT, "%s: token \"%s\" has id %d outside the vocabulary [0, %d)", dir,
                                t, ids[n], m->cfg.vocab);
        }
        if ((st = f->bind_labels(&m->w, &m->cfg, ids))) return st;
    }
    if (f->prompt && (st = rr_prompt_new(m->tok, f->prompt, &m->prompt))) rr_error_prefix("%s", dir);
    return st;
}

/* Validate options; pick the backend and device index from o->device:
 * NULL or "cpu", "cuda" (= cuda:0) or "cuda:N". */
static rerank_status_t check_options(const rerank_model_options_t *o, const rr_blocks_t **backend, int *device) {
    if ((unsigned)o->precision > (unsigned)RERANK_PRECISION_FP8)
        return rr_error(RERANK_ERR_INVALID_ARGUMENT, "unknown precision %d", (int)o->precision);
    if ((unsigned)o->shared_prefix > (unsigned)RERANK_SHARED_PREFIX_OFF)
        return rr_error(RERANK_ERR_INVALID_ARGUMENT, "shared_prefix = %d: expected RERANK_SHARED_PREFIX_ON (0) or "
                        "RERANK_SHARED_PREFIX_OFF (1)", (int)o->shared_prefix);
    if (o->threads < 0 || o->threads > RR_MAX_THREADS)
        return rr_error(RERANK_ERR_INVALID_ARGUMENT, "threads = %d must be in [0, %d]", o->threads, RR_MAX_THREADS);
    *backend = &rr_blocks_cpu;
    *device = 0;
    if (!o->device || !strcmp(o->device, "cpu")) return RERANK_OK;
    const char *d = o->device;
    if (strncmp(d, "cuda", 4) || (d[4] && d[4] != ':'))
        return rr_error(RERANK_ERR_INVALID_ARGUMENT, "device '%.40s': expected \"cpu\", \"cuda\" or \"cuda:N\"", d);
    if (d[4] == ':') {
        int n = 0, digits = 0;
        for (const char *p = d + 5; *p; p++, digits++) {
            if (*p < '0' || *p > '9' || digits >= 3)
                return rr_error(RERANK_ERR_INVALID_ARGUMENT, "device '%.40s': bad device index", d);
            n = n * 10 + (*p - '0');
        }
        if (!digits) return rr_error(RERANK_ERR_INVALID_ARGUMENT, "device '%.40s': missing device index", d);
        *device = n;
    }
    *backend = &rr_blocks_cuda;
    return RERANK_OK;
}

rerank_status_t rr_model_load(const char *dir, const rerank_model_options_t *opts, int flags,
                              rerank_model_t **out) {
    if (!out) return rr_error(RERANK_ERR_INVALID_ARGUMENT, "rerank_model_load: out is NULL");
    *out = NULL;
    if (!dir) return rr_error(RERANK_ERR_INVALID_ARGUMENT, "rerank_model_load: dir is NULL");
    rerank_model_options_t o = opts ? *opts : rerank_model_options_default();
    const rr_blocks_t *backend;
    int device;
    rerank_status_t st = check_options(&o, &backend, &device);
    if (st) return st;
    rerank_model_t *m = rr_calloc(1, sizeof *m);
    if (!m) return rr_error(RERANK_ERR_NOMEM, "out of memory loading %s", dir);
    if (pthread_mutex_init(&m->lock, NULL)) {
        rr_free(m);
        return rr_error(RERANK_ERR_INTERNAL, "cannot create the model mutex");
    }
    if (pthread_mutex_init(&m->wait_lock, NULL)) {
        pthread_mutex_destroy(&m->lock);
        rr_free(m);
        return rr_error(RERANK_ERR_INTERNAL, "cannot create the model mutex");
    }
    m->precision = o.precision;
    m->threads = o.threads ? o.threads : omp_get_num_procs();
    if (backend == &rr_blocks_cpu) snprintf(m->device, sizeof m->device, "cpu");
    else snprintf(m->device, sizeof m->device, "cuda:%d", device);
    if ((st = rr_family_config_load(dir, &m->cfg, &m->family))) goto fail;
    if ((st = rr_weights_open(&m->w, dir))) goto fail;
    /* A tensor missing or of another shape: the checkpoint and its
     * config.json disagree; say which files. */
    if ((st = m->family->bind(&m->w, &m->cfg))) {
        rr_error_prefix("%s (config.json: %s)", m->w.files.source, m->cfg.architecture);
        goto fail;
    }
    if (!(flags & RR_LOAD_NO_TOKENIZER) && (st = rerank_tokenizer_load(dir, &m->tok))) {
        rr_error_prefix("%s: tokenizer", dir);
        goto fail;
    }
    /* A tokenizer.json of another model (e.g. XLM-R's 250002 pieces with a
     * BERT checkpoint of 30522) would produce ids past the embedding table:
     * refuse it here rather than fail (or silently mis-score) per request. */
    if (m->tok && rerank_tokenizer_vocab_size(m->tok) > m->cfg.vocab) {
        st = rr_error(RERANK_ERR_FORMAT, "%s: tokenizer.json has %d tokens but the model's vocab_size is %d "
                      "(tokenizer of another model?)", dir, rerank_tokenizer_vocab_size(m->tok), (int)m->cfg.vocab);
        goto fail;
    }
    if (m->tok && (st = bind_tokens(m, dir))) goto fail;
    rr_backend_opts_t bo = {.precision = o.precision, .device = device, .threads = m->threads};
    if ((st = backend->create(&m->cfg, &m->w, &bo, &m->be))) {
        rr_error_prefix("%s: %s backend", dir, backend->name);
        goto fail;
    }
    m->backend = backend;
    /* Shared prefixes: only a causal family's keys and values of a prefix
     * do not depend on what follows; its score is read from the last
     * token (a mean would need the prefix's rows in every pair). */
    m->shared_prefix = o.shared_prefix == RERANK_SHARED_PREFIX_ON && m->family->causal && backend->shares_prefix &&
                       m->cfg.pooling == RR_POOL_LAST;
    *out = m;
    return RERANK_OK;
fail:
    rerank_model_free(m);
    return st;
}

rerank_status_t rerank_model_load(const char *dir, const rerank_model_options_t *opts, rerank_model_t **out) {
    return rr_model_load(dir, opts, 0, out);
}

void rerank_model_free(rerank_model_t *m) {
    if (!m) return;
    if (m->backend) m->backend->destroy(m->be);
    rr_prompt_free(m->prompt);
    rerank_tokenizer_free(m->tok);
    rr_weights_release(&m->w);
    rr_free(m->pack.sp);
    rr_free(m->pack.count);
    rr_free(m->pack.pos);
    rr_pack_t *k = &m->pack;
    void *plan[] = {k->keys, k->shared, k->cl_len, k->cluster, k->cl_leader, k->rp, k->logits, k->pair_pos};
    for (size_t i = 0; i < sizeof plan / sizeof plan[0]; i++) rr_free(plan[i]);
    pthread_mutex_destroy(&m->lock);
    pthread_mutex_destroy(&m->wait_lock);
    rr_free(m);
}

void rerank_model_get_info(const rerank_model_t *m, rerank_model_info_t *info) {
    if (!info) return;
    memset(info, 0, sizeof *info);
    if (!m) return;
    const rr_config_t *c = &m->cfg;
    info->architecture = c->architecture;
    info->model_type = c->model_type;
    info->family = m->family->name;
    info->num_layers = c->layers;
    info->hidden_size = c->hidden;
    info->num_heads = c->heads;
    info->num_kv_heads = c->kv_heads;
    info->head_dim = c->head_dim;
    info->default_max_length = rr_model_default_max_length(m);
    info->intermediate_size = c->ffn;
    info->max_positions = c->usable_pos;
    info->vocab_size = c->vocab;
    info->num_labels = c->num_labels;
    info->precision = m->precision;
    info->compute = m->backend->compute ? m->backend->compute(m->be) : rerank_precision_str(m->precision);
    info->weights_dtype = rr_dtype_name(m->w.dtype);
    info->device = m->device;
    info->device_memory_bytes = m->backend->memory_used ? (int64_t)m->backend->memory_used(m->be) : 0;
    info->prompt = m->family->prompt ? m->family->prompt->name : "";
    info->shared_prefix = m->shared_prefix;
}

const rerank_tokenizer_t *rerank_model_tokenizer(const rerank_model_t *m) { return m ? m->tok : NULL; }

int rerank_model_healthy(const rerank_model_t *m) {
    if (!m) return 0;
    return m->backend->healthy ? m->backend->healthy(m->be) : 1;
}
