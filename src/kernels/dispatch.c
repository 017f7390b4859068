/* dispatch.c — pick the kernel variant for this CPU at run time.
 * RERANK_KERNELS=scalar|avx2|avx512 forces a variant (if the CPU runs it). */
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"

static int cpu_has_avx2(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

static int cpu_has_avx512(void) {
    __builtin_cpu_init();
    return cpu_has_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
}

const rr_kernels_t *rr_kernels_variant(int i) {
    const rr_kernels_t *all[3] = {&rr_kernels_scalar, NULL, NULL};
    int n = 1;
    if (cpu_has_avx2()) all[n++] = &rr_kernels_avx2;
    if (cpu_has_avx512()) all[n++] = &rr_kernels_avx512;
    return i >= 0 && i < n ? all[i] : NULL;
}

const rr_kernels_t *rr_kernels(void) {
    static const rr_kernels_t *best; /* benign race: every thread computes the same value */
    const rr_kernels_t *k = __atomic_load_n(&best, __ATOMIC_ACQUIRE);
    if (k) return k;
    const char *force = getenv("RERANK_KERNELS");
    for (int i = 0; rr_kernels_variant(i); i++) {
        const rr_kernels_t *v = rr_kernels_variant(i);
        if (force && *force) {
            if (!strcmp(force, v->name)) k = v;
        } else {
            k = v;
        }
    }
    if (!k) k = &rr_kernels_scalar;
    __atomic_store_n(&best, k, __ATOMIC_RELEASE);
    return k;
}
