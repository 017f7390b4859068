/* attention.c — rr_attend: argument checks, the choice of implementation
 * per mode for this CPU, and the scratch size. */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "kernels/attention_util.h"
#include "kernels/kernels.h"

/* Defined in their own files; arrays are indexed by mode. */
extern const rr_attn_impl_t rr_attn_ref[3], rr_attn_avx2[3];
extern const rr_attn_impl_t rr_attn_avx512_fp32, rr_attn_avx512_bf16, rr_attn_avx512_int8;
extern const rr_attn_impl_t rr_attn_amx_bf16, rr_attn_amx_int8;
static const rr_attn_impl_t *const avx512[3] = {&rr_attn_avx512_fp32, &rr_attn_avx512_bf16, &rr_attn_avx512_int8};
static const rr_attn_impl_t *const amx[3] = {NULL, &rr_attn_amx_bf16, &rr_attn_amx_int8};


static int mode_ok(rerank_precision_t mode) {
    return mode == RERANK_PRECISION_FP32 || mode == RERANK_PRECISION_BF16 || mode == RERANK_PRECISION_INT8;
}

/* AVX-512 attention needs, beyond what rr_kernels' avx512 variant checks,
 * AVX512_BF16 for bf16 and AVX512_VNNI for int8. */
static int avx512_runs(rerank_precision_t mode) {
    __builtin_cpu_init();
    if (mode == RERANK_PRECISION_BF16) return __builtin_cpu_supports("avx512bf16");
    if (mode == RERANK_PRECISION_INT8) return __builtin_cpu_supports("avx512vnni");
    return 1;
}

const rr_attn_impl_t *rr_attn_impl_variant(rerank_precision_t mode, int i) {
    if (!mode_ok(mode) || i < 0) return NULL;
    const rr_attn_impl_t *all[RR_ATTN_MAX_IMPLS] = {&rr_attn_ref[mode]};
    int n = 1;
    for (int v = 1; rr_kernels_variant(v); v++) {
        const char *name = rr_kernels_variant(v)->name;
        if (!strcmp(name, "avx2")) all[n++] = &rr_attn_avx2[mode];
        if (!strcmp(name, "avx512") && avx512_runs(mode)) {
            all[n++] = avx512[mode];
            /* AMX shares the AVX-512 variant's packing and softmax */
            if (amx[mode] && rr_attn_amx_usable()) all[n++] = amx[mode];
        }
    }
    return i < n ? all[i] : NULL;
}

const rr_attn_impl_t *rr_attn_impl(rerank_precision_t mode) {
    if (!mode_ok(mode)) return NULL;
    static const rr_attn_impl_t *chosen[3]; /* benign race: every thread computes the same value */
    const rr_attn_impl_t *best = __atomic_load_n(&chosen[mode], __ATOMIC_ACQUIRE);
    if (best) return best;
    const char *force = getenv("RERANK_KERNELS");
    for (int i = 0; rr_attn_impl_variant(mode, i); i++) {
        const rr_attn_impl_t *im = rr_attn_impl_variant(mode, i);
        if (!force || !*force || !strcmp(force, im->name)) best = im;
    }
    if (!best) best = rr_attn_impl_variant(mode, 0);
    __atomic_store_n(&chosen[mode], best, __ATOMIC_RELEASE);
    return best;
}

size_t rr_attn_impl_scratch_size(const rr_attn_impl_t *im, int64_t nk_max, int64_t d) {
    if (!im || nk_max < 1 || nk_max > RR_ATTN_MAX_KEYS || d < 1 || d > RR_ATTN_MAX_D) return 0;
    return rr_attn_ws_layout(im, nk_max, d, NULL, NULL);
}

size_t rr_attn_scratch_size(int64_t nk_max, int64_t d, rerank_precision_t mode) {
    return rr_attn_impl_scratch_size(rr_attn_impl(mode), nk_max, d);
}

