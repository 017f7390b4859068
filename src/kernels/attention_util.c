/* attention_util.c — each query row's allowed keys and the attention
 * workspace layout, shared by every implementation. */
#include "kernels/attention_util.h"

void rr_attn_row_keys(const rr_attn_args_t *a, int64_t i, int64_t *lo, int64_t *hi) {
    const int64_t pos = a->q_offset + i;
    int64_t l = 0, h = a->nk;
    if (a->window > 0) {
        l = pos - a->window > 0 ? pos - a->window : 0;
        if (pos + a->window + 1 < h) h = pos + a->window + 1;
    }
    if (a->causal && pos + 1 < h) h = pos + 1;
    *lo = l;
    *hi = h > l ? h : l;
}

static size_t take(size_t *at, size_t bytes) {
    size_t start = *at;
    *at += (bytes + 63) & ~(size_t)63;
    return start;
}

size_t rr_attn_ws_layout(const rr_attn_impl_t *im, int64_t nk, int64_t d, void *base, rr_attn_ws_t *ws) {
    const size_t da = im->d_align ? im->d_align : 4, rows = im->tile_rows ? im->tile_rows : 8;
    const size_t dp = ((size_t)d + da - 1) / da * da, d16 = (size_t)(d + 15) & ~(size_t)15,
                 nkp = ((size_t)(nk + 31) & ~(size_t)31) + im->key_extra, QB = RR_ATTN_BLOCK_ROWS,
                 KT = RR_ATTN_TILE_KEYS;
    size_t at = 0;
    const size_t k = take(&at, nkp * dp * im->k_bytes), v = take(&at, nkp * d16 * im->v_bytes),
                 q = take(&at, QB * dp * im->q_bytes), p = take(&at, rows * KT * im->p_bytes),
                 s = take(&at, rows * KT * sizeof(float)), o = take(&at, QB * d16 * sizeof(float)),
                 kfac = take(&at, nkp * sizeof(float)), kcorr = take(&at, nkp * sizeof(int32_t)),
                 vfac = take(&at, d16 * sizeof(float)), qfac = take(&at, QB * sizeof(float)),
                 m = take(&at, QB * sizeof(float)), l = take(&at, QB * sizeof(float)),
                 alpha = take(&at, QB * sizeof(float)), lo = take(&at, QB * sizeof(int64_t)),
                 hi = take(&at, QB * sizeof(int64_t));
    if (base && ws) {
        char *b = base;
        *ws = (rr_attn_ws_t){
            .d = d, .dp = (int64_t)dp, .d16 = (int64_t)d16, .nkp = (int64_t)nkp,
            .k = b + k, .v = b + v, .q = b + q, .p = b + p, .s = (float *)(b + s), .o = (float *)(b + o),
            .kfac = (float *)(b + kfac), .kcorr = (int32_t *)(b + kcorr), .vfac = (float *)(b + vfac),
            .qfac = (float *)(b + qfac), .m = (float *)(b + m), .l = (float *)(b + l),
            .alpha = (float *)(b + alpha), .lo = (int64_t *)(b + lo), .hi = (int64_t *)(b + hi),
        };
    }
    return at;
}
