/* flash_attn.cuh — the body of the flash-attention kernel (one thread block), written against simt.h so it
 * runs on the GPU (cuda_flash.cu wraps it in a __global__) and under the host emulator (tests/).
 *
 * Packed variable-length sequences (cu_seqlens); Q, K and V read straight from the fused projection output:
 * the row of a token is [q heads | k heads | v heads], hq*d + 2*hkv*d values, so grouped-query attention
 * (hkv < hq, query head h reads kv head h / (hq / hkv)) needs no copy. Output [T, hq*d].
 *
 * One block = BQ = 16*WARPS query rows of one (sequence, head); warp w owns rows [16w, 16w + 16).
 *   - Q is loaded once (cp.async) and kept in registers as mma A fragments (ldmatrix);
 *   - K/V tiles of BK keys stream through shared memory, double-buffered with cp.async: the load of tile
 *     j+1 is in flight while tile j is computed (group accounting: one commit per tile, wait_group 1);
 *   - S = Q K^T with mma.sync m16n8k16 (fp32 accumulators in registers), masked where needed, online
 *     softmax in registers (running max m and partial row sum l per thread, in log2 units: scores are
 *     scaled by scale*log2(e) so p = 2^(s*c - m) with one FFMA + EX2), P rounded to fp16/bf16 and fed
 *     straight from the S accumulators as the A operand of O += P V (the C fragment of two n8 tiles is the
 *     A fragment of one k16 step), V read with ldmatrix.trans;
 *   - at the end O / l (l summed over the 4 threads of a row) is written as fp16/bf16.
 * Shared memory: [K0 | V0 | K1 | V1], each BK rows of DP + 8 elements (16 bytes of padding per row, so the 8
 * row addresses of an ldmatrix phase fall in 8 different 16-byte bank groups when DP is a multiple of 16);
 * Q is staged in [K1 | V1] (BQ <= 2 BK) before the first tile-1 load is issued.
 * Head dims: DP is the padded head dim (multiple of 16, <= 128); d <= DP, d even (pairs of outputs are
 * stored as one word); columns d..DP are zero-filled for Q and K (no effect on scores) and V (never written
 * out); d % 8 == 0 loads with cp.async, other sizes element by element (load_rows).
 * Shared prefixes (pre, optional): a sequence may read np keys before its own, rows [ps, ps + np) of another
 * sequence of the batch (an LLM reranker's prompt up to the document, computed once for every document of a
 * query: engine/prefix.c); its keys are then those np followed by its own n, and its query i is key np + i.
 * Masks: key j (of nk = np + n) is visible to query i (key index qi = np + i) when j < nk, (not causal or
 * j <= qi) and (window < 0 or |qi - j| <= window). Without a window, key tiles start at key 0 with or without
 * a prefix, so a row of a shared and of an unshared pass sums the same terms in the same order (the tiles a
 * row cannot see add exact zeros).
 * A block only visits the key range some of its rows can see; a warp skips tiles none of its rows can see and
 * applies the mask only on tiles that need it. A row that saw no key yet keeps m = -inf; exponents then use 0
 * as the reference, so no inf - inf appears. */
#ifndef RR_CUDA_FLASH_ATTN_CUH
#define RR_CUDA_FLASH_ATTN_CUH

#include "cuda/simt.h"