/* Strides up to 2^34 floats keep g * ldqh + nq * ld within int64_t. */
#define MAX_LD ((int64_t)1 << 34)

static rerank_status_t check(const rr_attn_impl_t *im, const rr_attn_args_t *a) {
    const rerank_status_t bad = RERANK_ERR_INVALID_ARGUMENT;
    if (!a) return rr_error(bad, "attention: no arguments");
    if (!im || !mode_ok(a->mode) || im->mode != a->mode)
        return rr_error(bad, "attention: mode %d is not fp32 (0), bf16 (1) or int8 (2) or has no implementation",
                        (int)a->mode);
    if (!a->q || !a->k || !a->v || !a->o || !a->scratch) return rr_error(bad, "attention: a NULL q, k, v, o or scratch");
    if (a->d < 1 || a->nq < 1 || a->nk < 1 || a->g < 1)
        return rr_error(bad, "attention: d=%lld nq=%lld nk=%lld g=%lld, each must be >= 1", (long long)a->d,
                        (long long)a->nq, (long long)a->nk, (long long)a->g);
    if (a->d > RR_ATTN_MAX_D || a->nk > RR_ATTN_MAX_KEYS || a->nq > RR_ATTN_MAX_QUERIES || a->g > RR_ATTN_MAX_GROUP)
        return rr_error(RERANK_ERR_LIMIT, "attention: d=%lld nq=%lld nk=%lld g=%lld beyond the limits %d, %d, %d, %d",
                        (long long)a->d, (long long)a->nq, (long long)a->nk, (long long)a->g, RR_ATTN_MAX_D,
                        RR_ATTN_MAX_QUERIES, RR_ATTN_MAX_KEYS, RR_ATTN_MAX_GROUP);
    const int64_t ld[4] = {a->ldq, a->ldk, a->ldv, a->ldo};
    for (int i = 0; i < 4; i++)
        if (ld[i] < a->d || ld[i] > MAX_LD)
            return rr_error(bad, "attention: row stride %s=%lld, expected d=%lld..%lld", (const char *[]){"ldq", "ldk", "ldv", "ldo"}[i],
                            (long long)ld[i], (long long)a->d, (long long)MAX_LD);
    if (a->ldqh < 0 || a->ldqh > MAX_LD || a->ldoh < 0 || a->ldoh > MAX_LD)
        return rr_error(bad, "attention: head strides ldqh=%lld ldoh=%lld, expected 0..%lld", (long long)a->ldqh,
                        (long long)a->ldoh, (long long)MAX_LD);
    if (a->q_offset < 0 || a->q_offset > RR_ATTN_MAX_KEYS || a->window < 0)
        return rr_error(bad, "attention: q_offset=%lld (0..%d) window=%lld (>= 0)", (long long)a->q_offset,
                        RR_ATTN_MAX_KEYS, (long long)a->window);
    if (!(a->scale == a->scale) || a->scale > 3.4e38f || a->scale < -3.4e38f)
        return rr_error(bad, "attention: scale %g is not finite", (double)a->scale);
    const size_t need = rr_attn_ws_layout(im, a->nk, a->d, NULL, NULL);
    if ((uintptr_t)a->scratch % 64 || a->scratch_bytes < need)
        return rr_error(bad, "attention: scratch of %zu bytes at %p, expected >= %zu bytes, 64-byte aligned",
                        a->scratch_bytes, a->scratch, need);
    return RERANK_OK;
}

rerank_status_t rr_attend_with(const rr_attn_impl_t *im, const rr_attn_args_t *a) {
    rerank_status_t st = check(im, a);
    if (st) return st;
    if (im->run)
        im->run(im, a);
    else
        rr_attn_drive(im, a);
    return RERANK_OK;
}

rerank_status_t rr_attend(const rr_attn_args_t *a) {
    return rr_attend_with(a ? rr_attn_impl(a->mode) : NULL, a);
}
