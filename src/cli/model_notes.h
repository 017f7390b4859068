/* model_notes.h — what every command (score, tokenize, bench, eval, serve)
 * checks and says about the model it loads: the --device value, a
 * precision computed in another one, a --max-length above the model's
 * positions, a --layers beyond its layers. Header-only: eval and serve live
 * in the app library, the other commands in the rerank binary. */
#ifndef RR_CLI_MODEL_NOTES_H
#define RR_CLI_MODEL_NOTES_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rerank.h"

/* The device: the flag, else $RERANK_DEVICE, else NULL (the CPU). Accepts
 * "cpu", "cuda" and "cuda:N"; anything else prints why and returns -1.
 * Whether CUDA is built in is the library's to say, at load. */
static inline int rr_cli_device(const char *cmd, const char *flag, const char **out) {
    const char *env = getenv("RERANK_DEVICE");
    const char *d = flag ? flag : env && *env ? env : NULL;
    *out = d;
    if (!d || !strcmp(d, "cpu") || !strcmp(d, "cuda")) return 0;
    if (!strncmp(d, "cuda:", 5) && d[5] && strspn(d + 5, "0123456789") == strlen(d + 5) && strlen(d + 5) <= 4)
        return 0;
    fprintf(stderr, "rerank %s: %s '%s' is not a device: expected cpu, cuda or cuda:N\n", cmd,
            flag ? "--device" : "RERANK_DEVICE", d);
    return -1;
}

/* --shared-prefix: the flag, else $RERANK_SHARED_PREFIX, else on. Accepts
 * "on" / "off" (and 1 / 0); anything else prints why and returns -1. */
static inline int rr_cli_shared_prefix(const char *cmd, const char *flag, rerank_shared_prefix_t *out) {
    const char *env = getenv("RERANK_SHARED_PREFIX");
    const char *v = flag ? flag : env && *env ? env : "on";
    if (!strcmp(v, "on") || !strcmp(v, "1")) *out = RERANK_SHARED_PREFIX_ON;
    else if (!strcmp(v, "off") || !strcmp(v, "0")) *out = RERANK_SHARED_PREFIX_OFF;
    else {
        fprintf(stderr, "rerank %s: %s '%s': expected on or off\n", cmd, flag ? "--shared-prefix" : "RERANK_SHARED_PREFIX",
                v);
        return -1;
    }
    return 0;
}

/* One line when the linear layers compute in another precision than the
 * one asked for (e.g. bf16 on a CPU without a bf16 matrix multiply). */
static inline void rr_cli_note_compute(const char *cmd, const rerank_model_info_t *mi) {
    const char *asked = rerank_precision_str(mi->precision);
    if (!mi->compute || !strcmp(mi->compute, asked)) return;
    fprintf(stderr, "rerank %s: %s is not available on %s: computing in %s\n", cmd, asked,
            !strcmp(mi->device, "cpu") ? "this CPU" : mi->device, mi->compute);
}

/* One line when --max-length asks for more than the model's positions. */
static inline void rr_cli_note_max_length(const char *cmd, const rerank_model_info_t *mi, int32_t max_length) {
    if (max_length > mi->max_positions)
        fprintf(stderr, "rerank %s: --max-length %d is more than the model's %d positions: pairs are cut at %d\n", cmd,
                (int)max_length, (int)mi->max_positions, (int)mi->max_positions);
}

/* --layers N beyond the model's layers: why, and -1. */
static inline int rr_cli_check_layers(const char *cmd, const rerank_model_info_t *mi, int32_t layers) {
    if (layers >= 0 && layers <= mi->num_layers) return 0;
    fprintf(stderr, "rerank %s: --layers %d is out of range: the model has %d layers (1..%d, or 0 for all)\n", cmd,
            (int)layers, (int)mi->num_layers, (int)mi->num_layers);
    return -1;
}

#endif
