/* attention.h — scaled dot-product attention for one (pair, K/V head group)
 * in fp32, bf16 or int8, tiled with an online softmax (flash-attention
 * style): memory O(tile * n) per thread, never an [n, n] score matrix.
 *
 * What one call computes, for query row i of head h (h < g, i < nq) at
 * position pos = q_offset + i:
 *
 *   allowed keys   [lo, hi): lo = window ? max(0, pos - window) : 0,
 *                  hi = min(nk, causal ? pos + 1 : window ? pos + window + 1 : nk)
 *   o[row] = sum_j softmax_j(scale * q[row] . k[j]) v[j] over allowed j
 *            (0 when no key is allowed)
 *
 * in the mode's precision. Every implementation runs the same recurrence,
 * per row, over key tiles [t * RR_ATTN_TILE_KEYS, (t + 1) * RR_ATTN_TILE_KEYS)
 * that meet [lo, hi) (keys no row of a block of queries sees are never computed):
 *
 *   s_j   = the score in base-2 units, scale * log2(e) * q . k_j (-inf outside [lo, hi))
 *   m'    = max(m, max_j s_j);   mu = m' if finite, else 0
 *   alpha = exp2(m - mu);        p_j = P(exp2(s_j - mu))      (exp2(x) = 0 below -125)
 *   l = alpha * l + sum_j p_j;   O = alpha * O + sum_j p_j v_j;   m = m'
 *   o = l > 0 ? O * (1 / l) : 0
 *
 * Modes (rerank_precision_t values):
 *  fp32  q, k, v, p in fp32, fp32 accumulation. Deterministic: the same
 *        inputs give the same bits on a given implementation, whatever the
 *        other rows, heads or blocks of the call.
 *  bf16  q, k, v rounded to bf16 (rr_f32_to_bf16), p rounded to bf16; fp32
 *        products and accumulation (vdpbf16ps on AVX512_BF16).
 *  int8  q and k rows s8 with one symmetric scale per row (token), v s8
 *        with one scale per channel over all nk keys, p as u8 with the fixed
 *        scale 1/255 (p_j = round(255 exp2(s_j - mu))); integer dot products
 *        (vpdpbusd on AVX512_VNNI), a coarser exp2 (enough for 8-bit p). The
 *        float steps are fixed in order, so every implementation (scalar,
 *        AVX2, AVX-512) gives the same bits. scripts/quant_sim.py
 *        (--attention) measures the error of this format and its
 *        alternatives in float64.
 *
 * Implementations: a scalar reference (attention_ref.c: float64 arithmetic
 * for fp32 and bf16, the exact float steps for int8), AVX2 (fp32 math; bf16
 * and int8 values are held in floats, where every product and every int8 sum
 * is exact) and AVX-512 (fp32 with AVX-512F, bf16 with AVX512_BF16, int8 with
 * AVX512_VNNI) and AMX for bf16 and int8 (the same packing and softmax as
 * AVX-512, the two products on 16 x 16 tiles with tdpbf16ps / tdpbusd),
 * chosen at run time per mode like rr_kernels(). */
#ifndef RR_KERNELS_ATTENTION_H
#define RR_KERNELS_ATTENTION_H

#include <stddef.h>
#include <stdint.h>

#include "rerank.h"

/* Keys per tile: the online softmax's step. Part of the int8 mode's
 * definition (p is rounded relative to the running max); a multiple of 32,
 * at most 512 (AVX2's float sums of u8 x s8 products stay exact). */
#define RR_ATTN_TILE_KEYS 256
/* Query rows per block: tiles are skipped per block under causal / window
 * masks; the score buffer holds 8 rows at a time. A multiple of 8. */
#define RR_ATTN_BLOCK_ROWS 32
/* Limits checked by rr_attend (head size: int8 dot products over d channels
 * of +-127 values stay exact in floats up to d = 1040). */
#define RR_ATTN_MAX_D 256
#define RR_ATTN_MAX_KEYS (1 << 20)
#define RR_ATTN_MAX_QUERIES (1 << 20)
#define RR_ATTN_MAX_GROUP 256

typedef struct rr_attn_args {
    const float *q;    /* row i of query head h at q + h * ldqh + i * ldq, d floats */
    int64_t ldq, ldqh; /* ldqh 0: nq * ldq (head after head, [g * nq, d]) */
    const float *k;    /* [nk, d]: key j at k + j * ldk */
    const float *v;    /* [nk, d]: value j at v + j * ldv */
    int64_t ldk, ldv;
    float *o;          /* row i of head h at o + h * ldoh + i * ldo; must not overlap q, k, v or scratch */
    int64_t ldo, ldoh; /* ldoh 0: nq * ldo. Rows interleaved by token ([n, H] with heads side by side):
                          ldq = ldo = row stride, ldqh = ldoh = d */
    int64_t nq, nk, d, g;
    float scale;       /* usually 1 / sqrt(d) */
    int causal;        /* query i (position q_offset + i) sees keys j <= q_offset + i */
    int64_t q_offset;  /* position of the first query: keys before it are a shared prefix (causal: nk = q_offset + nq) */
    int64_t window;    /* > 0: also |pos - j| <= window (sliding-window attention); 0: no window */
    rerank_precision_t mode;
    void *scratch;     /* scratch_bytes >= rr_attn_scratch_size(nk, d, mode), 64-byte aligned, one per thread */
    size_t scratch_bytes;
} rr_attn_args_t;

