/* config.c — evaluation configurations and the --compare list (config.h). */
#include "eval/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/limits.h"

static const char *const k_prec[] = {"fp32", "bf16", "int8"};

const char *rr_eval_precision_name(rerank_precision_t p) {
    return (unsigned)p < 3 ? k_prec[p] : "?";
}

int rr_eval_precision_parse(const char *s, rerank_precision_t *out) {
    for (int i = 0; i < 3; i++)
        if (!strcmp(s, k_prec[i])) {
            *out = (rerank_precision_t)i;
            return 0;
        }
    return -1;
}

int rr_eval_parse_int(const char *s, long lo, long hi, long *out) {
    if (!s || !*s || *s == '-' || *s == '+' || *s == ' ') return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (*end || errno || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

void rr_eval_config_name(rr_eval_config_t *c) {
    int n = snprintf(c->name, sizeof c->name, "%s", rr_eval_precision_name(c->precision));
    if (c->layers > 0 && n >= 0 && (size_t)n < sizeof c->name)
        n += snprintf(c->name + n, sizeof c->name - (size_t)n, "+layers=%d", (int)c->layers);
    if (c->max_length > 0 && n >= 0 && (size_t)n < sizeof c->name)
        snprintf(c->name + n, sizeof c->name - (size_t)n, "+max_length=%d", (int)c->max_length);
}

/* Apply one "key[=value]" setting to c. */
static rerank_status_t apply(rr_eval_config_t *c, const char *tok, unsigned *seen) {
    long v;
    if (!strcmp(tok, "base")) return RERANK_OK;
    if (!rr_eval_precision_parse(tok, &c->precision)) {
        if (*seen & 1) return rr_error(RERANK_ERR_INVALID_ARGUMENT, "two precisions");
        *seen |= 1;
        return RERANK_OK;
    }
    const char *eq = strchr(tok, '=');
    if (eq) {
        size_t kl = (size_t)(eq - tok);
        if (kl == 6 && !strncmp(tok, "layers", 6)) {
            if (*seen & 2) return rr_error(RERANK_ERR_INVALID_ARGUMENT, "layers given twice");
            if (rr_eval_parse_int(eq + 1, 1, RR_MAX_LAYERS, &v))
                return rr_error(RERANK_ERR_INVALID_ARGUMENT, "layers must be 1..%d", RR_MAX_LAYERS);
            *seen |= 2;
            c->layers = (int32_t)v;
            return RERANK_OK;
        }
        if (kl == 10 && (!strncmp(tok, "max_length", 10) || !strncmp(tok, "max-length", 10))) {
            if (*seen & 4) return rr_error(RERANK_ERR_INVALID_ARGUMENT, "max_length given twice");
            if (rr_eval_parse_int(eq + 1, 2, RR_MAX_SEQ_TOKENS, &v))
                return rr_error(RERANK_ERR_INVALID_ARGUMENT, "max_length must be 2..%d",
                                RR_MAX_SEQ_TOKENS);
            *seen |= 4;
            c->max_length = (int32_t)v;
            return RERANK_OK;
        }
    }
    return rr_error(RERANK_ERR_INVALID_ARGUMENT,
                    "unknown setting '%s' (fp32, bf16, int8, layers=N, max_length=N, base)", tok);
}

rerank_status_t rr_eval_parse_compare(const char *spec, const rr_eval_config_t *base,
                                      rr_eval_config_t *out, size_t *n) {
    *n = 0;
    const char *p = spec;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char item[RR_EVAL_CONFIG_NAME];
        if (len == 0)
            return rr_error(RERANK_ERR_INVALID_ARGUMENT, "--compare: empty configuration at %zu",
                            *n + 1);
        if (len >= sizeof item)
            return rr_error(RERANK_ERR_INVALID_ARGUMENT, "--compare: configuration %zu too long",
                            *n + 1);
        if (*n == RR_EVAL_MAX_CONFIGS)
            return rr_error(RERANK_ERR_LIMIT, "--compare: more than %d configurations",
                            RR_EVAL_MAX_CONFIGS);
        memcpy(item, p, len);
        item[len] = 0;
        rr_eval_config_t c = *base;
        memcpy(c.name, item, len + 1);
        unsigned seen = 0;
        char *save = NULL, *tok;
        char work[RR_EVAL_CONFIG_NAME];
        memcpy(work, item, len + 1);
        int ntok = 0;
        for (tok = strtok_r(work, "+", &save); tok; tok = strtok_r(NULL, "+", &save), ntok++) {
            rerank_status_t st = apply(&c, tok, &seen);
            if (st) {
                rr_error_prefix("--compare: '%s'", item);
                return st;
            }
        }
        if (ntok == 0 || item[0] == '+' || item[len - 1] == '+' || strstr(item, "++"))
            return rr_error(RERANK_ERR_INVALID_ARGUMENT, "--compare: malformed '%s'", item);
        out[(*n)++] = c;
        if (!end) break;
        p = end + 1;
    }
    return RERANK_OK;
}