namespace rr_fa {

using namespace rr_simt;

struct params {
    const uint16_t *qkv;  /* [T, (hq + 2 hkv) d] fp16 / bf16 bits */
    uint16_t *out;        /* [T, hq d]                           */
    const int32_t *cu;    /* [P + 1] sequence offsets           */
    const int32_t *pre;   /* [P][2] shared-prefix keys of each sequence: first row, count (another
                             sequence's rows); NULL: none        */
    int32_t hq, hkv, d;   /* query heads, kv heads, head dim     */
    int32_t causal;       /* 1: key j <= query i                 */
    int32_t window;       /* < 0: none; else |i - j| <= window   */
    float scale_log2;     /* softmax scale * log2(e)             */
};

template <int DP, int WARPS, int BK> struct shape {
    static constexpr int BQ = 16 * WARPS;  /* query rows per block */
    static constexpr int NT = 32 * WARPS;  /* threads              */
    static constexpr int LD = DP + 8;      /* smem row stride (elements) */
    static constexpr int TILE = BK * LD;   /* elements of one K or V tile */
    static constexpr int SMEM_BYTES = 4 * TILE * 2;
    static_assert(DP % 16 == 0 && DP >= 16 && DP <= 128, "DP: multiple of 16 in [16, 128]");
    static_assert(BK % 16 == 0 && BQ <= 2 * BK, "Q is staged in the second K/V buffer");
};

RR_DEV int imin(int a, int b) { return a < b ? a : b; }
RR_DEV int imax(int a, int b) { return a > b ? a : b; }

/* rows [row0, row0 + ROWS) x DP columns (column offset col) of a run of n rows -> dst [ROWS][LD] via
 * cp.async: row k is pre + k * ld for k < np (a shared prefix; np = 0 for queries), else own + (k - np) * ld;
 * rows >= n and columns >= d are zero-filled. A head size that is not a multiple of 8 leaves the rows without
 * 16-byte alignment: those go element by element with plain loads and stores (tiny models; every read of the
 * tile follows a barrier, which makes them visible as the cp.async wait does). */
template <int DP, int ROWS, int NT>
RR_DEV void load_rows(uint16_t *dst, const uint16_t *pre, int np, const uint16_t *own, size_t ld, int col, int row0,
                      int n, int d, int tid) {
    constexpr int CH = DP / 8, LD = DP + 8, N = ROWS * CH; /* 16-byte chunks per row, in all */
    if (d % 8) {
        for (int i = tid; i < ROWS * DP; i += NT) {
            const int r = i / DP, c = i - r * DP, k = row0 + r;
            const uint16_t *row = k < np ? pre + (size_t)k * ld : own + (size_t)(k - np) * ld;
            dst[r * LD + c] = k < n && c < d ? row[col + c] : (uint16_t)0;
        }
        return;
    }
    RR_UNROLL
    for (int it = 0; it < (N + NT - 1) / NT; it++) {
        const int i = tid + it * NT;
        if (N % NT != 0 && i >= N) break;
        const int r = i / CH, c = i - r * CH, k = row0 + r;
        const bool ok = k < n && c * 8 < d;
        const uint16_t *row = k < np ? pre + (size_t)k * ld : own + (size_t)(k - np) * ld;
        cp_async16(dst + r * LD + c * 8, ok ? row + col + c * 8 : own, ok ? 16 : 0);
    }
}

RR_DEV bool visible(int i, int j, int n, int causal, int window) {
    return j < n && (!causal || j <= i) && (window < 0 || (j >= i - window && j <= i + window));
}

/* One block: query tile `qt` of sequence `seq`, query head `head`. */
template <typename T, int DP, int WARPS, int BK>
RR_DEV void flash_block(const params &p, int qt, int head, int seq, int tid, uint16_t *smem) {
    using S = shape<DP, WARPS, BK>;
    constexpr int BQ = S::BQ, NT = S::NT, LD = S::LD, TILE = S::TILE;
    const int start = p.cu[seq], n = p.cu[seq + 1] - start;
    const int q0 = qt * BQ;
    if (q0 >= n) return; /* whole block, before any barrier */
    const int d = p.d, lane = tid & 31, warp = tid >> 5;
    const size_t ld = (size_t)(p.hq + 2 * p.hkv) * d;
    const int kvh = head / (p.hq / p.hkv);
    const uint16_t *seqp = p.qkv + (size_t)start * ld;
    const int qcol = head * d, kcol = (p.hq + kvh) * d, vcol = (p.hq + p.hkv + kvh) * d;
    /* keys: np shared-prefix rows (from row ps of the batch), then the sequence's own n; query i is key np + i */
    const int np = p.pre ? p.pre[2 * seq + 1] : 0, nk = np + n;
    const uint16_t *prep = p.qkv + (size_t)(p.pre ? p.pre[2 * seq] : 0) * ld;
    const int qk0 = np + q0; /* key index of the block's first query */

    /* keys some row of the block can see: [lo, hi) */
    int lo = 0, hi = nk;
    if (p.causal) hi = imin(hi, qk0 + BQ);
    if (p.window >= 0) {
        lo = imax(0, qk0 - p.window);
        hi = imin(hi, qk0 + BQ + p.window);
    }
    const int ntiles = (hi - lo + BK - 1) / BK; /* >= 1: lo <= qk0 < hi */

    uint16_t *const qs = smem + 2 * TILE;
    load_rows<DP, BQ, NT>(qs, seqp, 0, seqp, ld, qcol, q0, n, d, tid);
    cp_commit();
    load_rows<DP, BK, NT>(smem, prep, np, seqp, ld, kcol, lo, nk, d, tid);
    load_rows<DP, BK, NT>(smem + TILE, prep, np, seqp, ld, vcol, lo, nk, d, tid);
    cp_commit();
    cp_wait<1>(); /* Q landed (this thread's part) */
    bar();        /* ... and everyone's */

    /* Q as A fragments: k-step kk covers columns [16kk, 16kk + 16) of the warp's 16 rows. */
    uint32_t qf[DP / 16][4];
    RR_UNROLL
    for (int kk = 0; kk < DP / 16; kk++) ldsm_x4(qf[kk], qs + (16 * warp + (lane & 15)) * LD + kk * 16 + (lane >> 4) * 8);
    bar(); /* the Q staging area is buffer 1, loaded next */

    float o[DP / 8][4];
    RR_UNROLL
    for (int i = 0; i < DP / 8; i++) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.0f;
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};
    const int g = lane >> 2, t = lane & 3;
    const int qw = q0 + 16 * warp, kw = np + qw; /* first row of this warp; its key index */
    const float sl2 = p.scale_log2;

