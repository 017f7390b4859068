/* attention_drive.c — the blocked, tiled loop the SIMD attention
 * implementations share: K and V packed once per call (and reused by the g
 * query heads), query rows in blocks of RR_ATTN_BLOCK_ROWS, key tiles of
 * RR_ATTN_TILE_KEYS from the first key any row of the block sees to the
 * last (tiles outside a causal or sliding-window mask are never computed),
 * the finishing division by the softmax sum. */
#include <immintrin.h>

#include "kernels/attention_util.h"

/* One block: rows [i0, i0 + rows) of head h. */
static void block(const rr_attn_impl_t *im, const rr_attn_args_t *a, const rr_attn_ws_t *ws, int64_t h, int64_t i0,
                  int64_t rows, float scale2) {
    const int64_t KT = RR_ATTN_TILE_KEYS, d = a->d, d16 = ws->d16;
    im->pack_q(rr_attn_q_row(a, h, i0), a->ldq, rows, scale2, ws);
    int64_t first = a->nk, last = 0; /* union of the rows' allowed keys */
    for (int64_t r = 0; r < rows; r++) {
        rr_attn_row_keys(a, i0 + r, &ws->lo[r], &ws->hi[r]);
        if (ws->lo[r] < ws->hi[r]) {
            first = ws->lo[r] < first ? ws->lo[r] : first;
            last = ws->hi[r] > last ? ws->hi[r] : last;
        }
        ws->m[r] = -INFINITY;
        ws->l[r] = 0.0f;
    }
    memset(ws->o, 0, (size_t)(rows * d16) * sizeof(float));
    for (int64_t t0 = first / KT * KT; t0 < last; t0 += KT) {
        /* Within the tile, only the keys some row sees, from a multiple of
         * 32: the others are masked for every row (their p is 0, they do not
         * raise the max), so leaving them out changes no bit. */
        const int64_t j0 = (first > t0 ? first : t0) & ~(int64_t)31, end = last < t0 + KT ? last : t0 + KT;
        const int64_t kt = end - j0;
        int full = 1;
        for (int64_t r = 0; r < rows && full; r++) full = ws->lo[r] <= j0 && ws->hi[r] >= j0 + kt;
        im->tile(&(rr_attn_tile_t){.ws = ws, .rows = rows, .j0 = j0, .kt = kt, .full = full});
    }
    const float *vfac = im->mode == RERANK_PRECISION_INT8 ? ws->vfac : NULL;
    for (int64_t r = 0; r < rows; r++)
        im->finish(ws->o + r * d16, ws->l[r] > 0 ? 1.0f / ws->l[r] : 0.0f, vfac, d, rr_attn_o_row(a, h, i0 + r));
}

void rr_attn_drive(const rr_attn_impl_t *im, const rr_attn_args_t *a) {
    rr_attn_ws_t ws;
    rr_attn_ws_layout(im, a->nk, a->d, a->scratch, &ws);
    im->pack_k(a->k, a->ldk, a->nk, &ws);
    im->pack_v(a->v, a->ldv, a->nk, &ws);
    const float scale2 = rr_attn_scale2(a->scale);
    if (im->enter) im->enter();
    for (int64_t h = 0; h < a->g; h++)
        for (int64_t i0 = 0; i0 < a->nq; i0 += RR_ATTN_BLOCK_ROWS)
            block(im, a, &ws, h, i0, a->nq - i0 < RR_ATTN_BLOCK_ROWS ? a->nq - i0 : RR_ATTN_BLOCK_ROWS, scale2);
    if (im->leave) im->leave();
    _mm_sfence(); /* finish may store o non-temporally: visible in order from here on */
}
