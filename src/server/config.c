/* config.c — the option table of `rerank serve` and its parser. */
#include "server/config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "server/server_limits.h"

typedef enum { OPT_STR, OPT_INT, OPT_SIZE, OPT_FLOAT, OPT_BOOL, OPT_LIST } opt_kind_t;

typedef struct opt {
    const char *name;  /* flag without "--"; env is RERANK_ + upper(name)  */
    opt_kind_t kind;
    size_t off;        /* offset in rr_server_config_t                     */
    const char *def;   /* default as text (NULL: unset)                     */
    double min, max;   /* numeric bounds                                    */
    const char *arg;   /* metavariable for --help                           */
    const char *help;
} opt_t;

#define OFF(f) offsetof(rr_server_config_t, f)

static const opt_t k_opts[] = {
    {"model", OPT_LIST, OFF(model_texts), NULL, 0, RR_SRV_MAX_MODELS, "[NAME=]DIR[,k=v]", "model directory (config.json, model.safetensors, tokenizer.json) or Hub id ORG/NAME[@REV]; required; repeat it to serve several (below)"},
    {"model-id", OPT_STR, OFF(model_id), NULL, 0, 0, "NAME", "name of the first model in the API when its --model has no NAME= (default: the directory name)"},
    {"host", OPT_STR, OFF(host), "127.0.0.1", 0, 0, "ADDR", "address to bind; use 0.0.0.0 or :: to accept remote clients"},
    {"port", OPT_INT, OFF(port), "8080", 0, 65535, "N", "TCP port; 0 picks a free port (printed on stderr)"},
    {"grpc-port", OPT_INT, OFF(grpc_port), "-1", -1, 65535, "N", "gRPC port for TEI's tei.v1 API (Info, Rerank, RerankStream) and grpc.health.v1 on --host; -1 = off, 0 = a free port"},
    {"precision", OPT_STR, OFF(precision), "fp32", 0, 0, "P", "compute precision: fp32, bf16, int8 (CPU); fp16, fp8 (CUDA)"},
    {"device", OPT_STR, OFF(device), "cpu", 0, 0, "D", "where the model runs: cpu, cuda or cuda:N (builds with make CUDA=1)"},
    {"shared-prefix", OPT_STR, OFF(shared_prefix), "on", 0, 0, "on|off", "causal (LLM) rerankers: compute the ids a batch's pairs share at the start (the prompt up to the document) once; off: every pair in full"},
    {"threads", OPT_INT, OFF(threads), "0", 0, RR_MAX_THREADS, "N", "compute threads for the model; 0 = all cores"},
    {"http-threads", OPT_INT, OFF(http_threads), "4", 1, RR_MAX_HTTP_THREADS, "N", "HTTP threads (request parsing and tokenization)"},
    {"max-length", OPT_INT, OFF(max_length), "0", 0, RR_MAX_SEQ_TOKENS, "N", "max tokens per (query, document) pair; 0 = the model's default (512 for cross-encoders), capped at its positions"},
    {"layers", OPT_INT, OFF(layers), "0", 0, RR_MAX_LAYERS, "N", "run only the first N encoder layers (faster, less accurate); 0 = all"},
    {"truncation", OPT_STR, OFF(truncation), "flag", 0, 0, "MODE", "pair truncation: flag (FlagEmbedding) or longest_first (transformers)"},
    {"instruction", OPT_STR, OFF(instruction), NULL, 0, 0, "S", "task instruction of an LLM reranker's prompt (Qwen3-Reranker) for requests that send none; default: the model card's; a cross-encoder takes none"},
    {"auto-truncate", OPT_BOOL, OFF(auto_truncate), "1", 0, 1, NULL, "answer 413 for a pair over the max length when the request does not set \"truncate\" (default: cut it)"},
    {"max-batch-tokens", OPT_SIZE, OFF(max_batch_tokens), "0", 0, RR_SRV_MAX_BATCH_TOKENS, "N", "tokens per forward pass (sum of pair lengths); 0 = by device: 16384 on the CPU (a batch "
     "stays under a second), 65536 on CUDA (a GPU needs more work per pass to be busy)"},
    {"max-batch-pairs", OPT_SIZE, OFF(max_batch_pairs), "256", 1, RR_SRV_MAX_BATCH_PAIRS, "N", "pairs per forward pass"},
    {"max-wait-ms", OPT_FLOAT, OFF(max_wait_ms), "2", 0, RR_SRV_MAX_WAIT_MS, "MS", "longest time a queued pair waits for its batch to fill"},
    {"batches-in-flight", OPT_INT, OFF(batches_in_flight), "0", 0, RR_SRV_MAX_WORKERS, "N", "batches a model runs at once; 0 = by the model's device: 2 on CUDA (the next batch's "
     "host work, taking, packing and copying in, overlaps the running one's device work), 1 on the CPU (a batch already uses every core)"},
    {"max-queue-pairs", OPT_SIZE, OFF(max_queue_pairs), "4096", 1, RR_SRV_MAX_QUEUE_PAIRS, "N", "queued pairs bound; beyond it requests get 429 + Retry-After"},
    {"max-docs", OPT_SIZE, OFF(max_docs), "1000", 1, RR_SRV_MAX_DOCS, "N", "documents per request (413 beyond); must be <= --max-queue-pairs"},
    {"max-body-bytes", OPT_SIZE, OFF(max_body_bytes), "8M", 64, (double)RR_SRV_MAX_BODY_BYTES, "BYTES", "request body size (413 beyond); suffixes K, M, G"},
    {"max-text-bytes", OPT_SIZE, OFF(max_text_bytes), "1M", 1, (double)RR_SRV_MAX_TEXT_BYTES, "BYTES", "bytes of one query or document (413 beyond)"},
    {"max-connections", OPT_INT, OFF(max_connections), "1000", 1, RR_SRV_MAX_CONNECTIONS, "N", "concurrent connections"},
    {"timeout", OPT_INT, OFF(timeout_s), "30", 1, RR_SRV_MAX_TIMEOUT_S, "S", "read/write/idle timeout per connection, seconds"},
    {"shutdown-timeout", OPT_INT, OFF(shutdown_timeout_s), "30", 0, RR_SRV_MAX_TIMEOUT_S, "S", "on SIGTERM/SIGINT/SIGHUP, how long queued work may finish"},
    {"api-key", OPT_STR, OFF(api_key), NULL, 0, 0, "KEY", "require 'Authorization: Bearer KEY' (prefer the env var: flags show in ps)"},
    {"access-log", OPT_BOOL, OFF(access_log), "1", 0, 1, NULL, "no access log (default: one line per request on stderr)"},
    {"long-docs", OPT_STR, OFF(long_docs), "truncate", 0, 0, "MODE", "a document longer than the room the query leaves: truncate (cut it) or chunk (score windows of it, keep the best); a request's \"long_docs\" wins"},
    {"chunk-tokens", OPT_INT, OFF(chunk_tokens), "0", 0, RR_MAX_SEQ_TOKENS, "N", "document tokens per window when chunking; 0 = all the room the query leaves"},
    {"chunk-overlap", OPT_INT, OFF(chunk_overlap), "0", 0, RR_MAX_SEQ_TOKENS, "N", "tokens two neighbouring windows share (below the window)"},
    {"max-chunks-per-doc", OPT_INT, OFF(max_chunks_per_doc), "10", 1, RR_SRV_MAX_CHUNKS_PER_DOC, "K", "windows scored per document when chunking (Cohere v1's default); the rest is not scored"},
    {"batch-order", OPT_STR, OFF(batch_order), "fair", 0, 0, "ORDER", "how queued requests share a batch: fair (each its share of the token budget, the oldest first: a short request waits at most one batch behind long ones) or fifo (strict arrival order)"},
};
#define N_OPTS (sizeof k_opts / sizeof k_opts[0])

