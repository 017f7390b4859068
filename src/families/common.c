/* common.c — small pieces several model families share. */
#include "families/family.h"

void rr_positions_from_zero(const rr_config_t *c, const int32_t *ids, int64_t n, int32_t *pos) {
    (void)c;
    (void)ids;
    for (int64_t i = 0; i < n; i++) pos[i] = (int32_t)i;
}
