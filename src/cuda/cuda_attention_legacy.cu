/* cuda_attention_legacy.cu — the previous attention kernels, kept for A/B
 * against the flash kernel (cuda_flash.cu; RERANK_CUDA_ATTN=legacy / simple).
 * Scaled dot-product attention over packed variable-length sequences
 * (cu_seqlens), bidirectional, kv heads == heads: each block
 * owns a tile of query rows of one (sequence, head), streams the keys and
 * values through shared memory one tile at a time and keeps a running
 * (online) softmax — max m, denominator l, unnormalized output o — so the
 * n x n score matrix never exists. Scores are scaled by log2(e)/sqrt(d) so
 * exp2 gives exactly softmax's exp(s/sqrt(d) - max).
 *
 * Two kernels:
 *  - attn_simple: CUDA cores, fp32 math, any head_dim <= 128. 4 warps x 4
 *    query rows, 32-key tiles; lane j scores key j, then the probabilities
 *    are broadcast with shuffles and each lane accumulates d/32 output
 *    columns.
 *  - attn_tc: tensor cores through WMMA (16x16x16, fp16/bf16 in, fp32
 *    accumulate) for head_dim 32, 64, 128. 4 warps x 16 query rows (64 per
 *    block), 64-key tiles (32 for d = 128, to fit 99 KB of shared memory on
 *    sm_89). Each warp: S = Q K^T into shared fp32, online-softmax update on
 *    S by its lanes (2 lanes per row), P (dt) into shared, O (fp32, in
 *    shared, rescaled by the lanes) += P V. Keeping O in shared memory
 *    avoids depending on the (unspecified) WMMA accumulator layout.
 * Both read q, k, v from qkv [T, 3H] (row = [q | k | v], head h at columns
 * h*d of each) and write ctx [T, H]. */
#include <math.h>
#include <mma.h>

#include "cuda/cuda_common.cuh"
#include "cuda/cuda_internal.h"

#define LOG2E 1.4426950408889634f
#define MAX_GRID_Z 65535

/* ---- CUDA-core kernel --------------------------------------------------- */

#define S_WARPS 4
#define S_ROWS 4                   /* query rows per warp */
#define S_BQ (S_WARPS * S_ROWS)    /* query rows per block */
#define S_BK 32                    /* keys per tile (one per lane) */

template <typename T, int DC>
__global__ void __launch_bounds__(S_WARPS * 32)
    attn_simple_kernel(const T *__restrict__ qkv, T *__restrict__ ctx, const int32_t *__restrict__ cu, int p_off,
                       int heads, int d, float scale_log2) {
    __shared__ float Qs[S_BQ][RR_CU_ATTN_MAX_D];
    __shared__ float Ks[S_BK][RR_CU_ATTN_MAX_D + 1]; /* +1: lane j reads row j, conflict-free */
    __shared__ float Vs[S_BK][RR_CU_ATTN_MAX_D];
    const int p = blockIdx.z + p_off, h = blockIdx.y;
    const int start = cu[p], n = cu[p + 1] - start;
    const int q0 = blockIdx.x * S_BQ;
    if (q0 >= n) return; /* whole block: before any barrier */
    const int H = heads * d;
    const size_t ld = 3 * (size_t)H;
    const T *base = qkv + (size_t)start * ld + (size_t)h * d; /* q; k at +H, v at +2H */
    for (int i = threadIdx.x; i < S_BQ * d; i += blockDim.x) {
        const int r = i / d, cc = i % d;
        Qs[r][cc] = q0 + r < n ? rr_to_f32(base[(size_t)(q0 + r) * ld + cc]) * scale_log2 : 0.0f;
    }
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    float m[S_ROWS], l[S_ROWS], o[S_ROWS][DC];
#pragma unroll
    for (int r = 0; r < S_ROWS; r++) {
        m[r] = -INFINITY;
        l[r] = 0.0f;
#pragma unroll
        for (int c = 0; c < DC; c++) o[r][c] = 0.0f;
    }
    for (int k0 = 0; k0 < n; k0 += S_BK) {
        __syncthreads(); /* Qs written / previous tile consumed */
        for (int i = threadIdx.x; i < S_BK * d; i += blockDim.x) {
            const int j = i / d, cc = i % d;
            const bool ok = k0 + j < n;
            const T *row = base + (size_t)(k0 + j) * ld;
            Ks[j][cc] = ok ? rr_to_f32(row[H + cc]) : 0.0f;
            Vs[j][cc] = ok ? rr_to_f32(row[2 * H + cc]) : 0.0f;
        }
        __syncthreads();
        const bool valid = k0 + lane < n;
        const int kn = min(S_BK, n - k0); /* >= 1, same for the whole warp */
#pragma unroll
        for (int r = 0; r < S_ROWS; r++) {
            const float *q = Qs[warp * S_ROWS + r];
            float s = 0.0f;
            for (int cc = 0; cc < d; cc++) s += q[cc] * Ks[lane][cc];
            s = valid ? s : -INFINITY;
            const float mn = fmaxf(m[r], rr_warp_max(s)); /* finite: key k0 is valid */
            const float pj = valid ? exp2f(s - mn) : 0.0f;
            const float alpha = exp2f(m[r] - mn); /* 0 on the first tile */
            l[r] = l[r] * alpha + rr_warp_sum(pj);
#pragma unroll
            for (int c = 0; c < DC; c++) o[r][c] *= alpha;
            for (int j = 0; j < kn; j++) {
                const float pb = __shfl_sync(0xffffffffu, pj, j);
#pragma unroll
                for (int c = 0; c < DC; c++) {
                    const int cc = lane + 32 * c;
                    if (cc < d) o[r][c] += pb * Vs[j][cc];
                }
            }
            m[r] = mn;
        }
    }
#pragma unroll
    for (int r = 0; r < S_ROWS; r++) {
        const int qr = q0 + warp * S_ROWS + r;
        if (qr >= n) continue;
        const float inv = 1.0f / l[r];
        T *out = ctx + (size_t)(start + qr) * H + (size_t)h * d;
#pragma unroll
        for (int c = 0; c < DC; c++) {
            const int cc = lane + 32 * c;
            if (cc < d) out[cc] = rr_from_f32<T>(o[r][c] * inv);
        }
    }
}

