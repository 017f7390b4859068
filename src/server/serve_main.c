/* serve_main.c — `rerank serve`: configuration, model loading, signals. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "common/alloc.h"
#include "common/limits.h"
#include "hub/hub.h"
#include "rerank.h"
#include "server/config.h"
#include "server/server.h"

typedef struct model_scorer {
    rerank_model_t *model;
    const rerank_tokenizer_t *tok;
    rerank_score_options_t opts;
} model_scorer_t;

static rerank_status_t mb_encode(void *ctx, const char *q, size_t qn, const char *d, size_t dn, int32_t max_length,
                                 rerank_truncation_t trunc, rerank_trunc_direction_t dir, rerank_encoding_t *enc) {
    model_scorer_t *mb = ctx;
    return rerank_tokenize_pair_ex(mb->tok, q, qn, d, dn, max_length, trunc, dir, enc);
}

static rerank_status_t mb_score(void *ctx, const rerank_pair_t *pairs, size_t n, float *scores) {
    model_scorer_t *mb = ctx;
    return rerank_score_tokens(mb->model, pairs, n, &mb->opts, scores);
}

static const char *base_name(const char *path, char *buf, size_t cap) {
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') n--;
    size_t b = n;
    while (b > 0 && path[b - 1] != '/') b--;
    snprintf(buf, cap, "%.*s", (int)(n - b), path + b);
    return buf;
}

int rr_cmd_serve(int argc, char **argv) {
    rr_server_config_t cfg;
    int pr = rr_server_config_parse(&cfg, argc, argv, NULL, stdout, stderr);
    if (pr == 1) return 0;
    if (pr < 0) return 2;
    rr_alloc_init_json();

    rerank_precision_t prec;
    if (rerank_precision_parse(cfg.precision, &prec) != 0) {
        fprintf(stderr, "rerank serve: unknown --precision '%s'\n", cfg.precision);
        rr_server_config_release(&cfg);
        return 2;
    }
    /* Signals are taken by sigwait below: block them before any thread
     * starts so every thread inherits the mask. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    rr_server_t *srv = NULL;
    if (rr_server_start(&cfg, &srv) != RERANK_OK) {
        fprintf(stderr, "rerank serve: %s\n", rerank_last_error());
        rr_server_config_release(&cfg);
        return 1;
    }
    const char *shown_host = strchr(cfg.host, ':') ? "[%s]" : "%s";
    char hostbuf[300];
    snprintf(hostbuf, sizeof hostbuf, shown_host, cfg.host);
    fprintf(stderr, "rerank: listening on http://%s:%d\n", hostbuf, rr_server_port(srv));

    rerank_model_options_t mo = rerank_model_options_default();
    mo.precision = prec;
    mo.threads = (int32_t)cfg.threads;
    model_scorer_t mb = {0};
    /* A directory, or a Hub id (ORG/NAME[@REV]) taken from the cache or
     * downloaded; /health answers 503 "loading" meanwhile. */
    char model_dir[4096];
    if (rr_hub_resolve(cfg.model, model_dir, sizeof model_dir) != RERANK_OK) {
        fprintf(stderr, "rerank serve: cannot find model '%s': %s\n", cfg.model, rerank_last_error());
        rr_server_free(srv);
        rr_server_config_release(&cfg);
        return 1;
    }
    int from_hub = strcmp(model_dir, cfg.model) != 0;
    if (rerank_model_load(model_dir, &mo, &mb.model) != RERANK_OK) {
        fprintf(stderr, "rerank serve: cannot load model '%s': %s\n", cfg.model, rerank_last_error());
        rr_server_free(srv);
        rr_server_config_release(&cfg);
        return 1;
    }
    mb.tok = rerank_model_tokenizer(mb.model);
    rerank_model_info_t mi;
    rerank_model_get_info(mb.model, &mi);
    int32_t max_len = cfg.max_length > 0 ? (int32_t)cfg.max_length : RR_DEFAULT_MAX_LENGTH;
    /* max_positions is already the usable length (RoBERTa's offset removed). */
    if (mi.max_positions > 0 && max_len > mi.max_positions) max_len = mi.max_positions;
    if (cfg.max_batch_tokens < max_len) {
        fprintf(stderr, "rerank serve: --max-batch-tokens (%ld) is below the max length (%d); raising it\n",
                cfg.max_batch_tokens, max_len);
        cfg.max_batch_tokens = max_len;
    }
    if (cfg.layers > mi.num_layers) cfg.layers = mi.num_layers;
    mb.opts = rerank_score_options_default();
    mb.opts.max_length = max_len;
    mb.opts.layers = (int32_t)cfg.layers;
    mb.opts.normalize = 0;
    mb.opts.truncation = !strcmp(cfg.truncation, "longest_first") ? RERANK_TRUNC_LONGEST_FIRST : RERANK_TRUNC_FLAG;

    /* One forward pass before reporting ready: the first call pays for
     * thread pools and kernel JIT (~0.4 s), which no request should see. */
    {
        rerank_encoding_t enc = {0};
        float warm;
        if (rerank_tokenize_pair(mb.tok, "warm up", 7, "warm up", 7, max_len, mb.opts.truncation, &enc) == RERANK_OK) {
            rerank_pair_t p = {enc.ids, enc.type_ids, (int32_t)enc.n};
            if (rerank_score_tokens(mb.model, &p, 1, &mb.opts, &warm) != RERANK_OK)
                fprintf(stderr, "rerank serve: warm-up forward pass failed: %s\n", rerank_last_error());
        }
        rerank_encoding_free(&enc);
    }

    char namebuf[256];
    rr_server_info_t info = {
        .model_id = cfg.model_id ? cfg.model_id : from_hub ? cfg.model : base_name(cfg.model, namebuf, sizeof namebuf),
        .architecture = mi.architecture,
        .model_type = mi.model_type,
        .precision = rerank_precision_str(mi.precision),
        .weights_dtype = mi.weights_dtype,
        .device = mi.device,
        .num_layers = mi.num_layers,
        .layers_used = cfg.layers > 0 ? (int32_t)cfg.layers : mi.num_layers,
        .max_length = max_len,
        .truncation = mb.opts.truncation,
    };
    rr_scorer_t sc = {.ctx = &mb, .encode_pair = mb_encode, .score = mb_score};
    if (rr_server_set_scorer(srv, &sc, &info) != RERANK_OK) {
        fprintf(stderr, "rerank serve: %s\n", rerank_last_error());
        rr_server_free(srv);
        rerank_model_free(mb.model);
        rr_server_config_release(&cfg);
        return 1;
    }
    fprintf(stderr, "rerank: ready: model %s (%s, %s, %d layers, max length %d), port %d\n", info.model_id,
            info.architecture ? info.architecture : "?", info.precision, info.layers_used, max_len, rr_server_port(srv));

    int sig = 0;
    sigwait(&sigs, &sig);
    fprintf(stderr, "rerank: %s received, finishing in-flight requests (up to %lds)\n",
            sig == SIGINT ? "SIGINT" : "SIGTERM", cfg.shutdown_timeout_s);
    rr_server_drain(srv, (double)cfg.shutdown_timeout_s);
    rr_server_free(srv);
    rerank_model_free(mb.model);
    rr_server_config_release(&cfg);
    fprintf(stderr, "rerank: stopped\n");
    return 0;
}
