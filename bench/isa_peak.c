/* isa_peak.c — issue rate of the SIMD multiply-add instructions the GEMMs
 * are built from, on one core: vfmadd231ps (fp32), vdpbf16ps (bf16) and
 * vpdpbusd (int8 VNNI), zmm where the CPU has AVX-512, else ymm FMA only.
 * Twelve independent accumulator chains hide the latency, so the figure is
 * throughput. Prints instructions/s and FLOP/s (a bf16 pair or a u8 x s8
 * quadruple counts as its multiplies and adds) per core.
 *
 *   make isa_peak && build/isa_peak
 *
 * Why: on some CPUs the bf16 dot product issues at half the fp32 FMA rate,
 * so bf16 GEMMs cannot beat fp32 ones there (see README, Performance). */
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

#define N_ITER 50000000L

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

#define CHAINS(OP)                                                                                              \
    a0 = OP(a0); a1 = OP(a1); a2 = OP(a2); a3 = OP(a3); a4 = OP(a4); a5 = OP(a5);                             \
    a6 = OP(a6); a7 = OP(a7); a8 = OP(a8); a9 = OP(a9); a10 = OP(a10); a11 = OP(a11);
/* Hides the accumulators from the optimizer each iteration: without it the
 * twelve chains (equal start, equal inputs) are merged into one, and the
 * loop times one dependent chain instead of twelve independent ones. */
#define OPAQUE12 \
    __asm__ volatile("" : "+v"(a0), "+v"(a1), "+v"(a2), "+v"(a3), "+v"(a4), "+v"(a5), "+v"(a6), "+v"(a7), "+v"(a8), \
                     "+v"(a9), "+v"(a10), "+v"(a11))
#define SUM12(add) add(add(add(add(a0, a1), add(a2, a3)), add(add(a4, a5), add(a6, a7))), add(add(a8, a9), add(a10, a11)))

/* Each returns instructions per second; the volatile store keeps the chains. */
__attribute__((target("avx2,fma"), noinline)) static double fma_ymm(void) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0,
           a9 = a0, a10 = a0, a11 = a0, x = _mm256_set1_ps(0.999f), y = _mm256_set1_ps(1e-3f);
    double t = now();
#define F(a) _mm256_fmadd_ps(a, x, y)
    for (long n = 0; n < N_ITER; n++) { OPAQUE12; CHAINS(F) }
    t = now() - t;
    volatile float sink = _mm256_cvtss_f32(SUM12(_mm256_add_ps));
    (void)sink;
    return 12.0 * N_ITER / t;
}

__attribute__((target("avx512f"), noinline)) static double fma_zmm(void) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0,
           a9 = a0, a10 = a0, a11 = a0, x = _mm512_set1_ps(0.999f), y = _mm512_set1_ps(1e-3f);
    double t = now();
#define G(a) _mm512_fmadd_ps(a, x, y)
    for (long n = 0; n < N_ITER; n++) { OPAQUE12; CHAINS(G) }
    t = now() - t;
    volatile float sink = _mm512_reduce_add_ps(SUM12(_mm512_add_ps));
    (void)sink;
    return 12.0 * N_ITER / t;
}

__attribute__((target("avx512f,avx512bf16"), noinline)) static double dpbf16_zmm(void) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0,
           a9 = a0, a10 = a0, a11 = a0;
    __m512bh x = (__m512bh)_mm512_set1_epi16(0x3f80); /* 1.0 */
    double t = now();
#define B(a) _mm512_dpbf16_ps(a, x, x)
    for (long n = 0; n < N_ITER; n++) { OPAQUE12; CHAINS(B) }
    t = now() - t;
    volatile float sink = _mm512_reduce_add_ps(SUM12(_mm512_add_ps));
    (void)sink;
    return 12.0 * N_ITER / t;
}

__attribute__((target("avx512f,avx512vnni"), noinline)) static double dpbusd_zmm(void) {
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0,
            a9 = a0, a10 = a0, a11 = a0, x = _mm512_set1_epi8(1);
    double t = now();
#define V(a) _mm512_dpbusd_epi32(a, x, x)
    for (long n = 0; n < N_ITER; n++) { OPAQUE12; CHAINS(V) }
    t = now() - t;
    volatile int sink = _mm512_reduce_add_epi32(SUM12(_mm512_add_epi32));
    (void)sink;
    return 12.0 * N_ITER / t;
}

static void report(const char *name, double ips, double flops_per_instr) {
    printf("%-22s %6.2f G instr/s  %7.1f GFLOP/s per core\n", name, ips / 1e9, ips * flops_per_instr / 1e9);
}

int main(void) {
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
        printf("no AVX2 + FMA on this CPU\n");
        return 0;
    }
    fma_ymm(); /* warm-up: let the core reach its clock */
    report("vfmadd231ps ymm (fp32)", fma_ymm(), 16);
    if (__builtin_cpu_supports("avx512f")) report("vfmadd231ps zmm (fp32)", fma_zmm(), 32);
    if (__builtin_cpu_supports("avx512bf16")) report("vdpbf16ps zmm (bf16)", dpbf16_zmm(), 64);
    if (__builtin_cpu_supports("avx512vnni")) report("vpdpbusd zmm (int8)", dpbusd_zmm(), 128);
    return 0;
}
