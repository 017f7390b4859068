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
#include "server/grpc_server.h"
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

static rerank_status_t mb_window(void *ctx, const char *q, size_t qn, const char *d, size_t dn,
                                 const rerank_pair_options_t *po, const rerank_long_options_t *lo,
                                 rerank_windows_t *out) {
    model_scorer_t *mb = ctx;
    return rerank_model_window_pair(mb->model, q, qn, d, dn, po, lo, out);
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

/* Everything serve_main holds for one served model. */
typedef struct served_model {
    model_scorer_t mb;
    rerank_model_options_t mo;
    char name[512];
    char model_dir[4096];
    int from_hub;
    char ready[1024]; /* its "ready:" line, printed after "listening on" */
} served_model_t;

/* Free the loaded models (mb.model NULL: not loaded). */
static void free_models(served_model_t *sm, long n) {
    for (long i = 0; i < n; i++) rerank_model_free(sm[i].mb.model);
}

/* Load spec i into sm (the server answers 503 "loading" meanwhile), check
 * its options, run one warm-up pass and attach it to the server. Returns 0,
 * 1 (run-time failure) or 2 (usage error: its options do not fit it). */
static int load_model(rr_server_t *srv, rr_server_config_t *cfg, long i, served_model_t *sm) {
    const rr_model_spec_t *sp = &cfg->specs[i];
    int32_t layers = (int32_t)(sp->layers >= 0 ? sp->layers : cfg->layers);
    long max_length = sp->max_length >= 0 ? sp->max_length : cfg->max_length;
    sm->mo.threads = (int32_t)(sp->threads >= 0 ? sp->threads : cfg->threads);
    sm->mb.healthy = 1;
    if (rerank_model_load(sm->model_dir, &sm->mo, &sm->mb.model) != RERANK_OK) {
        fprintf(stderr, "rerank serve: cannot load model '%s': %s\n", sp->dir, rerank_last_error());
        return 1;
    }
    rerank_model_info_t mi;
    rerank_model_get_info(sm->mb.model, &mi);
    rr_cli_note_compute("serve", &mi);
    rr_cli_note_max_length("serve", &mi, (int32_t)max_length);
    if (rr_cli_check_layers("serve", &mi, layers)) return 2;
    if (sp->instruction && !(mi.prompt && *mi.prompt)) {
        fprintf(stderr, "rerank serve: --model '%s': instruction= is for LLM rerankers; %s is a cross-encoder\n",
                cfg->model_texts[i], sm->name);
        return 2;
    }
    /* The model's default instruction: its spec's, else --instruction
     * (which only LLM rerankers take when one model is served). */
    const char *instruction = sp->instruction;
    if (!instruction && cfg->instruction) {
        if (mi.prompt && *mi.prompt) instruction = cfg->instruction;
        else if (cfg->n_models == 1 && rr_cli_check_instruction("serve", &mi, cfg->instruction)) return 2;
    }
    int32_t max_len = max_length > 0 ? (int32_t)max_length : mi.default_max_length;
    /* max_positions is already the usable length (RoBERTa's offset removed). */
    if (mi.max_positions > 0 && max_len > mi.max_positions) max_len = mi.max_positions;
    if (cfg->max_batch_tokens < max_len) {
        fprintf(stderr, "rerank serve: --max-batch-tokens (%ld) is below the max length (%d); raising it\n",
                cfg->max_batch_tokens, max_len);
        cfg->max_batch_tokens = max_len;
    }
    model_scorer_t *mb = &sm->mb;
    mb->opts = rerank_score_options_default();
    mb->opts.pair.max_length = max_len;
    mb->opts.layers = layers;
    mb->opts.normalize = 0;
    mb->opts.pair.truncation = !strcmp(cfg->truncation, "longest_first") ? RERANK_TRUNC_LONGEST_FIRST : RERANK_TRUNC_FLAG;
    if (instruction) {
        mb->opts.pair.instruction = instruction;
        mb->opts.pair.instruction_len = strlen(instruction);
    }

    /* One forward pass before reporting ready: the first call pays for
     * thread pools and kernel JIT (~0.4 s), which no request should see. */
    {
        rerank_encoding_t enc = {0};
        float warm;
        if (rerank_model_tokenize_pair(mb->model, "warm up", 7, "warm up", 7, &mb->opts.pair, &enc) == RERANK_OK) {
            rerank_pair_t p = {enc.ids, enc.type_ids, (int32_t)enc.n};
            if (rerank_score_tokens(mb->model, &p, 1, &mb->opts, &warm) != RERANK_OK)
                fprintf(stderr, "rerank serve: warm-up forward pass failed: %s\n", rerank_last_error());
        } else {
            fprintf(stderr, "rerank serve: --model '%s': %s\n", cfg->model_texts[i], rerank_last_error());
            rerank_encoding_free(&enc);
            return 2;
        }
        rerank_encoding_free(&enc);
    }

    rr_server_info_t info = {
        .model_id = sm->name,
        .architecture = mi.architecture,
        .model_type = mi.model_type,
        .precision = rerank_precision_str(mi.precision),
        .compute = mi.compute,
        .weights_dtype = mi.weights_dtype,
        .device = mi.device,
        .num_layers = mi.num_layers,
        .layers_used = layers > 0 ? layers : mi.num_layers,
        .max_length = max_len,
        .truncation = mb->opts.pair.truncation,
        .family = mi.family,
        .prompt = mi.prompt,
        .instruction = instruction,
    };
    rr_scorer_t sc = {.ctx = mb, .encode_pair = mb_encode, .score = mb_score, .state = mb_state, .window_pair = mb_window};
    if (rr_server_add_scorer(srv, &sc, &info) != RERANK_OK) {
        fprintf(stderr, "rerank serve: %s\n", rerank_last_error());
        return 1;
    }
    snprintf(sm->ready, sizeof sm->ready,
             "rerank: ready: model %s (%s, %s on %s, %d layers, max length %d, %ld tokens per batch), port %d\n",
             info.model_id, info.architecture ? info.architecture : "?", info.compute, info.device, info.layers_used,
             max_len, cfg->max_batch_tokens, rr_server_port(srv));
    return 0;
}

int rr_cmd_serve(int argc, char **argv) {
    rr_server_config_t cfg;
    int pr = rr_server_config_parse(&cfg, argc, argv, NULL, stdout, stderr);
    if (pr == 1) return 0;
    if (pr < 0) return 2;
    rr_alloc_init_json();

    served_model_t *sm = rr_calloc((size_t)cfg.n_models, sizeof *sm);
    if (!sm) {
        fprintf(stderr, "rerank serve: out of memory\n");
        rr_server_config_release(&cfg);
        return 1;
    }
    int rc = 0;
    /* Each model's precision and device, checked before anything starts. */
    for (long i = 0; i < cfg.n_models && !rc; i++) {
        const rr_model_spec_t *sp = &cfg.specs[i];
        sm[i].mo = rerank_model_options_default();
        if (rerank_precision_parse(sp->precision ? sp->precision : cfg.precision, &sm[i].mo.precision) != RERANK_OK) {
            fprintf(stderr, "rerank serve: %s: %s\n", sp->precision ? cfg.model_texts[i] : "--precision",
                    rerank_last_error());
            rc = 2;
        } else if (rr_cli_shared_prefix("serve", cfg.shared_prefix, &sm[i].mo.shared_prefix) ||
                   rr_cli_device("serve", sp->device ? sp->device : cfg.device, &sm[i].mo.device)) {
            rc = 2;
        }
    }
    if (rc) {
        rr_free(sm);
        rr_server_config_release(&cfg);
        return rc;
    }
    /* Signals are taken by sigwait below: block them before any thread
     * starts so every thread inherits the mask. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    /* SIGHUP (the terminal or ssh session went away) stops gracefully too:
     * its default action killed the server mid-request, with no drain. A
     * SIGHUP ignored at start (nohup) stays ignored: a blocked signal would
     * reach sigwait even so. */
    struct sigaction hup;
    if (sigaction(SIGHUP, NULL, &hup) == 0 && hup.sa_handler != SIG_IGN) sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    rr_server_t *srv = NULL;
    if (rr_server_start(&cfg, &srv) != RERANK_OK) {
        fprintf(stderr, "rerank serve: %s\n", rerank_last_error());
        rr_free(sm);
        rr_server_config_release(&cfg);
        return 1;
    }
    const char *shown_host = strchr(cfg.host, ':') ? "[%s]" : "%s";
    char hostbuf[300];
    snprintf(hostbuf, sizeof hostbuf, shown_host, cfg.host);
    rr_grpc_t *grpc = NULL;
    if (cfg.grpc_port >= 0 && rr_grpc_start(srv, cfg.host, cfg.grpc_port, (int)cfg.http_threads, &grpc) != RERANK_OK) {
        fprintf(stderr, "rerank serve: %s\n", rerank_last_error());
        rr_server_free(srv);
        rr_free(sm);
        rr_server_config_release(&cfg);
        return 1;
    }
    /* Find every model first (a directory, or a Hub id ORG/NAME[@REV] taken
     * from the cache or downloaded) and name it: two models with one name
     * stop the server before any loads. */
    for (long i = 0; i < cfg.n_models && !rc; i++) {
        const rr_model_spec_t *sp = &cfg.specs[i];
        if (rr_hub_resolve(sp->dir, sm[i].model_dir, sizeof sm[i].model_dir) != RERANK_OK) {
            fprintf(stderr, "rerank serve: cannot find model '%s': %s\n", sp->dir, rerank_last_error());
            rc = 1;
            break;
        }
        sm[i].from_hub = strcmp(sm[i].model_dir, sp->dir) != 0;
        char buf[512];
        const char *name = rr_model_spec_name(sp, i == 0 ? cfg.model_id : NULL, sm[i].from_hub, buf, sizeof buf);
        snprintf(sm[i].name, sizeof sm[i].name, "%s", name);
        for (long k = 0; k < i; k++)
            if (!strcmp(sm[k].name, sm[i].name)) {
                fprintf(stderr, "rerank serve: two models are named '%s' (give one a name: --model NAME=DIR)\n",
                        sm[i].name);
                rc = 2;
            }
    }
    for (long i = 0; i < cfg.n_models && !rc; i++) {
        fprintf(stderr, "rerank: loading model %s; http://%s:%d answers 503 until it is ready\n", cfg.specs[i].dir,
                hostbuf, rr_server_port(srv));
        rc = load_model(srv, &cfg, i, &sm[i]);
    }
    if (rc) {
        rr_grpc_stop(grpc, 0);
        rr_server_free(srv);
        free_models(sm, cfg.n_models);
        rr_free(sm);
        rr_server_config_release(&cfg);
        return rc;
    }
    rr_server_set_ready(srv);
    fprintf(stderr, "rerank: listening on http://%s:%d\n", hostbuf, rr_server_port(srv));
    if (grpc) fprintf(stderr, "rerank: gRPC (tei.v1) on %s:%d\n", hostbuf, rr_grpc_port(grpc));
    for (long i = 0; i < cfg.n_models; i++) fputs(sm[i].ready, stderr);

    int sig = 0;
    sigwait(&sigs, &sig);
    fprintf(stderr, "rerank: %s received, finishing in-flight requests (up to %lds)\n",
            sig == SIGINT ? "SIGINT" : sig == SIGHUP ? "SIGHUP" : "SIGTERM", cfg.shutdown_timeout_s);
    rr_grpc_stop(grpc, (double)cfg.shutdown_timeout_s); /* its calls use the batchers: first */
    rr_server_drain(srv, (double)cfg.shutdown_timeout_s);
    rr_server_free(srv);
    free_models(sm, cfg.n_models);
    rr_free(sm);
    rr_server_config_release(&cfg);
    fprintf(stderr, "rerank: stopped\n");
    return 0;
}
