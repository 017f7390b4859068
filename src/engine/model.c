/* model.c — load / free / describe a model (public API). */
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/limits.h"
#include "engine/engine.h"


static const char *const k_precision_names[] = {"fp32", "bf16", "int8"};

const char *rerank_precision_str(rerank_precision_t p) {
    return (unsigned)p < 3 ? k_precision_names[p] : "unknown";
}

int rerank_precision_parse(const char *name, rerank_precision_t *out) {
    if (!name) return -1;
    for (int i = 0; i < 3; i++)
        if (!strcmp(name, k_precision_names[i])) {
            if (out) *out = (rerank_precision_t)i;
            return 0;
        }
    return -1;
}

rerank_model_options_t rerank_model_options_default(void) {
    return (rerank_model_options_t){.precision = RERANK_PRECISION_FP32, .threads = 0, .device = NULL};
}

rerank_score_options_t rerank_score_options_default(void) {
    return (rerank_score_options_t){
        .max_length = 0, .truncation = RERANK_TRUNC_FLAG, .layers = 0, .normalize = 0, .direction = RERANK_TRUNC_RIGHT};
}

void rr_model_profile(rerank_model_t *m, rr_profile_t *p) {
    *p = (rr_profile_t){0};
    pthread_mutex_lock(&m->lock);
    if (m->backend && m->backend->profile) m->backend->profile(m->ctx, p);
    pthread_mutex_unlock(&m->lock);
}

/* Validate options; pick the backend and device index from o->device:
 * NULL or "cpu", "cuda" (= cuda:0) or "cuda:N". */
static rerank_status_t check_options(const rerank_model_options_t *o, const rr_backend_t **backend, int *device) {
    if ((unsigned)o->precision > RERANK_PRECISION_INT8)
        return rr_error(RERANK_ERR_INVALID_ARGUMENT, "unknown precision %d", (int)o->precision);
    if (o->threads < 0 || o->threads > RR_MAX_THREADS)
        return rr_error(RERANK_ERR_INVALID_ARGUMENT, "threads = %d must be in [0, %d]", o->threads, RR_MAX_THREADS);
    *backend = &rr_backend_cpu;
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
    *backend = &rr_backend_cuda;
    return RERANK_OK;
}

rerank_status_t rr_model_load(const char *dir, const rerank_model_options_t *opts, int flags,
                              rerank_model_t **out) {
    if (!out) return rr_error(RERANK_ERR_INVALID_ARGUMENT, "rerank_model_load: out is NULL");
    *out = NULL;
    if (!dir) return rr_error(RERANK_ERR_INVALID_ARGUMENT, "rerank_model_load: dir is NULL");
    rerank_model_options_t o = opts ? *opts : rerank_model_options_default();
    const rr_backend_t *backend;
    int device;
    rerank_status_t st = check_options(&o, &backend, &device);
    if (st) return st;
    rerank_model_t *m = rr_calloc(1, sizeof *m);
    if (!m) return rr_error(RERANK_ERR_NOMEM, "out of memory loading %s", dir);
    if (pthread_mutex_init(&m->lock, NULL)) {
        rr_free(m);
        return rr_error(RERANK_ERR_INTERNAL, "cannot create the model mutex");
    }
    m->precision = o.precision;
    m->threads = o.threads ? o.threads : omp_get_num_procs();
    if (backend == &rr_backend_cpu) snprintf(m->device, sizeof m->device, "cpu");
    else snprintf(m->device, sizeof m->device, "cuda:%d", device);
    if ((st = rr_config_load(dir, &m->cfg))) goto fail;
    if ((st = rr_weights_load(dir, &m->cfg, &m->w))) goto fail;
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
    rr_backend_opts_t bo = {.precision = o.precision, .device = device, .threads = m->threads};
    if ((st = backend->create(&m->cfg, &m->w, &bo, &m->ctx))) {
        rr_error_prefix("%s: %s backend", dir, backend->name);
        goto fail;
    }
    m->backend = backend;
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
    if (m->backend) m->backend->destroy(m->ctx);
    rerank_tokenizer_free(m->tok);
    rr_weights_free(&m->w);
    pthread_mutex_destroy(&m->lock);
    rr_free(m);
}

void rerank_model_get_info(const rerank_model_t *m, rerank_model_info_t *info) {
    if (!info) return;
    memset(info, 0, sizeof *info);
    if (!m) return;
    const rr_config_t *c = &m->cfg;
    info->architecture = c->architecture;
    info->model_type = c->model_type;
    info->num_layers = c->layers;
    info->hidden_size = c->hidden;
    info->num_heads = c->heads;
    info->intermediate_size = c->ffn;
    info->max_positions = c->usable_pos;
    info->vocab_size = c->vocab;
    info->num_labels = c->num_labels;
    info->precision = m->precision;
    info->compute = m->backend->compute ? m->backend->compute(m->ctx) : rerank_precision_str(m->precision);
    info->weights_dtype = rr_dtype_name(m->w.word_emb.dtype);
    info->device = m->device;
}

const rerank_tokenizer_t *rerank_model_tokenizer(const rerank_model_t *m) { return m ? m->tok : NULL; }
