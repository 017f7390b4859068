/* config.h — an evaluation configuration and the --compare syntax.
 *
 * --compare takes a comma-separated list of configurations; each is a
 * '+'-separated list of settings applied on top of the base configuration
 * (from --precision / --layers / --max-length):
 *     fp32 | bf16 | int8        compute precision (model loaded once each)
 *     layers=N                  run only the first N encoder layers
 *     max_length=N              pair length cap in tokens (max-length= too)
 *     base                      no change (the base configuration itself)
 * e.g. "fp32,bf16,int8,layers=12,bf16+layers=12,max_length=256". The first
 * configuration is the reference the others are compared with. */
#ifndef RR_EVAL_CONFIG_H
#define RR_EVAL_CONFIG_H

#include <stdint.h>

#include "rerank.h"

#define RR_EVAL_MAX_CONFIGS 32
#define RR_EVAL_CONFIG_NAME 64

typedef struct rr_eval_config {
    char name[RR_EVAL_CONFIG_NAME]; /* as written in --compare, or derived */
    rerank_precision_t precision;
    int32_t layers;     /* 0 = all   */
    int32_t max_length; /* 0 = model default */
} rr_eval_config_t;

/* "fp32", "bf16", "int8" (local table so parsing needs no engine). */
const char *rr_eval_precision_name(rerank_precision_t p);
int rr_eval_precision_parse(const char *s, rerank_precision_t *out);

/* Name a configuration from its settings ("fp32", "bf16+layers=12", ...). */
void rr_eval_config_name(rr_eval_config_t *c);

/* Parse a --compare list into out[0..*n). */
rerank_status_t rr_eval_parse_compare(const char *spec, const rr_eval_config_t *base,
                                      rr_eval_config_t *out, size_t *n);

/* Parse a positive decimal integer in [lo, hi]; -1 on error. */
int rr_eval_parse_int(const char *s, long lo, long hi, long *out);

#endif