    for (int j = 0; j < ntiles; j++) {
        const int k0 = lo + j * BK;
        if (j + 1 < ntiles) {
            uint16_t *nb = smem + ((j + 1) & 1) * 2 * TILE;
            load_rows<DP, BK, NT>(nb, prep, np, seqp, ld, kcol, k0 + BK, nk, d, tid);
            load_rows<DP, BK, NT>(nb + TILE, prep, np, seqp, ld, vcol, k0 + BK, nk, d, tid);
        }
        cp_commit(); /* possibly empty: one group per tile keeps the count uniform */
        cp_wait<1>(); /* tile j landed */
        bar();
        const uint16_t *ks = smem + (j & 1) * 2 * TILE, *vs = ks + TILE;

        /* Can any (row, key) of this warp x tile be visible? Does any need masking? (warp-uniform) */
        const int klast = k0 + BK - 1, qlast = kw + 15;
        bool active = qw < n;
        bool need_mask = klast >= nk;
        if (p.causal) {
            active = active && k0 <= qlast;
            need_mask = need_mask || klast > kw;
        }
        if (p.window >= 0) {
            active = active && k0 <= qlast + p.window && klast >= kw - p.window;
            need_mask = need_mask || k0 < qlast - p.window || klast > kw + p.window;
        }
        if (active) {
            float s[BK / 8][4];
            RR_UNROLL
            for (int i = 0; i < BK / 8; i++) s[i][0] = s[i][1] = s[i][2] = s[i][3] = 0.0f;
            /* S = Q K^T: B(k, n) = K[n][k]; one ldmatrix.x4 gives the B fragments of key tiles 2nb, 2nb+1
             * (matrices: keys 0-7 dims 0-7, keys 0-7 dims 8-15, keys 8-15 dims 0-7, keys 8-15 dims 8-15). */
            RR_UNROLL
            for (int kk = 0; kk < DP / 16; kk++) {
                RR_UNROLL
                for (int nb = 0; nb < BK / 16; nb++) {
                    uint32_t b[4];
                    ldsm_x4(b, ks + (nb * 16 + (lane & 7) + ((lane >> 4) << 3)) * LD + kk * 16 + ((lane >> 3) & 1) * 8);
                    mma16816<T>(s[2 * nb], qf[kk], b[0], b[1]);
                    mma16816<T>(s[2 * nb + 1], qf[kk], b[2], b[3]);
                }
            }
            if (need_mask) {
                RR_UNROLL
                for (int nt = 0; nt < BK / 8; nt++)
                    RR_UNROLL
                    for (int e = 0; e < 4; e++) {
                        const int row = kw + g + 8 * (e >> 1), key = k0 + nt * 8 + 2 * t + (e & 1);
                        if (!visible(row, key, nk, p.causal, p.window)) s[nt][e] = -INFINITY;
                    }
            }
            /* online softmax: rows g (e = 0, 1) and g + 8 (e = 2, 3); the 4 threads of a quad share a row */
            float mx[2] = {-INFINITY, -INFINITY};
            RR_UNROLL
            for (int nt = 0; nt < BK / 8; nt++) {
                mx[0] = fmaxf(mx[0], fmaxf(s[nt][0], s[nt][1]));
                mx[1] = fmaxf(mx[1], fmaxf(s[nt][2], s[nt][3]));
            }
            float ref[2], alpha[2];
            RR_UNROLL
            for (int r = 0; r < 2; r++) {
                mx[r] = fmaxf(mx[r], shfl_xor(mx[r], 1));
                mx[r] = fmaxf(mx[r], shfl_xor(mx[r], 2));
                const float mn = fmaxf(m[r], mx[r] * sl2);
                ref[r] = mn == -INFINITY ? 0.0f : mn;
                alpha[r] = ex2(m[r] - ref[r]); /* m = -inf: 0 (o and l are 0 then) */
                m[r] = mn;
            }
            float rs[2] = {0.0f, 0.0f};
            RR_UNROLL
            for (int nt = 0; nt < BK / 8; nt++) {
                s[nt][0] = ex2(fmaf(s[nt][0], sl2, -ref[0]));
                s[nt][1] = ex2(fmaf(s[nt][1], sl2, -ref[0]));
                s[nt][2] = ex2(fmaf(s[nt][2], sl2, -ref[1]));
                s[nt][3] = ex2(fmaf(s[nt][3], sl2, -ref[1]));
                rs[0] += s[nt][0] + s[nt][1];
                rs[1] += s[nt][2] + s[nt][3];
            }
            l[0] = l[0] * alpha[0] + rs[0];
            l[1] = l[1] * alpha[1] + rs[1];
            RR_UNROLL
            for (int i = 0; i < DP / 8; i++) {
                o[i][0] *= alpha[0];
                o[i][1] *= alpha[0];
                o[i][2] *= alpha[1];
                o[i][3] *= alpha[1];
            }
            /* O += P V: A = P (key tiles 2kk, 2kk+1 of S); B(k, n) = V[k][n] via ldmatrix.trans (matrices:
             * keys 0-7 dims 0-7, keys 8-15 dims 0-7, keys 0-7 dims 8-15, keys 8-15 dims 8-15). */
            RR_UNROLL
            for (int kk = 0; kk < BK / 16; kk++) {
                const uint32_t a[4] = {pack2<T>(s[2 * kk][0], s[2 * kk][1]), pack2<T>(s[2 * kk][2], s[2 * kk][3]),
                                       pack2<T>(s[2 * kk + 1][0], s[2 * kk + 1][1]),
                                       pack2<T>(s[2 * kk + 1][2], s[2 * kk + 1][3])};
                RR_UNROLL
                for (int db = 0; db < DP / 16; db++) {
                    uint32_t b[4];
                    ldsm_x4_t(b, vs + (kk * 16 + (lane & 7) + ((lane >> 3) & 1) * 8) * LD + db * 16 + (lane >> 4) * 8);
                    mma16816<T>(o[2 * db], a, b[0], b[1]);
                    mma16816<T>(o[2 * db + 1], a, b[2], b[3]);
                }
            }
        }
        bar(); /* every warp is done with buffer j & 1 before iteration j + 1 refills it */
    }

    RR_UNROLL
    for (int r = 0; r < 2; r++) {
        l[r] += shfl_xor(l[r], 1);
        l[r] += shfl_xor(l[r], 2);
    }
    const size_t ldo = (size_t)p.hq * d;
    RR_UNROLL
    for (int r = 0; r < 2; r++) {
        const int row = qw + g + 8 * r;
        if (row >= n) continue;
        const float inv = l[r] > 0.0f ? 1.0f / l[r] : 0.0f;
        uint16_t *dst = p.out + (size_t)(start + row) * ldo + (size_t)head * d + 2 * t;
        RR_UNROLL
        for (int i = 0; i < DP / 8; i++)
            if (i * 8 + 2 * t < d) *(uint32_t *)(dst + i * 8) = pack2<T>(o[i][2 * r] * inv, o[i][2 * r + 1] * inv);
    }
}

} /* namespace rr_fa */

#endif
