/* pack512.h — AVX-512 narrowing the kernels share: floats to bf16 bits,
 * and 32-bit lanes packed in order to 16-bit or 8-bit elements with one
 * full-width result (a masked narrowing store per 16 lanes is several
 * times slower). Internal to src/kernels; static inline with its target. */
#ifndef RR_KERNELS_PACK512_H
#define RR_KERNELS_PACK512_H

#include <immintrin.h>

#define RR_PACK512 __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma")))

/* rr_f32_to_bf16 on 16 lanes, in the low half of each 32-bit lane: add
 * 0x7fff plus the kept bit's parity, keep the high half; NaNs quiet. */
RR_PACK512 static inline __m512i rr_bf16_bits16(__m512 x) {
    const __m512i b = _mm512_castps_si512(x);
    const __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(b, _mm512_set1_epi32(0x7fffffff)),
                                                  _mm512_set1_epi32(0x7f800000));
    const __m512i odd = _mm512_and_si512(_mm512_srli_epi32(b, 16), _mm512_set1_epi32(1));
    const __m512i r = _mm512_srli_epi32(_mm512_add_epi32(b, _mm512_add_epi32(_mm512_set1_epi32(0x7fff), odd)), 16);
    return _mm512_mask_or_epi32(r, nan, _mm512_srli_epi32(b, 16), _mm512_set1_epi32(0x40));
}

/* The 32 lanes of a then b as 16-bit elements, in order, with unsigned
 * saturation (exact for lanes in 0 .. 0xffff, such as rr_bf16_bits16's). */
RR_PACK512 static inline __m512i rr_pack_u16x32(__m512i a, __m512i b) {
    /* packus works within 128-bit lanes: put the 64-bit groups back in order */
    return _mm512_permutexvar_epi64(_mm512_setr_epi64(0, 2, 4, 6, 1, 3, 5, 7), _mm512_packus_epi32(a, b));
}

/* The 64 lanes of a, b, c, d as bytes, in order, with unsigned saturation
 * (exact for lanes in 0 .. 255; negative lanes, INT_MIN included, give 0). */
RR_PACK512 static inline __m512i rr_pack_u8x64(__m512i a, __m512i b, __m512i c, __m512i d) {
    /* packus works within 128-bit lanes: put the 4-byte groups back in order */
    const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    return _mm512_permutexvar_epi32(order, _mm512_packus_epi16(_mm512_packus_epi32(a, b), _mm512_packus_epi32(c, d)));
}

#endif
