/* common.c — small pieces several model families share. */
#include <math.h>

#include "common/error.h"
#include "families/family.h"

void rr_positions_from_zero(const rr_config_t *c, const int32_t *ids, int64_t n, int32_t *pos) {
    (void)c;
    (void)ids;
    for (int64_t i = 0; i < n; i++) pos[i] = (int32_t)i;
}

rerank_status_t rr_rope_build(rr_weights_t *w, double theta, double ntk_factor, int32_t dim, int32_t positions,
                              rr_rope_t *rope) {
    if (dim < 2 || dim % 2 || positions < 1 || !(theta > 1))
        return rr_error(RERANK_ERR_FORMAT, "rotary embeddings: head size %d, %d positions, theta %g", dim, positions,
                        theta);
    const int32_t half = dim / 2;
    float *cs = rr_weights_alloc(w, 2 * (size_t)positions * (size_t)half * sizeof *cs);
    if (!cs) return rr_error(RERANK_ERR_NOMEM, "out of memory for rotary tables of %d positions", positions);
    float *sn = cs + (size_t)positions * (size_t)half;
    for (int32_t i = 0; i < half; i++) {
        double inv = ntk_factor > 0 ? pow(theta * ntk_factor, -2.0 * i / dim) / pow(ntk_factor, 2.0 / dim)
                                    : pow(theta, -2.0 * i / dim);
        for (int32_t p = 0; p < positions; p++) {
            double a = (double)p * inv;
            cs[(size_t)p * half + i] = (float)cos(a);
            sn[(size_t)p * half + i] = (float)sin(a);
        }
    }
    *rope = (rr_rope_t){.cos = cs, .sin = sn, .dim = dim, .positions = positions};
    return RERANK_OK;
}
