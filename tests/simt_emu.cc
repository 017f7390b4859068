// simt_emu.cc — the host side of src/cuda/simt.h: a thread block as ucontext fibers (see simt_emu.h), and
// the PTX semantics of the primitives written from the PTX ISA (ldmatrix m8n8 x4 [.trans] b16, mma.sync
// m16n8k16 row.col f32 += f16/bf16, cp.async 16 bytes with zero fill, shfl.bfly), plus IEEE fp16 / bf16 /
// FP8 E4M3 conversions with round-to-nearest-even.
//
// Fibers start with makecontext / setcontext and then switch with the compiler's __builtin_setjmp /
// __builtin_longjmp (frame and stack pointer and a label: a few instructions), which unlike swapcontext
// make no system call (the emulator switches tens of millions of times) and unlike the library's longjmp
// are not intercepted by AddressSanitizer, whose longjmp unpoisons the whole fiber stack and asks the
// kernel for the signal stack at every switch (most of the time of test_cuda_host under ASan). ASan is
// told of every switch with its fiber API instead.
#include "simt_emu.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

#include <deque>
#include <string>
#include <vector>

#include "cuda/simt.h"

#if defined(__SANITIZE_ADDRESS__)
#define EMU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define EMU_ASAN 1
#endif
#endif
#ifdef EMU_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

