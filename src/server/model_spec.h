/* model_spec.h — one `--model [NAME=]DIR[,key=value...]` of `rerank serve`: a served model and its own defaults. */
#ifndef RR_SERVER_MODEL_SPEC_H
#define RR_SERVER_MODEL_SPEC_H

#include <stddef.h>

/* Models one server may serve (each has its own batcher thread and queue). */
#define RR_SRV_MAX_MODELS 8
/* Bytes of a model name (the request's "model" field, metrics label). */
#define RR_SRV_MAX_MODEL_NAME 128

/* The text form, parsed by rr_model_spec_parse:
 *   [NAME=]DIR[,precision=P][,device=D][,layers=N][,max-length=N][,threads=N][,instruction=TEXT]
 * DIR is a model directory or a Hub id ORG/NAME[@REV]; NAME is what
 * requests send as "model" (letters, digits, . _ - :), by default the
 * directory's last component (the full id for a Hub id). Unset keys take
 * the server-wide flag (--precision, --device, ...). instruction= must be
 * the last key: it takes the rest of the text, commas included. */
typedef struct rr_model_spec {
    char *name;        /* NULL: derived from dir (rr_model_spec_name) */
    char *dir;
    char *precision;   /* NULL: --precision                           */
    char *device;      /* NULL: --device                              */
    long layers;       /* -1: --layers                                */
    long max_length;   /* -1: --max-length                            */
    long threads;      /* -1: --threads                               */
    char *instruction; /* NULL: the model's default                   */
} rr_model_spec_t;

/* Parse `text` into *out (strings rr_malloc'd; release with
 * rr_model_spec_release). Returns 0, or -1 with a message in err. */
int rr_model_spec_parse(const char *text, rr_model_spec_t *out, char *err, size_t cap);
void rr_model_spec_release(rr_model_spec_t *spec);
/* 1 if s is a valid explicit model name. */
int rr_model_spec_name_ok(const char *s, size_t n);
/* The name a spec is served under: its NAME, else `fallback` when not
 * NULL (--model-id of the first model), else the Hub id itself when the
 * directory came from the Hub, else the directory's last component. */
const char *rr_model_spec_name(const rr_model_spec_t *spec, const char *fallback, int from_hub, char *buf, size_t cap);

#endif