template <typename T, int DC>
static rerank_status_t launch_simple(const void *qkv, void *ctx, const int32_t *cu, int64_t P, int32_t max_n,
                                     int32_t heads, int32_t d, cudaStream_t s) {
    const float scale_log2 = LOG2E / sqrtf((float)d);
    for (int64_t p0 = 0; p0 < P; p0 += MAX_GRID_Z) {
        const unsigned np = (unsigned)(P - p0 < MAX_GRID_Z ? P - p0 : MAX_GRID_Z);
        dim3 grid((unsigned)((max_n + S_BQ - 1) / S_BQ), (unsigned)heads, np);
        attn_simple_kernel<T, DC><<<grid, S_WARPS * 32, 0, s>>>((const T *)qkv, (T *)ctx, cu, (int)p0, heads, d,
                                                                scale_log2);
        CU_LAUNCHED("attn_simple_kernel");
    }
    return RERANK_OK;
}

template <typename T>
static rerank_status_t simple_dispatch(const void *qkv, void *ctx, const int32_t *cu, int64_t P, int32_t max_n,
                                       int32_t heads, int32_t d, cudaStream_t s) {
    if (d <= 32) return launch_simple<T, 1>(qkv, ctx, cu, P, max_n, heads, d, s);
    if (d <= 64) return launch_simple<T, 2>(qkv, ctx, cu, P, max_n, heads, d, s);
    if (d <= 96) return launch_simple<T, 3>(qkv, ctx, cu, P, max_n, heads, d, s);
    return launch_simple<T, 4>(qkv, ctx, cu, P, max_n, heads, d, s);
}

/* ---- tensor-core kernel (WMMA) ------------------------------------------ */

#define TC_WARPS 4
#define TC_BQ (TC_WARPS * 16)

static size_t tc_smem(int d, int bk, size_t tsize) {
    return (size_t)TC_BQ * d * tsize            /* Q                 */
           + 2 * (size_t)bk * d * tsize         /* K, V              */
           + (size_t)TC_WARPS * 16 * bk * 4     /* S per warp (fp32) */
           + (size_t)TC_WARPS * 16 * bk * tsize /* P per warp (dt)   */
           + (size_t)TC_WARPS * 16 * d * 4;     /* O per warp (fp32) */
}

/* Copy rows [r0, r0 + rows) x d of one of q/k/v (column offset col) into
 * dst [rows][D] with 16-byte vectors; rows past n are zero. Every offset is
 * a multiple of 8 elements (d, H multiples of 32) so the vectors are
 * aligned. */
