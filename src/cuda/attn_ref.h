/* attn_ref.h — float64 reference of masked multi-head attention over packed sequences, shared by the GPU
 * self-test (cuda_selftest.cu) and the host emulation test (tests/test_cuda_emu.cc). Plain C / C++. */
#ifndef RR_CUDA_ATTN_REF_H
#define RR_CUDA_ATTN_REF_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* out[t, h*d + c] = sum_j softmax_j(scale q_t.k_j) v_j[c] over the keys j of t's sequence visible to t
 * (j <= t when causal; |t - j| <= window when window >= 0). qkv rows: [q heads | k heads | v heads] with hq
 * query and hkv key/value heads of d values (query head h reads kv head h / (hq / hkv)). A query that sees
 * no key gets 0. scratch: max sequence length doubles. */
static inline void rr_attn_reference(const float *qkv, const int32_t *cu, size_t n_seq, int hq, int hkv, int d,
                                     int causal, int window, double scale, double *scratch, double *out) {
    const size_t ld = (size_t)(hq + 2 * hkv) * d, ldo = (size_t)hq * d;
    for (size_t p = 0; p < n_seq; p++) {
        const int32_t s0 = cu[p], n = cu[p + 1] - cu[p];
        for (int h = 0; h < hq; h++) {
            const int kvh = h / (hq / hkv);
            for (int32_t i = 0; i < n; i++) {
                const float *q = qkv + (size_t)(s0 + i) * ld + (size_t)h * d;
                double mx = -INFINITY, sum = 0;
                for (int32_t j = 0; j < n; j++) {
                    const int vis = (!causal || j <= i) && (window < 0 || abs(i - j) <= window);
                    scratch[j] = -INFINITY;
                    if (!vis) continue;
                    const float *k = qkv + (size_t)(s0 + j) * ld + (size_t)(hq + kvh) * d;
                    double s = 0;
                    for (int c = 0; c < d; c++) s += (double)q[c] * k[c];
                    scratch[j] = s * scale;
                    if (scratch[j] > mx) mx = scratch[j];
                }
                for (int32_t j = 0; j < n; j++) sum += (scratch[j] = scratch[j] == -INFINITY ? 0 : exp(scratch[j] - mx));
                double *o = out + (size_t)(s0 + i) * ldo + (size_t)h * d;
                for (int c = 0; c < d; c++) {
                    double acc = 0;
                    for (int32_t j = 0; j < n; j++)
                        if (scratch[j] != 0)
                            acc += scratch[j] * qkv[(size_t)(s0 + j) * ld + (size_t)(hq + hkv + kvh) * d + c];
                    o[c] = sum > 0 ? acc / sum : 0;
                }
            }
        }
    }
}

#endif
