/* config.h — `rerank serve` configuration. One table (config.c) drives the
 * command-line flags, the RERANK_* environment variables and --help.
 * Precedence: built-in default < environment < command line. */
#ifndef RR_SERVER_CONFIG_H
#define RR_SERVER_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "server/model_spec.h"

typedef struct rr_server_config {
    char *model;          /* the first --model as given (alias of specs)  */
    /* Every --model (repeatable; RERANK_MODEL holds one), parsed; the
     * first is the default model (TEI requests, no "model" field). */
    rr_model_spec_t specs[RR_SRV_MAX_MODELS];
    char *model_texts[RR_SRV_MAX_MODELS];
    long n_models;
    char *model_id;       /* name reported by the API (default: dir name)*/
    char *host;           /* bind address                                */
    long port;            /* 0 = any free port                           */
    long grpc_port;       /* TEI's gRPC API: -1 = off, 0 = any free port */
    char *precision;      /* fp32 | bf16 | int8 | fp16 | fp8             */
    char *device;         /* cpu | cuda | cuda:N                         */
    char *shared_prefix;  /* on | off (causal rerankers)                 */
    long threads;         /* compute threads, 0 = all cores              */
    long http_threads;    /* HTTP threads (parse + tokenize)             */
    long max_length;      /* pair length cap, 0 = RR_DEFAULT_MAX_LENGTH capped by the model */
    long layers;          /* run the first N layers, 0 = all             */
    char *truncation;     /* flag | longest_first                        */
    char *instruction;    /* an LLM reranker's default task instruction (NULL: its recipe's) */
    int auto_truncate;    /* truncate long inputs when the request says nothing */
    long max_batch_tokens;
    long max_batch_pairs;
    double max_wait_ms;
    long batches_in_flight; /* batcher workers per model, 0 = by device  */
    int batches_in_flight_auto; /* 1: left at 0, so each model's own device decides (a model's device= key) */
    long max_queue_pairs;
    long max_docs;
    long max_body_bytes;
    long max_text_bytes;
    long max_connections;
    long timeout_s;
    long shutdown_timeout_s;
    char *api_key;
    int access_log;
    /* long documents when a request says nothing (api_long.c names the fields) */
    char *long_docs;         /* truncate | chunk                            */
    long chunk_tokens;       /* document tokens per window, 0 = the room    */
    long chunk_overlap;      /* tokens neighbouring windows share           */
    long max_chunks_per_doc; /* windows per document                        */
    char *batch_order;       /* fair | fifo (batcher.h)                     */
} rr_server_config_t;

/* --max-batch-tokens 0 (the default) becomes the device's budget: on the
 * CPU 32 full 512-token pairs, enough to fill the GEMMs while one batch
 * stays well under a second; on a GPU four times that, because a GPU needs
 * more work per forward pass to be busy and such a pass takes milliseconds. */
#define RR_SERVE_CPU_BATCH_TOKENS 16384
#define RR_SERVE_CUDA_BATCH_TOKENS 65536
/* --batches-in-flight 0 (the default) by device: on a GPU a second batch's
 * host work (taking it from the queue, validating, packing, enqueueing on
 * the stream) overlaps the running batch's device work; on the CPU a batch
 * already uses every core, and a second would only wait for the model. */
#define RR_SERVE_CUDA_BATCHES_IN_FLIGHT 2
#define RR_SERVE_CPU_BATCHES_IN_FLIGHT 1

/* Parse defaults, then RERANK_* environment variables, then argv (argv[0] is
 * the command name). Returns 0 on success, 1 if --help was printed to `out`,
 * -1 on a usage error (message written to `err`). Release its strings
 * with rr_server_config_release. `getenv_fn` may be NULL (uses getenv). */
int rr_server_config_parse(rr_server_config_t *cfg, int argc, char **argv,
                           const char *(*getenv_fn)(const char *), FILE *out, FILE *err);
void rr_server_config_release(rr_server_config_t *cfg);
void rr_server_config_help(FILE *out);

#endif