template <typename T, int D>
__device__ __forceinline__ void tc_load_tile(T *dst, const T *base, size_t ld, int col, int r0, int rows, int n) {
    constexpr int VEC = 8; /* 8 x 2 bytes */
    for (int i = threadIdx.x; i < rows * (D / VEC); i += blockDim.x) {
        const int r = i / (D / VEC), cv = (i % (D / VEC)) * VEC;
        uint4 v = make_uint4(0, 0, 0, 0);
        if (r0 + r < n) v = *(const uint4 *)(base + (size_t)(r0 + r) * ld + col + cv);
        *(uint4 *)(dst + r * D + cv) = v;
    }
}

template <typename T, int D, int BK>
__global__ void __launch_bounds__(TC_WARPS * 32)
    attn_tc_kernel(const T *__restrict__ qkv, T *__restrict__ ctx, const int32_t *__restrict__ cu, int p_off,
                   int heads, float scale_log2) {
    using namespace nvcuda;
    extern __shared__ __align__(128) unsigned char smem[];
    T *Qs = (T *)smem;                          /* [TC_BQ][D]        */
    T *Ks = Qs + TC_BQ * D;                     /* [BK][D]           */
    T *Vs = Ks + BK * D;                        /* [BK][D]           */
    float *Sall = (float *)(Vs + BK * D);       /* [warps][16][BK]   */
    T *Pall = (T *)(Sall + TC_WARPS * 16 * BK); /* [warps][16][BK]   */
    float *Oall = (float *)(Pall + TC_WARPS * 16 * BK); /* [warps][16][D] */

    const int p = blockIdx.z + p_off, h = blockIdx.y;
    const int start = cu[p], n = cu[p + 1] - start;
    const int q0 = blockIdx.x * TC_BQ;
    if (q0 >= n) return; /* whole block: before any barrier */
    const int H = heads * D;
    const size_t ld = 3 * (size_t)H;
    const T *base = qkv + (size_t)start * ld + (size_t)h * D;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    float *S = Sall + warp * 16 * BK, *O = Oall + warp * 16 * D;
    T *P = Pall + warp * 16 * BK;
    const T *Qw = Qs + warp * 16 * D;

    tc_load_tile<T, D>(Qs, base, ld, 0, q0, TC_BQ, n);
    for (int i = lane; i < 16 * D; i += 32) O[i] = 0.0f;
    /* Softmax state of row `row` (2 lanes per row, both hold it). */
    const int row = lane >> 1, half = lane & 1;
    float m = -INFINITY, l = 0.0f;

    for (int k0 = 0; k0 < n; k0 += BK) {
        __syncthreads(); /* Q written / previous K, V consumed by all warps */
        tc_load_tile<T, D>(Ks, base, ld, H, k0, BK, n);
        tc_load_tile<T, D>(Vs, base, ld, 2 * H, k0, BK, n);
        __syncthreads();

        /* S[16][BK] = Qw[16][D] K^T */
#pragma unroll
        for (int jb = 0; jb < BK / 16; jb++) {
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
            wmma::fill_fragment(acc, 0.0f);
#pragma unroll
            for (int kk = 0; kk < D / 16; kk++) {
                wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> a;
                wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> b; /* b(k, j) = K[j][k] */
                wmma::load_matrix_sync(a, Qw + kk * 16, D);
                wmma::load_matrix_sync(b, Ks + jb * 16 * D + kk * 16, D);
                wmma::mma_sync(acc, a, b, acc);
            }
            wmma::store_matrix_sync(S + jb * 16, acc, BK, wmma::mem_row_major);
        }
        __syncwarp();

        /* Online softmax on row `row`, columns [half*BK/2, (half+1)*BK/2). */
        const int j0 = half * (BK / 2);
        float mt = -INFINITY;
        for (int j = j0; j < j0 + BK / 2; j++)
            if (k0 + j < n) mt = fmaxf(mt, S[row * BK + j] * scale_log2);
        mt = fmaxf(mt, __shfl_xor_sync(0xffffffffu, mt, 1));
        const float mn = fmaxf(m, mt); /* finite: key k0 is valid */
        float sum = 0.0f;
        for (int j = j0; j < j0 + BK / 2; j++) {
            const float pj = k0 + j < n ? exp2f(S[row * BK + j] * scale_log2 - mn) : 0.0f;
            sum += pj;
            P[row * BK + j] = rr_from_f32<T>(pj);
        }
        sum += __shfl_xor_sync(0xffffffffu, sum, 1);
        const float alpha = exp2f(m - mn); /* 0 on the first tile */
        l = l * alpha + sum;
        m = mn;
        for (int cc = half * (D / 2); cc < (half + 1) * (D / 2); cc++) O[row * D + cc] *= alpha;
        __syncwarp();

        /* O[16][D] += P[16][BK] V[BK][D] */
#pragma unroll
        for (int db = 0; db < D / 16; db++) {
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
            wmma::load_matrix_sync(acc, O + db * 16, D, wmma::mem_row_major);
#pragma unroll
            for (int kb = 0; kb < BK / 16; kb++) {
                wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> a;
                wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major> b; /* b(k, c) = V[k][c] */
                wmma::load_matrix_sync(a, P + kb * 16, BK);
                wmma::load_matrix_sync(b, Vs + kb * 16 * D + db * 16, D);
                wmma::mma_sync(acc, a, b, acc);
            }
            wmma::store_matrix_sync(O + db * 16, acc, D, wmma::mem_row_major);
        }
        __syncwarp();
    }

    /* ctx rows: O / l (the two lanes of a row write half the columns each). */
    const int qr = q0 + warp * 16 + row;
    if (qr < n) {
        const float inv = 1.0f / l;
        T *out = ctx + (size_t)(start + qr) * H + (size_t)h * D;
        for (int cc = half * (D / 2); cc < (half + 1) * (D / 2); cc++) out[cc] = rr_from_f32<T>(O[row * D + cc] * inv);
    }
}

