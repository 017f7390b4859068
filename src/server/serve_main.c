/* serve_main.c — `rerank serve`: configuration, model loading, signals. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/instruction.h"
#include "cli/model_notes.h"
#include "common/alloc.h"
#include "common/limits.h"
#include "hub/hub.h"
#include "rerank.h"
#include "server/config.h"
#include "server/server.h"

typedef struct model_scorer {
    rerank_model_t *model;
    rerank_score_options_t opts;
    atomic_int healthy; /* cleared when a failed batch left the model unable to score */
} model_scorer_t;

static rerank_status_t mb_encode(void *ctx, const char *q, size_t qn, const char *d, size_t dn,
                                 const rerank_pair_options_t *po, rerank_encoding_t *enc) {
    model_scorer_t *mb = ctx;
    return rerank_model_tokenize_pair(mb->model, q, qn, d, dn, po, enc);
}

static rerank_status_t mb_score(void *ctx, const rerank_pair_t *pairs, size_t n, float *scores) {
    model_scorer_t *mb = ctx;
    rerank_status_t st = rerank_score_tokens(mb->model, pairs, n, &mb->opts, scores);
    if (st != RERANK_OK && !rerank_model_healthy(mb->model)) {
        if (atomic_exchange(&mb->healthy, 0))
            fprintf(stderr, "rerank: the model cannot score any more (%s): /ready answers 503; restart the server\n",
                    rerank_last_error());
    }
    return st;
}

static void mb_state(void *ctx, rr_scorer_state_t *out) {
    model_scorer_t *mb = ctx;
    rerank_model_info_t mi;
    rerank_model_get_info(mb->model, &mi);
    out->healthy = atomic_load(&mb->healthy);
    out->device_memory_bytes = mi.device_memory_bytes;
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

    rerank_model_options_t mo = rerank_model_options_default();
    if (rerank_precision_parse(cfg.precision, &mo.precision) != RERANK_OK) {
        fprintf(stderr, "rerank serve: --precision: %s\n", rerank_last_error());
        rr_server_config_release(&cfg);
        return 2;
    }
    if (rr_cli_device("serve", cfg.device, &mo.device)) {
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
    fprintf(stderr, "rerank: loading model %s; http://%s:%d answers 503 until it is ready\n", cfg.model, hostbuf,
            rr_server_port(srv));

    mo.threads = (int32_t)cfg.threads;
    model_scorer_t mb = {.healthy = 1};
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
    rerank_model_info_t mi;
    rerank_model_get_info(mb.model, &mi);
    rr_cli_note_compute("serve", &mi);
    rr_cli_note_max_length("serve", &mi, (int32_t)cfg.max_length);
    if (rr_cli_check_layers("serve", &mi, (int32_t)cfg.layers) || rr_cli_check_instruction("serve", &mi, cfg.instruction)) {
        rr_server_free(srv);
        rerank_model_free(mb.model);
        rr_server_config_release(&cfg);
        return 2;
    }
    int32_t max_len = cfg.max_length > 0 ? (int32_t)cfg.max_length : mi.default_max_length;
    /* max_positions is already the usable length (RoBERTa's offset removed). */
    if (mi.max_positions > 0 && max_len > mi.max_positions) max_len = mi.max_positions;
    if (cfg.max_batch_tokens < max_len) {
        fprintf(stderr, "rerank serve: --max-batch-tokens (%ld) is below the max length (%d); raising it\n",
                cfg.max_batch_tokens, max_len);
        cfg.max_batch_tokens = max_len;
    }
    mb.opts = rerank_score_options_default();
    mb.opts.pair.max_length = max_len;
    mb.opts.layers = (int32_t)cfg.layers;
    mb.opts.normalize = 0;
    mb.opts.pair.truncation = !strcmp(cfg.truncation, "longest_first") ? RERANK_TRUNC_LONGEST_FIRST : RERANK_TRUNC_FLAG;

    /* One forward pass before reporting ready: the first call pays for
     * thread pools and kernel JIT (~0.4 s), which no request should see. */
    {
        rerank_encoding_t enc = {0};
        float warm;
        if (rerank_model_tokenize_pair(mb.model, "warm up", 7, "warm up", 7, &mb.opts.pair, &enc) == RERANK_OK) {
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
        .compute = mi.compute,
        .weights_dtype = mi.weights_dtype,
        .device = mi.device,
        .num_layers = mi.num_layers,
        .layers_used = cfg.layers > 0 ? (int32_t)cfg.layers : mi.num_layers,
        .max_length = max_len,
        .truncation = mb.opts.pair.truncation,
        .family = mi.family,
        .prompt = mi.prompt,
        .instruction = cfg.instruction,
    };
    rr_scorer_t sc = {.ctx = &mb, .encode_pair = mb_encode, .score = mb_score, .state = mb_state};
    if (rr_server_set_scorer(srv, &sc, &info) != RERANK_OK) {
        fprintf(stderr, "rerank serve: %s\n", rerank_last_error());
        rr_server_free(srv);
        rerank_model_free(mb.model);
        rr_server_config_release(&cfg);
        return 1;
    }
    fprintf(stderr, "rerank: listening on http://%s:%d\n", hostbuf, rr_server_port(srv));
    fprintf(stderr, "rerank: ready: model %s (%s, %s on %s, %d layers, max length %d, %ld tokens per batch), port %d\n",
            info.model_id, info.architecture ? info.architecture : "?", info.compute, info.device, info.layers_used,
            max_len, cfg.max_batch_tokens, rr_server_port(srv));

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