static void env_name(const opt_t *o, char *buf, size_t cap) {
    size_t k = (size_t)snprintf(buf, cap, "RERANK_");
    for (const char *p = o->name; *p && k + 1 < cap; p++) buf[k++] = *p == '-' ? '_' : (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
    buf[k] = 0;
}

void rr_server_config_help(FILE *out) {
    fprintf(out, "usage: rerank serve --model DIR [options]\n\n"
                 "Serve a cross-encoder over HTTP: POST /rerank (TEI), POST /v1/rerank and\n"
                 "/v2/rerank (Cohere / Jina), GET /health /ready /info /metrics /openapi.json.\n\n"
                 "options (each also read from the environment variable shown):\n");
    for (size_t i = 0; i < N_OPTS; i++) {
        const opt_t *o = &k_opts[i];
        char env[64], flag[64];
        env_name(o, env, sizeof env);
        if (o->kind == OPT_BOOL)
            snprintf(flag, sizeof flag, "--%s%s", !strcmp(o->def, "1") ? "no-" : "", o->name);
        else
            snprintf(flag, sizeof flag, "--%s %s", o->name, o->arg);
        fprintf(out, "  %-26s %s\n  %-26s [env %s", flag, o->help, "", env);
        if (o->kind == OPT_BOOL) fprintf(out, "=%s does the same", !strcmp(o->def, "1") ? "0" : "1");
        else if (o->def) fprintf(out, ", default %s", o->def);
        fprintf(out, "]\n");
    }
    fprintf(out, "  %-26s %s\n", "--help", "this text");
    fprintf(out, "\nseveral models: --model [NAME=]DIR[,key=value...], once per model. A request picks one by its\n"
                 "\"model\" field (Cohere / Jina); TEI's /rerank and a request without \"model\" get the first.\n"
                 "NAME defaults to the directory's name. Keys (default: the flag of the same name): precision=P,\n"
                 "device=D, layers=N, max-length=N, threads=N, instruction=TEXT (last: takes the rest, commas too).\n"
                 "Each model has its own batch queue of --max-queue-pairs. Example:\n"
                 "  rerank serve --model fast=DIR1,layers=6 --model DIR2,precision=int8\n");
}

static int parse_bool(const char *s, int *out) {
    if (!strcmp(s, "1") || !strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcasecmp(s, "on")) { *out = 1; return 0; }
    if (!strcmp(s, "0") || !strcasecmp(s, "false") || !strcasecmp(s, "no") || !strcasecmp(s, "off")) { *out = 0; return 0; }
    return -1;
}

/* Store text value v into option o. Returns 0 or -1 (message to err). */
static int set_opt(rr_server_config_t *cfg, const opt_t *o, const char *v, const char *src, FILE *err) {
    char *base = (char *)cfg + o->off;
    switch (o->kind) {
    case OPT_STR: {
        char **dst = (char **)base;
        char *d = rr_strndup(v, strlen(v));
        if (!d) { fprintf(err, "rerank serve: out of memory\n"); return -1; }
        rr_free(*dst);
        *dst = d;
        return 0;
    }
    case OPT_LIST: {
        char **list = (char **)base;
        long *n = &cfg->n_models;
        if (*n >= (long)o->max) {
            fprintf(err, "rerank serve: %s: at most %.0f models\n", src, o->max);
            return -1;
        }
        list[*n] = rr_strndup(v, strlen(v));
        if (!list[*n]) { fprintf(err, "rerank serve: out of memory\n"); return -1; }
        (*n)++;
        return 0;
    }
    case OPT_BOOL:
        if (parse_bool(v, (int *)base) != 0) {
            fprintf(err, "rerank serve: %s: '%s' is not a boolean (1/0, true/false)\n", src, v);
            return -1;
        }
        return 0;
    case OPT_INT:
    case OPT_SIZE: {
        errno = 0;
        char *end;
        long long x = strtoll(v, &end, 10);
        if (end == v || errno) goto bad_num;
        if (o->kind == OPT_SIZE && *end) {
            long long mul = 0;
            switch (*end) {
            case 'k': case 'K': mul = 1LL << 10; break;
            case 'm': case 'M': mul = 1LL << 20; break;
            case 'g': case 'G': mul = 1LL << 30; break;
            }
            if (!mul || end[1]) goto bad_num;
            if (x > (long long)o->max / mul + 1) goto range;
            x *= mul;
        } else if (*end) goto bad_num;
        if ((double)x < o->min || (double)x > o->max) goto range;
        *(long *)base = (long)x;
        return 0;
    }
    case OPT_FLOAT: {
        errno = 0;
        char *end;
        double x = strtod(v, &end);
        if (end == v || *end || errno || !isfinite(x)) goto bad_num;
        if (x < o->min || x > o->max) goto range;
        *(double *)base = x;
        return 0;
    }
    }
    return -1;
bad_num:
    fprintf(err, "rerank serve: %s: '%s' is not a valid number\n", src, v);
    return -1;
range:
    fprintf(err, "rerank serve: %s: '%s' is out of range [%.0f, %.0f]\n", src, v, o->min, o->max);
    return -1;
}

/* Drop every value of the list option (the command line replaces the
 * environment's). */
static void list_clear(rr_server_config_t *cfg) {
    for (long i = 0; i < cfg->n_models; i++) {
        rr_free(cfg->model_texts[i]);
        cfg->model_texts[i] = NULL;
        rr_model_spec_release(&cfg->specs[i]);
    }
    cfg->n_models = 0;
    cfg->model = NULL;
}

void rr_server_config_release(rr_server_config_t *cfg) {
    for (size_t i = 0; i < N_OPTS; i++)
        if (k_opts[i].kind == OPT_STR) {
            char **p = (char **)((char *)cfg + k_opts[i].off);
            rr_free(*p);
            *p = NULL;
        }
    list_clear(cfg);
}

/* Parse every --model text into cfg->specs; names given twice are an error
 * (derived names are checked once the models are found: serve_main.c). */
static int parse_specs(rr_server_config_t *cfg, FILE *err) {
    for (long i = 0; i < cfg->n_models; i++) {
        char msg[256];
        if (rr_model_spec_parse(cfg->model_texts[i], &cfg->specs[i], msg, sizeof msg)) {
            fprintf(err, "rerank serve: --model '%s': %s\n", cfg->model_texts[i], msg);
            return -1;
        }
        for (long k = 0; k < i; k++)
            if (cfg->specs[i].name && cfg->specs[k].name && !strcmp(cfg->specs[i].name, cfg->specs[k].name)) {
                fprintf(err, "rerank serve: two models are named '%s'\n", cfg->specs[i].name);
                return -1;
            }
    }
    cfg->model = cfg->model_texts[0];
    return 0;
}

static const char *default_getenv(const char *name) { return getenv(name); }

int rr_server_config_parse(rr_server_config_t *cfg, int argc, char **argv,
                           const char *(*getenv_fn)(const char *), FILE *out, FILE *err) {
    memset(cfg, 0, sizeof *cfg);
    for (int i = 0; i < RR_SRV_MAX_MODELS; i++) cfg->specs[i].layers = cfg->specs[i].max_length = cfg->specs[i].threads = -1;
    if (!getenv_fn) getenv_fn = default_getenv;
    int list_from_argv = 0;
    char src[96];
    for (size_t i = 0; i < N_OPTS; i++) {
        const opt_t *o = &k_opts[i];
        if (o->def) {
            snprintf(src, sizeof src, "default of --%s", o->name);
            if (set_opt(cfg, o, o->def, src, err)) goto fail;
        }
        char env[64];
        env_name(o, env, sizeof env);
        const char *v = getenv_fn(env);
        if (v && *v) {
            if (set_opt(cfg, o, v, env, err)) goto fail;
        }
    }
    for (int a = 1; a < argc; a++) {
        const char *arg = argv[a];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            rr_server_config_help(out);
            rr_server_config_release(cfg);
            return 1;
        }
        if (strncmp(arg, "--", 2) != 0) {
            fprintf(err, "rerank serve: unexpected argument '%s' (see --help)\n", arg);
            goto fail;
        }
        const char *name = arg + 2, *val = NULL;
        size_t nlen = strlen(name);
        const char *eq = strchr(name, '=');
        if (eq) { nlen = (size_t)(eq - name); val = eq + 1; }
        const opt_t *o = NULL;
        int negated = 0;
        for (size_t i = 0; i < N_OPTS && !o; i++) {
            if (strlen(k_opts[i].name) == nlen && !strncmp(k_opts[i].name, name, nlen)) o = &k_opts[i];
            else if (k_opts[i].kind == OPT_BOOL && nlen == strlen(k_opts[i].name) + 3 &&
                     !strncmp(name, "no-", 3) && !strncmp(name + 3, k_opts[i].name, nlen - 3)) {
                o = &k_opts[i];
                negated = 1;
            }
        }
        if (!o) {
            fprintf(err, "rerank serve: unknown option '%s' (see --help)\n", arg);
            goto fail;
        }
        snprintf(src, sizeof src, "--%.*s", (int)nlen, name);
        if (o->kind == OPT_BOOL) {
            if (negated && val) { fprintf(err, "rerank serve: %s takes no value\n", src); goto fail; }
            if (set_opt(cfg, o, negated ? "0" : (val ? val : "1"), src, err)) goto fail;
            continue;
        }
        if (!val) {
            if (a + 1 >= argc) { fprintf(err, "rerank serve: %s needs a value\n", src); goto fail; }
            val = argv[++a];
        }
        if (o->kind == OPT_LIST && !list_from_argv) {
            list_from_argv = 1;
            list_clear(cfg);
        }
        if (set_opt(cfg, o, val, src, err)) goto fail;
    }
    if (cfg->n_models == 0 || !*cfg->model_texts[0]) {
        fprintf(err, "rerank serve: --model DIR is required (see --help)\n");
        goto fail;
    }
    if (parse_specs(cfg, err)) goto fail;
    if (cfg->max_docs > cfg->max_queue_pairs) {
        fprintf(err, "rerank serve: --max-docs (%ld) must be <= --max-queue-pairs (%ld)\n",
                cfg->max_docs, cfg->max_queue_pairs);
        goto fail;
    }
    if (cfg->max_text_bytes > cfg->max_body_bytes) cfg->max_text_bytes = cfg->max_body_bytes;
    int on_cuda = !strncmp(cfg->device, "cuda", 4);
    if (cfg->max_batch_tokens == 0) cfg->max_batch_tokens = on_cuda ? RR_SERVE_CUDA_BATCH_TOKENS : RR_SERVE_CPU_BATCH_TOKENS;
    cfg->batches_in_flight_auto = cfg->batches_in_flight == 0;
    if (cfg->batches_in_flight == 0) cfg->batches_in_flight = on_cuda ? RR_SERVE_CUDA_BATCHES_IN_FLIGHT : RR_SERVE_CPU_BATCHES_IN_FLIGHT;
    if (cfg->max_batch_tokens < RR_SRV_MIN_BATCH_TOKENS) {
        fprintf(err, "rerank serve: --max-batch-tokens %ld is below %d (0 = by device)\n", cfg->max_batch_tokens,
                RR_SRV_MIN_BATCH_TOKENS);
        goto fail;
    }
    if (strcmp(cfg->long_docs, "truncate") && strcmp(cfg->long_docs, "chunk")) {
        fprintf(err, "rerank serve: --long-docs must be truncate or chunk\n");
        goto fail;
    }
    if (strcmp(cfg->batch_order, "fair") && strcmp(cfg->batch_order, "fifo")) {
        fprintf(err, "rerank serve: --batch-order must be fair or fifo\n");
        goto fail;
    }
    if (cfg->chunk_tokens && cfg->chunk_overlap >= cfg->chunk_tokens) {
        fprintf(err, "rerank serve: --chunk-overlap %ld must be below --chunk-tokens %ld\n", cfg->chunk_overlap,
                cfg->chunk_tokens);
        goto fail;
    }
    if (strcmp(cfg->truncation, "flag") && strcmp(cfg->truncation, "longest_first")) {
        fprintf(err, "rerank serve: --truncation must be flag or longest_first\n");
        goto fail;
    }
    if (cfg->api_key && (strlen(cfg->api_key) == 0 || strlen(cfg->api_key) > RR_SRV_MAX_API_KEY_BYTES)) {
        fprintf(err, "rerank serve: --api-key must be 1..%d bytes\n", RR_SRV_MAX_API_KEY_BYTES);
        goto fail;
    }
    return 0;
fail:
    rr_server_config_release(cfg);
    return -1;
}