template <typename T, int D, int BK>
static rerank_status_t launch_tc(const void *qkv, void *ctx, const int32_t *cu, int64_t P, int32_t max_n,
                                 int32_t heads, cudaStream_t s) {
    const size_t smem = tc_smem(D, BK, sizeof(T));
    CU(cudaFuncSetAttribute(attn_tc_kernel<T, D, BK>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    const float scale_log2 = LOG2E / sqrtf((float)D);
    for (int64_t p0 = 0; p0 < P; p0 += MAX_GRID_Z) {
        const unsigned np = (unsigned)(P - p0 < MAX_GRID_Z ? P - p0 : MAX_GRID_Z);
        dim3 grid((unsigned)((max_n + TC_BQ - 1) / TC_BQ), (unsigned)heads, np);
        attn_tc_kernel<T, D, BK><<<grid, TC_WARPS * 32, smem, s>>>((const T *)qkv, (T *)ctx, cu, (int)p0, heads,
                                                                  scale_log2);
        CU_LAUNCHED("attn_tc_kernel");
    }
    return RERANK_OK;
}

template <typename T>
static rerank_status_t tc_dispatch(const void *qkv, void *ctx, const int32_t *cu, int64_t P, int32_t max_n,
                                   int32_t heads, int32_t d, cudaStream_t s) {
    switch (d) {
    case 32: return launch_tc<T, 32, 64>(qkv, ctx, cu, P, max_n, heads, s);
    case 64: return launch_tc<T, 64, 64>(qkv, ctx, cu, P, max_n, heads, s);
    case 128: return launch_tc<T, 128, 32>(qkv, ctx, cu, P, max_n, heads, s);
    }
    return rr_error(RERANK_ERR_INTERNAL, "cuda: no tensor-core attention kernel for head_dim %d", (int)d);
}

int rr_cu_attention_tc_ok(int32_t head_dim) { return head_dim == 32 || head_dim == 64 || head_dim == 128; }

rerank_status_t rr_cu_attention_legacy(const void *qkv, void *ctx, const int32_t *cu_seqlens, int64_t P,
                                       int32_t max_n, int32_t heads, int32_t head_dim, rr_cu_dtype_t dt, int tc,
                                       cudaStream_t s) {
    if (P <= 0 || max_n <= 0) return RERANK_OK;
    if (head_dim < 1 || head_dim > RR_CU_ATTN_MAX_D)
        return rr_error(RERANK_ERR_UNSUPPORTED, "cuda: head_dim %d is not supported (at most %d)", (int)head_dim,
                        RR_CU_ATTN_MAX_D);
    if (tc && rr_cu_attention_tc_ok(head_dim)) {
        if (dt == RR_CU_F16) return tc_dispatch<__half>(qkv, ctx, cu_seqlens, P, max_n, heads, head_dim, s);
        return tc_dispatch<__nv_bfloat16>(qkv, ctx, cu_seqlens, P, max_n, heads, head_dim, s);
    }
    if (dt == RR_CU_F16) return simple_dispatch<__half>(qkv, ctx, cu_seqlens, P, max_n, heads, head_dim, s);
    return simple_dispatch<__nv_bfloat16>(qkv, ctx, cu_seqlens, P, max_n, heads, head_dim, s);
}
