/* precision.c — names of the compute precisions (public API). */
#include <string.h>

#include "common/error.h"
#include "rerank.h"

static const char *const k_precision_names[] = {"fp32", "bf16", "int8", "fp16", "fp8"};
#define RR_N_PRECISIONS (int)(sizeof k_precision_names / sizeof k_precision_names[0])

const char *rerank_precision_str(rerank_precision_t p) {
    return (unsigned)p < (unsigned)RR_N_PRECISIONS ? k_precision_names[p] : "unknown";
}

rerank_status_t rerank_precision_parse(const char *name, rerank_precision_t *out) {
    for (int i = 0; name && i < RR_N_PRECISIONS; i++)
        if (!strcmp(name, k_precision_names[i])) {
            if (out) *out = (rerank_precision_t)i;
            return RERANK_OK;
        }
    return rr_error(RERANK_ERR_INVALID_ARGUMENT, "unknown precision '%.40s' (expected fp32, bf16, int8, fp16 or fp8)",
                    name ? name : "(null)");
}