namespace {

constexpr size_t kStack = 256 << 10;
constexpr int kMaxThreads = 1024;

enum op_kind { OP_NONE, OP_SHFL, OP_LDSM, OP_LDSM_T, OP_MMA_F16, OP_MMA_BF16 };
enum fiber_state { READY, AT_WARP_OP, AT_BAR, DONE };

struct cp_op {
    unsigned char *dst;
    unsigned char data[16];
};

struct fiber {
    ucontext_t ctx;    // for the first entry
    void *jb[5];       // where it yielded (__builtin_setjmp's buffer)
    bool started = false;
    char *stack = nullptr;
    fiber_state st = DONE;
    void *fake = nullptr; // ASan fake stack of this fiber while switched out
    // the pending warp operation
    op_kind op = OP_NONE;
    float fv = 0, fres = 0;
    int mask = 0;
    const void *addr = nullptr;
    uint32_t *r = nullptr;
    float *d = nullptr;
    const uint32_t *a = nullptr;
    uint32_t b0 = 0, b1 = 0;
    // cp.async
    std::vector<cp_op> open;
    std::deque<std::vector<cp_op>> groups;
};

struct block {
    fiber f[kMaxThreads];
    int threads = 0;
    void *sched[5];
    int cur = -1;
    unsigned char *smem = nullptr;
    size_t smem_bytes = 0;
    const std::function<void(int, unsigned char *)> *body = nullptr;
    std::string err;
    const void *sched_bottom = nullptr;
    size_t sched_size = 0;
    void *sched_fake = nullptr;
    rr_emu::counters n = {0, 0, 0, 0};
};

block *B;

void fail(const char *fmt, ...) {
    if (!B->err.empty()) return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    B->err = buf;
}

// The switching functions must look like any call to their callers: GCC's interprocedural register
// allocation would otherwise keep caller-saved registers live across a call it sees clobbering none of
// them, while the return arrives by a jump from another fiber with other register contents.
#if defined(__GNUC__) && !defined(__clang__)
#define EMU_SWITCH __attribute__((noinline, noipa, no_sanitize_address))
#else
#define EMU_SWITCH __attribute__((noinline, no_sanitize_address))
#endif

// Jump to a __builtin_setjmp of buf (never in the function that called __builtin_setjmp: GCC's rule).
// Not declared noreturn, though it never returns: ASan puts __asan_handle_no_return (the stack unpoisoning
// above) before every call to a noreturn function, and in jump itself without no_sanitize_address.
EMU_SWITCH void jump(void **buf) { __builtin_longjmp(buf, 1); }

// The two switches are not instrumented either: ASan calls __asan_handle_no_return at a setjmp too.
// fiber -> scheduler
EMU_SWITCH void yield() {
    fiber &f = B->f[B->cur];
#ifdef EMU_ASAN
    __sanitizer_start_switch_fiber(&f.fake, B->sched_bottom, B->sched_size);
#endif
    if (!__builtin_setjmp(f.jb)) jump(B->sched);
#ifdef EMU_ASAN
    __sanitizer_finish_switch_fiber(f.fake, nullptr, nullptr);
#endif
}

void entry(int tid) {
#ifdef EMU_ASAN
    __sanitizer_finish_switch_fiber(nullptr, &B->sched_bottom, &B->sched_size);
#endif
    (*B->body)(tid, B->smem);
    B->f[tid].st = DONE;
#ifdef EMU_ASAN
    __sanitizer_start_switch_fiber(nullptr, B->sched_bottom, B->sched_size);
#endif
    jump(B->sched); // never returns
}

// scheduler -> fiber
EMU_SWITCH void resume(int tid) {
    fiber &f = B->f[tid];
    B->cur = tid;
#ifdef EMU_ASAN
    __sanitizer_start_switch_fiber(&B->sched_fake, f.stack, kStack);
#endif
    if (!__builtin_setjmp(B->sched)) {
        if (!f.started) {
            f.started = true;
            setcontext(&f.ctx);
        }
        jump(f.jb);
    }
#ifdef EMU_ASAN
    __sanitizer_finish_switch_fiber(B->sched_fake, nullptr, nullptr);
#endif
    B->cur = -1;
}

fiber &self() { return B->f[B->cur]; }

void warp_wait(op_kind k) {
    fiber &f = self();
    f.op = k;
    f.st = AT_WARP_OP;
    yield();
}

bool in_smem(const void *p, size_t bytes) {
    const unsigned char *c = (const unsigned char *)p;
    return c >= B->smem && c + bytes <= B->smem + B->smem_bytes;
}

uint16_t ld16(const unsigned char *p) {
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

float to_float(uint16_t v, bool bf) { return bf ? rr_simt::bf16_to_f32(v) : rr_simt::f16_to_f32(v); }

// Execute the warp operation all lanes of warp w are waiting at.
void run_warp_op(int w) {
    fiber *L = &B->f[w * 32];
    const op_kind k = L[0].op;
    for (int i = 1; i < 32; i++)
        if (L[i].op != k) return fail("warp %d: lanes 0 and %d wait at different warp operations (%d, %d)", w, i, k, L[i].op);
    B->n.warp_ops++;
    switch (k) {
    case OP_SHFL:
        for (int i = 0; i < 32; i++)
            if (L[i].mask != L[0].mask) return fail("warp %d: shfl_xor with different masks", w);
        for (int i = 0; i < 32; i++) L[i].fres = L[i ^ L[0].mask].fv;
        break;
    case OP_LDSM:
    case OP_LDSM_T:
        for (int i = 0; i < 32; i++)
            if (!in_smem(L[i].addr, 16) || ((uintptr_t)L[i].addr & 15))
                return fail("warp %d lane %d: ldmatrix row address %p outside shared memory or not 16-byte aligned", w, i,
                            L[i].addr);
        for (int i = 0; i < 32; i++)
            for (int m = 0; m < 4; m++) {
                uint32_t v;
                if (k == OP_LDSM) { // row i/4 of matrix m, columns 2(i%4), +1
                    memcpy(&v, (const unsigned char *)L[8 * m + i / 4].addr + 4 * (i % 4), 4);
                } else { // column i/4 of matrix m, rows 2(i%4), +1
                    const uint16_t lo = ld16((const unsigned char *)L[8 * m + 2 * (i % 4)].addr + 2 * (i / 4));
                    const uint16_t hi = ld16((const unsigned char *)L[8 * m + 2 * (i % 4) + 1].addr + 2 * (i / 4));
                    v = (uint32_t)lo | (uint32_t)hi << 16;
                }
                L[i].r[m] = v;
            }
        break;
    case OP_MMA_F16:
    case OP_MMA_BF16: {
        const bool bf = k == OP_MMA_BF16;
        float A[16][16], Bm[16][8], C[16][8];
        for (int i = 0; i < 32; i++) {
            const int g = i >> 2, t = i & 3;
            // A: a0,a1 (row g, cols 2t, 2t+1), a2,a3 (row g+8), a4,a5 (row g, cols +8), a6,a7 (row g+8, cols +8)
            for (int reg = 0; reg < 4; reg++) {
                const int row = g + 8 * (reg & 1), col = 2 * t + 8 * (reg >> 1);
                A[row][col] = to_float(L[i].a[reg] & 0xffff, bf);
                A[row][col + 1] = to_float(L[i].a[reg] >> 16, bf);
            }
            // B: b0,b1 (rows 2t, 2t+1, col g), b2,b3 (rows 2t+8, 2t+9)
            Bm[2 * t][g] = to_float(L[i].b0 & 0xffff, bf);
            Bm[2 * t + 1][g] = to_float(L[i].b0 >> 16, bf);
            Bm[2 * t + 8][g] = to_float(L[i].b1 & 0xffff, bf);
            Bm[2 * t + 9][g] = to_float(L[i].b1 >> 16, bf);
            // C: c0,c1 (row g, cols 2t, 2t+1), c2,c3 (row g+8)
            C[g][2 * t] = L[i].d[0];
            C[g][2 * t + 1] = L[i].d[1];
            C[g + 8][2 * t] = L[i].d[2];
            C[g + 8][2 * t + 1] = L[i].d[3];
        }
        for (int r = 0; r < 16; r++)
            for (int c = 0; c < 8; c++) {
                double acc = C[r][c];
                for (int x = 0; x < 16; x++) acc += (double)A[r][x] * Bm[x][c];
                C[r][c] = (float)acc;
            }
        for (int i = 0; i < 32; i++) {
            const int g = i >> 2, t = i & 3;
            L[i].d[0] = C[g][2 * t];
            L[i].d[1] = C[g][2 * t + 1];
            L[i].d[2] = C[g + 8][2 * t];
            L[i].d[3] = C[g + 8][2 * t + 1];
        }
        break;
    }
    default: return fail("warp %d: unknown warp operation %d", w, k);
    }
    for (int i = 0; i < 32; i++) {
        L[i].op = OP_NONE;
        L[i].st = READY;
    }
}

void apply(std::vector<cp_op> &g) {
    for (cp_op &c : g) memcpy(c.dst, c.data, 16);
}

} // namespace

namespace rr_emu {

const char *error() { return B ? B->err.c_str() : "no block has run"; }
counters stats() { return B ? B->n : counters{0, 0, 0, 0}; }

int run_block(int threads, size_t smem_bytes, const std::function<void(int, unsigned char *)> &body, int rotate) {
    if (!B) B = new block;
    B->err.clear();
    if (threads < 32 || threads > kMaxThreads || threads % 32) {
        fail("run_block: %d threads (a multiple of 32 up to %d)", threads, kMaxThreads);
        return -1;
    }
    B->threads = threads;
    B->body = &body;
    B->smem_bytes = smem_bytes;
    free(B->smem);
    B->smem = (unsigned char *)aligned_alloc(128, (smem_bytes + 127) / 128 * 128 + 128);
    memset(B->smem, 0xff, smem_bytes); // NaN bytes for fp16 / bf16
    B->n.blocks++;
    for (int i = 0; i < threads; i++) {
        fiber &f = B->f[i];
        if (!f.stack) f.stack = (char *)malloc(kStack);
#ifdef EMU_ASAN
        // a fiber a failed block left mid-body keeps its frames' redzones poisoned (the switches do not
        // unpoison stacks, see jump): clear them before its stack is used again
        if (f.st != DONE) __asan_unpoison_memory_region(f.stack, kStack);
#endif
        f.open.clear();
        f.groups.clear();
        f.op = OP_NONE;
        f.fake = nullptr;
        getcontext(&f.ctx);
        f.ctx.uc_stack.ss_sp = f.stack;
        f.ctx.uc_stack.ss_size = kStack;
        f.ctx.uc_link = nullptr;
        f.started = false;
        makecontext(&f.ctx, (void (*)())entry, 1, i);
        f.st = READY;
    }
    const int nw = threads / 32;
    for (;;) {
        bool progress = false;
        for (int wi = 0; wi < nw; wi++) {
            const int w = (wi + rotate) % nw;
            for (;;) { // this warp as far as it goes
                bool ran = false;
                for (int lane = 0; lane < 32; lane++) {
                    if (B->f[w * 32 + lane].st != READY) continue;
                    resume(w * 32 + lane);
                    ran = progress = true;
                    if (!B->err.empty()) return -1;
                }
                int at_op = 0, done = 0;
                for (int lane = 0; lane < 32; lane++) {
                    at_op += B->f[w * 32 + lane].st == AT_WARP_OP;
                    done += B->f[w * 32 + lane].st == DONE;
                }
                if (at_op && at_op + done == 32) {
                    if (done) {
                        fail("warp %d: %d lanes wait at a warp operation, %d lanes exited", w, at_op, done);
                        return -1;
                    }
                    run_warp_op(w);
                    if (!B->err.empty()) return -1;
                    progress = true;
                    continue;
                }
                if (!ran) break;
            }
        }
        int at_bar = 0, done = 0;
        for (int i = 0; i < threads; i++) {
            at_bar += B->f[i].st == AT_BAR;
            done += B->f[i].st == DONE;
        }
        if (done == threads) break;
        if (at_bar && at_bar + done == threads) {
            if (done) {
                fail("barrier reached by %d threads while %d exited", at_bar, done);
                return -1;
            }
            B->n.barriers++;
            for (int i = 0; i < threads; i++) B->f[i].st = READY;
            progress = true;
        }
        if (!progress) {
            int at_op = 0;
            for (int i = 0; i < threads; i++) at_op += B->f[i].st == AT_WARP_OP;
            fail("deadlock: %d threads at a barrier, %d at a warp operation, %d exited", at_bar, at_op, done);
            return -1;
        }
    }
    return 0;
}

} // namespace rr_emu

namespace rr_simt {

void bar() {
    self().st = AT_BAR;
    yield();
}

float shfl_xor(float v, int mask) {
    fiber &f = self();
    f.fv = v;
    f.mask = mask;
    warp_wait(OP_SHFL);
    return f.fres;
}

float ex2(float x) { return exp2f(x); }

void ldsm_x4(uint32_t r[4], const void *p) {
    fiber &f = self();
    f.addr = p;
    f.r = r;
    warp_wait(OP_LDSM);
}

void ldsm_x4_t(uint32_t r[4], const void *p) {
    fiber &f = self();
    f.addr = p;
    f.r = r;
    warp_wait(OP_LDSM_T);
}

static void mma(float d[4], const uint32_t a[4], uint32_t b0, uint32_t b1, op_kind k) {
    fiber &f = self();
    f.d = d;
    f.a = a;
    f.b0 = b0;
    f.b1 = b1;
    warp_wait(k);
}
void mma16816_f16(float d[4], const uint32_t a[4], uint32_t b0, uint32_t b1) { mma(d, a, b0, b1, OP_MMA_F16); }
void mma16816_bf16(float d[4], const uint32_t a[4], uint32_t b0, uint32_t b1) { mma(d, a, b0, b1, OP_MMA_BF16); }

void cp_async16(void *smem, const void *src, int src_bytes) {
    B->n.cp_async++;
    if (!in_smem(smem, 16) || ((uintptr_t)smem & 15) || ((uintptr_t)src & 15) || (src_bytes != 0 && src_bytes != 16)) {
        fail("thread %d: cp.async %p <- %p (%d bytes): destination outside shared memory or misaligned", B->cur, smem,
             src, src_bytes);
        yield(); // never resumed
    }
    cp_op c;
    c.dst = (unsigned char *)smem;
    memset(c.data, 0, 16);
    if (src_bytes) memcpy(c.data, src, 16);
    memset(smem, 0xff, 16); // poison until the covering wait
    self().open.push_back(c);
}

void cp_commit() {
    fiber &f = self();
    f.groups.push_back(std::move(f.open));
    f.open.clear();
}

void cp_wait_n(int n) {
    fiber &f = self();
    while ((int)f.groups.size() > n) {
        apply(f.groups.front());
        f.groups.pop_front();
    }
}

float f16_to_f32(uint16_t h) {
    const int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    float v;
    if (e == 0) v = ldexpf((float)m, -24);
    else if (e == 31) v = m ? NAN : INFINITY;
    else v = ldexpf((float)(m | 1024), e - 25);
    return s ? -v : v;
}

// Round |x| (finite, >= 0) to a multiple of 2^q, ties to even.
static double round_to(double x, int q) {
    const double scaled = ldexp(x, -q);
    double r = nearbyint(scaled); // default rounding mode: to nearest even
    return ldexp(r, q);
}

uint16_t f32_to_f16(float f) {
    const uint16_t sign = signbit(f) ? 0x8000 : 0;
    if (isnan(f)) return 0x7e00;
    double a = fabs((double)f);
    if (a == 0) return sign;
    int e;
    frexp(a, &e); // a = m * 2^e, m in [0.5, 1): leading bit 2^(e-1)
    const int q = e - 1 < -14 ? -24 : e - 1 - 10; // quantum: 10 mantissa bits, subnormals below 2^-14
    a = round_to(a, q);
    if (a == 0) return sign;                 // below half the smallest subnormal: a signed zero
    if (a >= 65536.0) return sign | 0x7c00; // overflow -> inf
    frexp(a, &e);
    if (e - 1 < -14) return sign | (uint16_t)ldexp(a, 24); // subnormal
    const int m = (int)(ldexp(a, -(e - 1)) * 1024.0) - 1024;
    return sign | (uint16_t)((e - 1 + 15) << 10) | (uint16_t)m;
}

float bf16_to_f32(uint16_t h) {
    const uint32_t u = (uint32_t)h << 16;
    float v;
    memcpy(&v, &u, 4);
    return v;
}

uint16_t f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if (isnan(f)) return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fff + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

uint8_t f32_to_e4m3(float f) { // saturating to +-448 (SATFINITE), NaN -> 0x7f
    const uint8_t sign = signbit(f) ? 0x80 : 0;
    if (isnan(f)) return 0x7f;
    double a = fabs((double)f);
    if (a >= 448.0) return sign | 0x7e;
    if (a < ldexp(1.0, -6)) return sign | (uint8_t)nearbyint(ldexp(a, 9)); // subnormals; 8 = 2^-6 encodes itself
    int e;
    frexp(a, &e);
    a = round_to(a, e - 1 - 3);
    if (a >= 448.0) return sign | 0x7e;
    frexp(a, &e);
    const int m = (int)(ldexp(a, -(e - 1)) * 8.0) - 8;
    return sign | (uint8_t)((e - 1 + 7) << 3) | (uint8_t)m;
}

float e4m3_to_f32(uint8_t v) {
    const int s = v >> 7, e = (v >> 3) & 15, m = v & 7;
    float r;
    if (e == 15 && m == 7) r = NAN;
    else if (e == 0) r = ldexpf((float)m, -9);
    else r = ldexpf((float)(m | 8), e - 10);
    return s ? -r : r;
}

} // namespace rr_simt
