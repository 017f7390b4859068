// test_cuda_emu.cc — the hand-written CUDA kernels (src/cuda/*.cuh) run on the host under the SIMT emulator
// (simt_emu.cc): the same source nvcc compiles, with ldmatrix / mma / cp.async / shuffles / barriers
// emulated from their PTX definitions. No GPU and no CUDA toolkit needed, so this runs in every build; it
// checks fragment layouts, shared-memory offsets, cp.async group waits, barriers, masks and partial tiles
// against float64 references. It does not check speed, register use, or the PTX itself.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <vector>

#include "cuda/attn_ref.h"
#include "cuda/flash_attn.cuh"
#include "simt_emu.h"
#include "test.h"

using rr_simt::bf16;
using rr_simt::f16;

namespace {

uint32_t rng_state = 12345u;
float urand() { // [-1, 1)
    rng_state = rng_state * 1664525u + 1013904223u;
    return (float)(rng_state >> 8) / 8388608.0f - 1.0f;
}

template <typename T> const char *tname();
template <> const char *tname<f16>() { return "fp16"; }
template <> const char *tname<bf16>() { return "bf16"; }

struct attn_variant {
    const char *name;
    int hq, hkv, causal, window;
};

// Runs the flash kernel over every block of the launch grid; returns the largest |out - reference| (NaN if
// an output was left unwritten), or -1 on an emulator error.
template <typename T, int DP, int WARPS, int BK>
double flash_case(const std::vector<int32_t> &lens, const attn_variant &v, int d) {
    using S = rr_fa::shape<DP, WARPS, BK>;
    std::vector<int32_t> cu(lens.size() + 1, 0);
    int32_t max_n = 0;
    for (size_t i = 0; i < lens.size(); i++) {
        cu[i + 1] = cu[i] + lens[i];
        if (lens[i] > max_n) max_n = lens[i];
    }
    const size_t T_ = (size_t)cu.back(), ld = (size_t)(v.hq + 2 * v.hkv) * d, ldo = (size_t)v.hq * d;
    std::vector<uint16_t> qkv(T_ * ld);
    std::vector<float> qkvf(T_ * ld);
    for (size_t i = 0; i < qkv.size(); i++) {
        qkv[i] = rr_simt::from_f32<T>(2.0f * urand()).x;
        qkvf[i] = rr_simt::to_f32(T{qkv[i]});
    }
    const size_t guard = 64;
    std::vector<uint16_t> out(T_ * ldo + guard, 0xffff); // NaN: unwritten outputs show
    rr_fa::params p;
    p.qkv = qkv.data();
    p.out = out.data();
    p.cu = cu.data();
    p.hq = v.hq;
    p.hkv = v.hkv;
    p.d = d;
    p.causal = v.causal;
    p.window = v.window;
    const double scale = 1.0 / sqrt((double)d);
    p.scale_log2 = (float)(scale * 1.4426950408889634);
    int rot = 0;
    for (size_t s = 0; s < lens.size(); s++)
        for (int h = 0; h < v.hq; h++)
            for (int qt = 0; qt * S::BQ < max_n; qt++) {
                const int rc = rr_emu::run_block(
                    S::NT, S::SMEM_BYTES,
                    [&](int tid, unsigned char *sm) {
                        rr_fa::flash_block<T, DP, WARPS, BK>(p, qt, h, (int)s, tid, (uint16_t *)sm);
                    },
                    rot++);
                if (rc) {
                    fprintf(stderr, "  emulator: %s\n", rr_emu::error());
                    return -1;
                }
            }
    for (size_t i = 0; i < guard; i++)
        if (out[T_ * ldo + i] != 0xffff) return NAN; // wrote past the end
    std::vector<double> ref(T_ * ldo), scratch((size_t)max_n);
    rr_attn_reference(qkvf.data(), cu.data(), lens.size(), v.hq, v.hkv, d, v.causal, v.window, scale, scratch.data(),
                      ref.data());
    double e = 0;
    for (size_t i = 0; i < T_ * ldo; i++) {
        const double diff = fabs((double)rr_simt::to_f32(T{out[i]}) - ref[i]);
        if (!(diff <= e)) e = diff; // NaN sticks
    }
    return e;
}

const attn_variant k_variants[] = {
    {"bidirectional", 2, 2, 0, -1},
    {"causal", 2, 2, 1, -1},
    {"gqa 4:1 causal", 4, 1, 1, -1},
    {"window 5", 2, 2, 0, 5},
    {"gqa 2:1 window 40", 2, 1, 0, 40},
};

template <typename T, int DP, int WARPS, int BK> void flash_all(const std::vector<int32_t> &lens, int d) {
    const double tol = sizeof(T) == 2 && tname<T>()[0] == 'b' ? 5e-2 : 1e-2;
    for (const attn_variant &v : k_variants) {
        const double e = flash_case<T, DP, WARPS, BK>(lens, v, d);
        printf("  flash %s d=%d (DP %d, %d warps, BK %d) %-18s max err %.3g\n", tname<T>(), d, DP, WARPS, BK, v.name, e);
        CHECK_MSG(e >= 0 && e <= tol, "flash %s d=%d %s: max err %g (tolerance %g)", tname<T>(), d, v.name, e, tol);
    }
}

} // namespace

// Lengths around the tile edges (16-row warps, 64-row blocks, 64-key tiles), mixed in one packed batch.
static const std::vector<int32_t> k_lens = {1, 7, 16, 63, 64, 65, 127, 128, 129};

TEST(flash_d64) {
    flash_all<f16, 64, 4, 64>(k_lens, 64);
    flash_all<bf16, 64, 4, 64>(k_lens, 64);
}
TEST(flash_d128) {
    flash_all<f16, 128, 4, 64>(k_lens, 128);
    flash_all<bf16, 128, 4, 64>({1, 63, 65, 129}, 128);
}
TEST(flash_wide_blocks) { // 8 warps: 128 query rows per block, Q staged over both K/V buffers
    flash_all<f16, 64, 8, 64>({1, 65, 127, 128, 129, 257}, 64);
    flash_all<f16, 128, 8, 64>({1, 129, 200}, 128);
}
TEST(flash_generic_dims) { // d < DP: zero-filled columns; DP not a power of two
    flash_all<f16, 16, 4, 64>(k_lens, 8);
    flash_all<f16, 32, 4, 64>(k_lens, 24);
    flash_all<bf16, 32, 4, 64>(k_lens, 32);
    flash_all<f16, 80, 4, 64>({1, 7, 64, 65, 130}, 80);
    flash_all<f16, 96, 4, 64>({1, 64, 65, 129}, 96);
}

int main(void) {
    RUN(flash_d64);
    RUN(flash_d128);
    RUN(flash_wide_blocks);
    RUN(flash_generic_dims);
    const rr_emu::counters c = rr_emu::stats();
    printf("  emulated %ld blocks: %ld warp operations, %ld barriers, %ld cp.async\n", c.blocks, c.warp_ops, c.barriers,
           c.cp_async);
    TEST_MAIN_END();
}