/* Bytes of scratch one call with up to nk_max keys of head size d needs in
 * `mode` (for the implementation rr_attend runs here); 0 if beyond the
 * limits above. It does not depend on nq or g: queries go block by block. */
size_t rr_attn_scratch_size(int64_t nk_max, int64_t d, rerank_precision_t mode);

/* Compute o (see the top of this file). RERANK_ERR_INVALID_ARGUMENT or
 * RERANK_ERR_LIMIT (and o untouched) for bad arguments; else RERANK_OK. */
rerank_status_t rr_attend(const rr_attn_args_t *a);

/* ---- implementations (the kernel table; tests and benchmarks) ---- */

/* The workspace one call carves out of its scratch (attention_util.c). */
typedef struct rr_attn_ws {
    int64_t d, dp, d16, nkp; /* head size; padded to 4, to 16; keys padded to 32 */
    void *k;          /* packed keys, all nkp */
    void *v;          /* packed values, all nkp */
    void *q;          /* one block of packed query rows [RR_ATTN_BLOCK_ROWS][dp] */
    void *p;          /* 8 rows of probabilities [8][RR_ATTN_TILE_KEYS] */
    float *s;         /* 8 rows of scores [8][RR_ATTN_TILE_KEYS] */
    float *o;         /* the block's accumulators O [RR_ATTN_BLOCK_ROWS][d16] */
    float *kfac;      /* int8: per key scale [nkp] */
    int32_t *kcorr;   /* int8 (VNNI): -128 * sum of the key's s8 values [nkp] */
    float *vfac;      /* int8: per channel scale of the values [d16] */
    float *qfac;      /* per block row: score factor (int8: row scale * scale * log2 e; else scale * log2 e) */
    float *m, *l, *alpha; /* per block row: running max, sum, last rescale */
    int64_t *lo, *hi; /* per block row: allowed keys [lo, hi) */
} rr_attn_ws_t;

/* One tile step of one block: keys [j0, j0 + kt) of one key tile (the part
 * of it the block's rows see, from a multiple of 32; kt <= RR_ATTN_TILE_KEYS);
 * rows of the block [0, rows). full: every row may see every one of these
 * keys (no mask needed). */
typedef struct rr_attn_tile {
    const rr_attn_ws_t *ws;
    int64_t rows, j0, kt;
    int full;
} rr_attn_tile_t;

typedef struct rr_attn_impl {
    const char *name;        /* "scalar", "avx2", "avx512", "amx" */
    rerank_precision_t mode;
    uint8_t k_bytes, v_bytes, q_bytes, p_bytes; /* element size of the packed operands */
    /* Workspace shape beyond the defaults (0: the default): q and k rows
     * padded to d_align channels (4), p and s holding tile_rows rows (8),
     * key_extra zero keys packed past nk rounded up to 32 (0). The AMX
     * implementations need whole tile steps: 32 bf16 / 64 int8 channels or
     * keys, and a block's 32 rows at once. */
    uint8_t d_align, tile_rows, key_extra;
    /* Around a whole call, on its thread (NULL: nothing): the AMX tile
     * configuration is per thread state, set before the first tile and
     * released after the last so that other code (oneDNN's own AMX GEMMs)
     * finds the tiles as it expects. */
    void (*enter)(void);
    void (*leave)(void);
    /* The scalar reference computes whole calls itself (run); the SIMD
     * implementations give the shared driver (attention_drive.c) these: */
    void (*run)(const struct rr_attn_impl *im, const rr_attn_args_t *a);
    /* Pack all keys / values (padding zero) into ws, with their int8 scales. */
    void (*pack_k)(const float *k, int64_t ldk, int64_t nk, const rr_attn_ws_t *ws);
    void (*pack_v)(const float *v, int64_t ldv, int64_t nk, const rr_attn_ws_t *ws);
    /* Pack `rows` query rows into ws->q and their factors into ws->qfac. */
    void (*pack_q)(const float *q, int64_t ldq, int64_t rows, float scale2, const rr_attn_ws_t *ws);
    /* Scores, online softmax update and O += P V for one tile. */
    void (*tile)(const rr_attn_tile_t *t);
    /* out[c] = acc[c] * inv (* vfac[c] if vfac) for c < d: the last step. */
    void (*finish)(const float *acc, float inv, const float *vfac, int64_t d, float *out);
    /* The mode's exp2 on n values (exposed for tests). */
    void (*exp2)(const float *x, int64_t n, float *y);
} rr_attn_impl_t;

/* The implementation rr_attend runs for `mode` on this CPU (RERANK_KERNELS
 * = scalar|avx2|avx512|amx forces one where the CPU runs it). */
const rr_attn_impl_t *rr_attn_impl(rerank_precision_t mode);
/* i = 0 is the scalar reference; NULL past the last one this CPU runs
 * (at most RR_ATTN_MAX_IMPLS in all). */
#define RR_ATTN_MAX_IMPLS 4
const rr_attn_impl_t *rr_attn_impl_variant(rerank_precision_t mode, int i);
size_t rr_attn_impl_scratch_size(const rr_attn_impl_t *im, int64_t nk_max, int64_t d);
/* rr_attend with a given implementation. */
rerank_status_t rr_attend_with(const rr_attn_impl_t *im, const rr_attn_args_t *a);

#endif
