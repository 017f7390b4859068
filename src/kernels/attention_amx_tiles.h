/* attention_amx_tiles.h — the two AMX products of attention, written once
 * for bf16 (tdpbf16ps) and int8 (tdpbusd) and instantiated in each mode's
 * file with its target attribute (internal to src/kernels). Tiles as
 * rr_attn_amx_enter sets them: tmm0-3 accumulate 16 x 16 32-bit lanes,
 * tmm4-5 hold 16 rows of 64 bytes (query rows or p), tmm6-7 the B operand
 * (16 rows of 64 bytes: a key panel's channel groups, or a value group's
 * columns). An element group of G = 4 / sizeof(element) values fills a
 * 32-bit lane: pairs of bf16, quads of int8. */
#ifndef RR_KERNELS_ATTENTION_AMX_TILES_H
#define RR_KERNELS_ATTENTION_AMX_TILES_H

#include "kernels/attention_simd512.h"

/* NAME(q, dp, rows, kp, ktp, s): s[r][j] (32-bit, float or int32 as DOT
 * gives) = q[r] . k[j] for the block's rows (up to 32: two row tiles) and
 * ktp keys in 16-key panels ([nkp / 16][dp / G][16][G]), 32 keys per step;
 * dp is a multiple of 64 bytes' worth of channels. */
#define RR_AMX_SCORES(ATTR, NAME, QT, KT_, ST, DOT)                                                       \
    ATTR static void NAME(const QT *q, int64_t dp, int64_t rows, const KT_ *kp, int64_t ktp, ST *s) {      \
        const int64_t lq = dp * (int64_t)sizeof(QT), ls = RR_ATTN_TILE_KEYS * 4, step = 64 / sizeof(QT);   \
        const int two = rows > 16;                                                                         \
        RR_AMX_OPERANDS_READY();                                                                           \
        for (int64_t jj = 0; jj < ktp; jj += 32) {                                                         \
            const KT_ *k0 = kp + jj * dp, *k1 = k0 + 16 * dp; /* channels c.. of a panel: c * 16 on */     \
            _tile_zero(0);                                                                                 \
            _tile_zero(1);                                                                                 \
            _tile_zero(2);                                                                                 \
            _tile_zero(3);                                                                                 \
            for (int64_t c = 0; c < dp; c += step) {                                                       \
                _tile_loadd(4, q + c, lq);                                                                 \
                _tile_loadd(6, k0 + c * 16, 64);                                                           \
                _tile_loadd(7, k1 + c * 16, 64);                                                           \
                DOT(0, 4, 6);                                                                              \
                DOT(1, 4, 7);                                                                              \
                if (two) {                                                                                 \
                    _tile_loadd(5, q + 16 * dp + c, lq);                                                   \
                    DOT(2, 5, 6);                                                                          \
                    DOT(3, 5, 7);                                                                          \
                }                                                                                          \
            }                                                                                              \
            _tile_stored(0, s + jj, ls);                                                                   \
            _tile_stored(1, s + jj + 16, ls);                                                              \
            if (two) {                                                                                     \
                _tile_stored(2, s + 16 * RR_ATTN_TILE_KEYS + jj, ls);                                      \
                _tile_stored(3, s + 16 * RR_ATTN_TILE_KEYS + jj + 16, ls);                                 \
            }                                                                                              \
        }                                                                                                  \
    }

/* NAME(p, rows, kn, v, d16, alpha, o, tmp): o[r] = alpha[r] o[r] + p[r] V
 * for the block's rows, 16 rows and up to 64 channels (four accumulators)
 * at a time, 64 bytes of p (32 bf16 / 64 int8 keys) per step over kn keys
 * (a multiple of that); V in key groups [nkp / G][d16][G]. The product goes
 * through tmp [16][64] (TT: float or int32); LOADF reads 16 of it as floats. */
#define RR_AMX_PV(ATTR, NAME, PT, VT, TT, DOT, LOADF)                                                      \
    ATTR static void NAME(const PT *p, int64_t rows, int64_t kn, const VT *v, int64_t d16, const float *alpha, \
                          float *o, TT *tmp) {                                                             \
        const int64_t lp = RR_ATTN_TILE_KEYS * (int64_t)sizeof(PT), lv = d16 * 4, step = 64 / sizeof(PT),  \
                      G = 4 / sizeof(VT);                                                                  \
        RR_AMX_OPERANDS_READY();                                                                           \
        for (int64_t r0 = 0; r0 < rows; r0 += 16) {                                                        \
            const int64_t nr = rows - r0 < 16 ? rows - r0 : 16;                                            \
            for (int64_t c0 = 0; c0 < d16; c0 += 64) {                                                     \
                const int64_t nt = (d16 - c0) / 16 < 4 ? (d16 - c0) / 16 : 4;                              \
                _tile_zero(0);                                                                             \
                _tile_zero(1);                                                                             \
                _tile_zero(2);                                                                             \
                _tile_zero(3);                                                                             \
                for (int64_t jj = 0; jj < kn; jj += step) {                                                \
                    const VT *vr = v + jj * d16 + G * c0; /* key group jj / G + i at vr + G i d16 */       \
                    _tile_loadd(4, p + r0 * RR_ATTN_TILE_KEYS + jj, lp);                                   \
                    _tile_loadd(6, vr, lv);                                                                \
                    DOT(0, 4, 6);                                                                          \
                    if (nt > 1) {                                                                          \
                        _tile_loadd(7, vr + 16 * G, lv);                                                   \
                        DOT(1, 4, 7);                                                                      \
                    }                                                                                      \
                    if (nt > 2) {                                                                          \
                        _tile_loadd(6, vr + 32 * G, lv);                                                   \
                        DOT(2, 4, 6);                                                                      \
                    }                                                                                      \
                    if (nt > 3) {                                                                          \
                        _tile_loadd(7, vr + 48 * G, lv);                                                   \
                        DOT(3, 4, 7);                                                                      \
                    }                                                                                      \
                }                                                                                          \
                _tile_stored(0, tmp, 256);                                                                 \
                _tile_stored(1, tmp + 16, 256);                                                            \
                _tile_stored(2, tmp + 32, 256);                                                            \
                _tile_stored(3, tmp + 48, 256);                                                            \
                for (int64_t i = 0; i < nr; i++) {                                                         \
                    const __m512 al = _mm512_set1_ps(alpha[r0 + i]);                                       \
                    float *orow = o + (r0 + i) * d16 + c0;                                                 \
                    for (int64_t u = 0; u < nt; u++)                                                       \
                        _mm512_storeu_ps(orow + 16 * u, _mm512_fmadd_ps(al, _mm512_loadu_ps(orow + 16 * u), \
                                                                        LOADF(tmp + i * 64 + 16 * u)));    \
                }                                                                                          \
            }                                                                                              \
        }                                                                                                  \
    }

#endif
