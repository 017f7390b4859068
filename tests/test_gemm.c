/* test_gemm.c — the linear layers at each precision and epilogue against a
 * float64 reference, and the int8 row quantizer. */
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include <string.h>

#include "common/alloc.h"
#include "common/limits.h"
#include "cpu/gemm.h"
#include "engine/bench_api.h"
#include "kernels/kernels.h"
#include "test.h"

static unsigned g_seed = 7;
static float frand(float lo, float hi) {
    g_seed = g_seed * 1664525u + 1013904223u;
    return lo + (hi - lo) * (float)(g_seed >> 8) / (float)(1u << 24);
}

/* 1: the GEMM contexts tests make split their rows as AMX shapes do (whole
 * 64-row blocks, the rest padded to 16 rows), on any CPU: the second round. */
static int g_row_blocks;
static rerank_status_t gemm_new(rr_gemm_t **g) {
    rerank_status_t st = rr_gemm_new(g);
    if (!st) rr_gemm_set_row_blocks(*g, g_row_blocks);
    return st;
}

/* A layer case in fresh blocks: x [m, k] in [-2, 2), w [n, k] in
 * [-wr, wr), b [n] in [-0.5, 0.5), y0 [m, n] in [-1, 1) (free_case). */
typedef struct layer_case {
    float *x, *w, *b, *y0;
} layer_case_t;

static layer_case_t make_case(int m, int k, int n, float wr) {
    layer_case_t c = {malloc(sizeof(float) * m * k), malloc(sizeof(float) * n * k), malloc(sizeof(float) * n),
                      malloc(sizeof(float) * m * n)};
    for (int i = 0; i < m * k; i++) c.x[i] = frand(-2, 2);
    for (int i = 0; i < n * k; i++) c.w[i] = frand(-wr, wr);
    for (int i = 0; i < n; i++) c.b[i] = frand(-0.5f, 0.5f);
    for (int i = 0; i < m * n; i++) c.y0[i] = frand(-1, 1);
    return c;
}

static void free_case(layer_case_t *c) {
    free(c->x); free(c->w); free(c->b); free(c->y0);
}

/* Max |y - ref| / max |ref| for y = epi(x W^T + b) at `prec`. */
static double run_case(rr_gemm_t *g, rerank_precision_t prec, rr_epilogue_t epi, int M, int K, int N) {
    float *x = malloc(sizeof(float) * M * K), *w = malloc(sizeof(float) * N * K), *b = malloc(sizeof(float) * N);
    float *y = malloc(sizeof(float) * M * N), *y0 = malloc(sizeof(float) * M * N);
    for (int i = 0; i < M * K; i++) x[i] = frand(-2, 2);
    for (int i = 0; i < N * K; i++) w[i] = frand(-0.05f, 0.05f);
    for (int i = 0; i < N; i++) b[i] = frand(-0.5f, 0.5f);
    for (int i = 0; i < M * N; i++) y[i] = y0[i] = frand(-1, 1);
    rr_linear_t L;
    double worst = -1, scale = 0;
    if (rr_linear_init(g, &L, w, b, N, K, prec) == RERANK_OK && rr_linear(g, &L, x, M, epi, y) == RERANK_OK) {
        worst = 0;
        for (int m = 0; m < M; m++)
            for (int n = 0; n < N; n++) {
                double r = b[n];
                for (int k = 0; k < K; k++) r += (double)x[m * K + k] * w[n * K + k];
                if (epi == RR_EPI_GELU) r = 0.5 * r * (1 + erf(r / sqrt(2.0)));
                if (epi == RR_EPI_ACC) r += y0[m * N + n];
                worst = fmax(worst, fabs(r - y[m * N + n]));
                scale = fmax(scale, fabs(r));
            }
        worst /= scale;
    } else {
        fprintf(stderr, "  %s: %s\n", rerank_precision_str(prec), rerank_last_error());
    }
    rr_linear_release(&L);
    free(x); free(w); free(b); free(y); free(y0);
    return worst;
}

TEST(linear_all_precisions) {
    rr_gemm_t *g = NULL;
    CHECK(gemm_new(&g) == RERANK_OK);
    if (!g) return;
    const double tol[3] = {1e-5, 2e-2, 3e-2};
    int shapes[][3] = {{1, 32, 32}, {37, 64, 48}, {130, 1024, 96}, {5, 96, 1024}};
    for (int p = 0; p < 3; p++)
        for (int e = 0; e < 3; e++)
            for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
                double err = run_case(g, (rerank_precision_t)p, (rr_epilogue_t)e, shapes[s][0], shapes[s][1], shapes[s][2]);
                CHECK_MSG(err >= 0 && err <= tol[p], "%s epi %d [%d x %d x %d]: rel err %g",
                          rerank_precision_str((rerank_precision_t)p), e, shapes[s][0], shapes[s][1], shapes[s][2], err);
                if (e == 0 && s == 2) printf("  %s [130 x 1024 x 96]: max rel err %.3g\n", rerank_precision_str((rerank_precision_t)p), err);
            }
    rr_gemm_free(g);
}

/* rr_ffn equals rr_linear(up) (GELU fused when ungated), the activation
 * and gate with the same kernels, then rr_linear(down, ACC): bit for bit in
 * every precision (int8 runs its fused row path, the others the calls), for
 * ungated GELU (BERT), SwiGLU as [gate; up] (Qwen3), GeGLU as [a | g]
 * (ModernBERT) and [up | gate] (GTE), for row counts around the parallel
 * threshold. */
TEST(ffn_matches_two_linears) {
    rr_gemm_t *g = NULL;
    CHECK(gemm_new(&g) == RERANK_OK);
    if (!g) return;
    enum { H = 64, I = 256, MMAX = 300 };
    const struct { rr_fn_t act; rr_gate_t gate; } kinds[] = {
        {RR_FN_GELU, RR_GATE_NONE}, {RR_FN_SILU, RR_GATE_FIRST}, {RR_FN_GELU, RR_GATE_FIRST}, {RR_FN_GELU, RR_GATE_SECOND}};
    const rr_kernels_t *k = rr_kernels();
    float *wu = malloc(sizeof(float) * 2 * I * H), *bu = malloc(sizeof(float) * 2 * I), *wd = malloc(sizeof(float) * H * I),
          *bd = malloc(sizeof(float) * H), *x = malloc(sizeof(float) * MMAX * H),
          *ffn = malloc(sizeof(float) * MMAX * 2 * I), *gin = malloc(sizeof(float) * MMAX * I),
          *y1 = malloc(sizeof(float) * MMAX * H), *y2 = malloc(sizeof(float) * MMAX * H);
    for (int i = 0; i < 2 * I * H; i++) wu[i] = frand(-0.1f, 0.1f);
    for (int i = 0; i < I * H; i++) wd[i] = frand(-0.1f, 0.1f);
    for (int i = 0; i < 2 * I; i++) bu[i] = frand(-0.5f, 0.5f);
    for (int i = 0; i < H; i++) bd[i] = frand(-0.5f, 0.5f);
    for (int i = 0; i < MMAX * H; i++) x[i] = frand(-2, 2);
    int ms[] = {1, 7, 300};
    for (size_t kind = 0; kind < sizeof kinds / sizeof kinds[0]; kind++)
        for (int p = 0; p < 3; p++) {
            const rr_fn_t act = kinds[kind].act;
            const rr_gate_t gate = kinds[kind].gate;
            const int w = gate == RR_GATE_NONE ? I : 2 * I;
            rr_linear_t up, down;
            rerank_precision_t prec = (rerank_precision_t)p;
            CHECK(rr_linear_init(g, &up, wu, bu, w, H, prec) == RERANK_OK);
            CHECK(rr_linear_init(g, &down, wd, bd, H, I, prec) == RERANK_OK);
            for (size_t t = 0; t < sizeof ms / sizeof ms[0]; t++) {
                int m = ms[t];
                for (int i = 0; i < m * H; i++) y1[i] = y2[i] = frand(-1, 1);
                if (gate == RR_GATE_NONE) {
                    CHECK(rr_linear(g, &up, x, m, RR_EPI_GELU, gin) == RERANK_OK);
                } else {
                    CHECK(rr_linear(g, &up, x, m, RR_EPI_NONE, ffn) == RERANK_OK);
                    for (int r = 0; r < m; r++) {
                        float *u = ffn + (size_t)r * w, *a = gate == RR_GATE_SECOND ? u + I : u,
                              *o = gate == RR_GATE_SECOND ? u : u + I;
                        if (act == RR_FN_GELU) k->gelu(a, I);
                        else k->silu(a, I);
                        for (int i = 0; i < I; i++) gin[(size_t)r * I + i] = a[i] * o[i];
                    }
                }
                CHECK(rr_linear(g, &down, gin, m, RR_EPI_ACC, y1) == RERANK_OK);
                CHECK(rr_ffn(g, &up, &down, act, gate, x, m, ffn, y2, NULL) == RERANK_OK);
                int diff = 0;
                for (int i = 0; i < m * H; i++) diff += memcmp(&y1[i], &y2[i], sizeof(float)) != 0;
                CHECK_MSG(diff == 0, "kind %zu %s m=%d: %d of %d outputs differ (compute %s)", kind,
                          rerank_precision_str(prec), m, diff, m * H, rerank_precision_str(up.prec));
            }
            rr_linear_release(&up);
            rr_linear_release(&down);
        }
    /* a down projection that does not match up's outputs is refused */
    rr_linear_t up, down;
    CHECK(rr_linear_init(g, &up, wu, bu, I, H, RERANK_PRECISION_FP32) == RERANK_OK);
    CHECK(rr_linear_init(g, &down, wd, bd, H, I, RERANK_PRECISION_FP32) == RERANK_OK);
    CHECK(rr_ffn(g, &up, &down, RR_FN_SILU, RR_GATE_FIRST, x, 1, ffn, y2, NULL) == RERANK_ERR_INTERNAL);
    rr_linear_release(&up);
    rr_linear_release(&down);
    free(wu); free(bu); free(wd); free(bd); free(x); free(ffn); free(gin); free(y1); free(y2);
    rr_gemm_free(g);
}

/* rr_linear_raw finished as *raw says equals rr_linear with no epilogue,
 * bit for bit, in every precision (fp32/bf16 report nothing to finish). */
/* A row function for rr_row_then: y = 0.5 y + 1 (any change of the row). */
static void halve_row(void *ctx, int64_t r, float *row) {
    const int n = *(const int *)ctx;
    (void)r;
    for (int i = 0; i < n; i++) row[i] = 0.5f * row[i] + 1.0f;
}

static int count_diff(const float *a, const float *b, int n) {
    int d = 0;
    for (int i = 0; i < n; i++) d += memcmp(&a[i], &b[i], sizeof(float)) != 0;
    return d;
}

/* rr_linear_then and rr_ffn with a row function and a stage give the bits
 * of the separate steps: the residual layer, the row function over its
 * output, then the next GEMM on those rows making its own input; the next
 * GEMM takes the staged rows exactly when they are its input (bf16, int8),
 * and a stage not used by the next GEMM call is dropped. */
TEST(then_and_stage) {
    const int H = 64, I = 128;
    const int ms[] = {1, 5, 17, 64};
    rr_gemm_t *g;
    CHECK(gemm_new(&g) == RERANK_OK);
    float *wo = malloc(sizeof(float) * H * H), *bo = malloc(sizeof(float) * H), *wn = malloc(sizeof(float) * I * H),
          *bn = malloc(sizeof(float) * I), *wd = malloc(sizeof(float) * H * I), *bd = malloc(sizeof(float) * H);
    float *x = malloc(sizeof(float) * 64 * H), *y1 = malloc(sizeof(float) * 64 * H), *y2 = malloc(sizeof(float) * 64 * H),
          *z1 = malloc(sizeof(float) * 64 * I), *z2 = malloc(sizeof(float) * 64 * I), *ffn = malloc(sizeof(float) * 64 * I);
    for (int i = 0; i < H * H; i++) wo[i] = frand(-0.1f, 0.1f);
    for (int i = 0; i < I * H; i++) wn[i] = frand(-0.1f, 0.1f);
    for (int i = 0; i < H * I; i++) wd[i] = frand(-0.1f, 0.1f);
    for (int i = 0; i < H; i++) bo[i] = bd[i] = frand(-0.5f, 0.5f);
    for (int i = 0; i < I; i++) bn[i] = frand(-0.5f, 0.5f);
    for (int i = 0; i < 64 * H; i++) x[i] = frand(-2, 2);
    const rerank_precision_t precs[] = {RERANK_PRECISION_FP32, RERANK_PRECISION_BF16, RERANK_PRECISION_INT8};
    for (size_t pi = 0; pi < 3; pi++) {
        rr_linear_t o, nx, up, down;
        CHECK(rr_linear_init(g, &o, wo, bo, H, H, precs[pi]) == RERANK_OK);
        CHECK(rr_linear_init(g, &nx, wn, bn, I, H, precs[pi]) == RERANK_OK);
        CHECK(rr_linear_init(g, &up, wn, bn, I, H, precs[pi]) == RERANK_OK);
        CHECK(rr_linear_init(g, &down, wd, bd, H, I, precs[pi]) == RERANK_OK);
        const int stages = nx.prec != RERANK_PRECISION_FP32;
        for (size_t t = 0; t < sizeof ms / sizeof ms[0]; t++) {
            const int m = ms[t];
            int n = H;
            const rr_row_then_t then = {.fn = halve_row, .ctx = &n, .stage_x = y2, .stage_k = H, .stage_prec = nx.prec};
            for (int step = 0; step < 2; step++) { /* 0: a residual linear layer, 1: an FFN */
                for (int i = 0; i < m * H; i++) y1[i] = y2[i] = frand(-1, 1);
                /* the separate steps */
                if (step == 0) CHECK(rr_linear(g, &o, x, m, RR_EPI_ACC, y1) == RERANK_OK);
                else CHECK(rr_ffn(g, &up, &down, RR_FN_GELU, RR_GATE_NONE, x, m, ffn, y1, NULL) == RERANK_OK);
                for (int r = 0; r < m; r++) halve_row(&n, r, y1 + (size_t)r * H);
                CHECK(rr_linear(g, &nx, y1, m, RR_EPI_NONE, z1) == RERANK_OK);
                /* in one pass, the next GEMM's input staged */
                const int64_t before = rr_gemm_staged_uses(g);
                if (step == 0) CHECK(rr_linear_then(g, &o, x, m, RR_EPI_ACC, y2, &then) == RERANK_OK);
                else CHECK(rr_ffn(g, &up, &down, RR_FN_GELU, RR_GATE_NONE, x, m, ffn, y2, &then) == RERANK_OK);
                const int64_t mid = rr_gemm_staged_uses(g);
                CHECK(rr_linear(g, &nx, y2, m, RR_EPI_NONE, z2) == RERANK_OK);
                const int64_t after = rr_gemm_staged_uses(g);
                CHECK_MSG(count_diff(y1, y2, m * H) == 0 && count_diff(z1, z2, m * I) == 0,
                          "%s m=%d step %d: rows %d, next layer %d values differ", rerank_precision_str(nx.prec), m,
                          step, count_diff(y1, y2, m * H), count_diff(z1, z2, m * I));
                CHECK_MSG(after - mid == stages, "%s m=%d step %d: %lld staged inputs used (want %d)",
                          rerank_precision_str(nx.prec), m, step, (long long)(after - mid), stages);
                /* a bf16 FFN hands up's output to down in bf16 (a stage of its own) */
                const int inner = step == 1 && nx.prec == RERANK_PRECISION_BF16;
                CHECK_MSG(mid - before == inner, "%s m=%d step %d: %lld staged inputs inside (want %d)",
                          rerank_precision_str(nx.prec), m, step, (long long)(mid - before), inner);
            }
            /* a stage the next GEMM call does not read is dropped */
            CHECK(rr_gemm_stage(g, nx.prec, y2, m, H) == RERANK_OK);
            for (int r = 0; r < m; r++) rr_gemm_stage_row(g, r);
            CHECK(rr_linear(g, &nx, x, m, RR_EPI_NONE, z1) == RERANK_OK); /* another input */
            int64_t b0 = rr_gemm_staged_uses(g);
            for (int i = 0; i < m * H; i++) y2[i] += 1.0f; /* allowed now: nothing is staged */
            CHECK(rr_linear(g, &nx, y2, m, RR_EPI_NONE, z2) == RERANK_OK);
            CHECK(rr_gemm_staged_uses(g) == b0);
            /* and so is one the caller drops */
            CHECK(rr_gemm_stage(g, nx.prec, y2, m, H) == RERANK_OK);
            for (int r = 0; r < m; r++) rr_gemm_stage_row(g, r);
            rr_gemm_unstage(g);
            CHECK(rr_linear(g, &nx, y2, m, RR_EPI_NONE, z1) == RERANK_OK);
            CHECK(rr_gemm_staged_uses(g) == b0);
            /* a stage of other rows (m - 1) or another width is not used either */
            if (m > 1) {
                CHECK(rr_gemm_stage(g, nx.prec, y2, m - 1, H) == RERANK_OK);
                for (int r = 0; r < m - 1; r++) rr_gemm_stage_row(g, r);
                CHECK(rr_linear(g, &nx, y2, m, RR_EPI_NONE, z2) == RERANK_OK);
                CHECK(rr_gemm_staged_uses(g) == b0);
                CHECK(count_diff(z1, z2, m * I) == 0);
            }
        }
        rr_linear_release(&o);
        rr_linear_release(&nx);
        rr_linear_release(&up);
        rr_linear_release(&down);
    }
    free(wo); free(bo); free(wn); free(bn); free(wd); free(bd);
    free(x); free(y1); free(y2); free(z1); free(z2); free(ffn);
    rr_gemm_free(g);
}

TEST(linear_raw_matches_linear) {
    rr_gemm_t *g = NULL;
    CHECK(gemm_new(&g) == RERANK_OK);
    if (!g) return;
    enum { IN = 96, OUT = 80, MMAX = 300 };
    float *w = malloc(sizeof(float) * OUT * IN), *b = malloc(sizeof(float) * OUT), *x = malloc(sizeof(float) * MMAX * IN),
          *y1 = malloc(sizeof(float) * MMAX * OUT), *y2 = malloc(sizeof(float) * MMAX * OUT);
    for (int i = 0; i < OUT * IN; i++) w[i] = frand(-0.1f, 0.1f);
    for (int i = 0; i < OUT; i++) b[i] = frand(-0.5f, 0.5f);
    for (int i = 0; i < MMAX * IN; i++) x[i] = frand(-2, 2);
    const rr_kernels_t *k = rr_kernels();
    int ms[] = {1, 7, 300};
    for (int p = 0; p < 3; p++) {
        rr_linear_t L;
        rerank_precision_t prec = (rerank_precision_t)p;
        CHECK(rr_linear_init(g, &L, w, b, OUT, IN, prec) == RERANK_OK);
        for (size_t t = 0; t < sizeof ms / sizeof ms[0]; t++) {
            int m = ms[t];
            rr_raw_out_t raw;
            CHECK(rr_linear(g, &L, x, m, RR_EPI_NONE, y1) == RERANK_OK);
            CHECK(rr_linear_raw(g, &L, x, m, y2, &raw) == RERANK_OK);
            CHECK_MSG((raw.scale != NULL) == (L.prec == RERANK_PRECISION_INT8), "%s: raw output reported %s",
                      rerank_precision_str(prec), raw.scale ? "unfinished" : "finished");
            for (int r = 0; raw.scale && r < m; r++)
                k->dequant(y2 + r * OUT, y2 + r * OUT, raw.wscale, raw.wzero, (float)raw.zero[r], raw.scale[r], raw.b, OUT, 0);
            int diff = 0;
            for (int i = 0; i < m * OUT; i++) diff += memcmp(&y1[i], &y2[i], sizeof(float)) != 0;
            CHECK_MSG(diff == 0, "%s m=%d: %d of %d outputs differ", rerank_precision_str(prec), m, diff, m * OUT);
        }
        rr_linear_release(&L);
    }
    free(w); free(b); free(x); free(y1); free(y2);
    rr_gemm_free(g);
}

/* The blocked layout (a primitive per M) against the plain one (one
 * run-time-M primitive) for every precision and epilogue over M values
 * around the kernels' blockings: int8 bit for bit (integer sums, exact in
 * f32 at K = 256, then the same epilogue), fp32/bf16 to rounding. On a CPU
 * where oneDNN wants plain weights both contexts are plain: the test then
 * checks that and compares plain with plain. */
TEST(blocked_matches_plain) {
    enum { K = 256, N = 96, MMAX = 131 };
    rr_gemm_t *gb = NULL, *gp = NULL;
    CHECK(gemm_new(&gb) == RERANK_OK && rr_gemm_new(&gp) == RERANK_OK);
    if (!gb || !gp) { rr_gemm_free(gb); rr_gemm_free(gp); return; }
    rr_gemm_set_plain(gp, 1);
    layer_case_t lc = make_case(MMAX, K, N, 0.05f);
    const float *x = lc.x, *w = lc.w, *b = lc.b, *y0 = lc.y0;
    float *y1 = malloc(sizeof(float) * MMAX * N), *y2 = malloc(sizeof(float) * MMAX * N);
    const int ms[] = {1, 3, 16, 17, 63, 64, 65, 100, 128, 131};
    int blocked_seen = 0;
    for (int p = 0; p < 3; p++) {
        rr_linear_t Lb, Lp;
        rerank_precision_t prec = (rerank_precision_t)p;
        CHECK(rr_linear_init(gb, &Lb, w, b, N, K, prec) == RERANK_OK);
        CHECK(rr_linear_init(gp, &Lp, w, b, N, K, prec) == RERANK_OK);
        int bp = 1, bb = 0;
        CHECK(rr_gemm_layout_blocked(gp, N, K, Lp.prec, &bp) == RERANK_OK && !bp);
        CHECK(rr_gemm_layout_blocked(gb, N, K, Lb.prec, &bb) == RERANK_OK);
        blocked_seen |= bb;
        for (int e = 0; e < 3; e++)
            for (size_t t = 0; t < sizeof ms / sizeof ms[0]; t++) {
                const int m = ms[t];
                memcpy(y1, y0, sizeof(float) * m * N);
                memcpy(y2, y0, sizeof(float) * m * N);
                CHECK(rr_linear(gb, &Lb, x, m, (rr_epilogue_t)e, y1) == RERANK_OK);
                CHECK(rr_linear(gp, &Lp, x, m, (rr_epilogue_t)e, y2) == RERANK_OK);
                double worst = 0, scale = 1e-30;
                for (int i = 0; i < m * N; i++) {
                    worst = fmax(worst, fabs((double)y1[i] - y2[i]));
                    scale = fmax(scale, fabs((double)y2[i]));
                }
                const double tol = prec == RERANK_PRECISION_INT8 ? 0 : prec == RERANK_PRECISION_BF16 ? 1e-5 : 1e-6;
                CHECK_MSG(worst / scale <= tol, "%s epi %d m=%d: blocked vs plain rel diff %g",
                          rerank_precision_str(prec), e, m, worst / scale);
            }
        rr_linear_release(&Lb);
        rr_linear_release(&Lp);
    }
    printf("  weight layout here: %s\n", blocked_seen ? "blocked (oneDNN brgemm)" : "plain");
    free_case(&lc);
    free(y1); free(y2);
    rr_gemm_free(gb);
    rr_gemm_free(gp);
}

/* More distinct M values than the primitive table holds: the least recently
 * used primitives go and come back, results stay right (against the plain
 * layout), and a blocked context makes one primitive per new M. */
TEST(primitive_table_bounded) {
    enum { K = 32, N = 16, MMAX = RR_GEMM_MAX_PRIMS + 40 };
    rr_gemm_t *gb = NULL, *gp = NULL;
    CHECK(rr_gemm_new(&gb) == RERANK_OK && rr_gemm_new(&gp) == RERANK_OK);
    if (!gb || !gp) { rr_gemm_free(gb); rr_gemm_free(gp); return; }
    rr_gemm_set_plain(gp, 1);
    float *x = malloc(sizeof(float) * MMAX * K), *w = malloc(sizeof(float) * N * K), *b = malloc(sizeof(float) * N);
    float *y1 = malloc(sizeof(float) * MMAX * N), *y2 = malloc(sizeof(float) * MMAX * N);
    for (int i = 0; i < MMAX * K; i++) x[i] = frand(-2, 2);
    for (int i = 0; i < N * K; i++) w[i] = frand(-0.5f, 0.5f);
    for (int i = 0; i < N; i++) b[i] = frand(-0.5f, 0.5f);
    rr_linear_t Lb, Lp;
    CHECK(rr_linear_init(gb, &Lb, w, b, N, K, RERANK_PRECISION_FP32) == RERANK_OK);
    CHECK(rr_linear_init(gp, &Lp, w, b, N, K, RERANK_PRECISION_FP32) == RERANK_OK);
    int blocked = 0;
    CHECK(rr_gemm_layout_blocked(gb, N, K, RERANK_PRECISION_FP32, &blocked) == RERANK_OK);
    const int64_t c0 = rr_gemm_primitives_created(gb);
    int bad = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int m = 1; m <= MMAX; m++) {
            if (rr_linear(gb, &Lb, x, m, RR_EPI_NONE, y1) || rr_linear(gp, &Lp, x, m, RR_EPI_NONE, y2)) { bad++; continue; }
            for (int i = 0; i < m * N; i++)
                if (fabsf(y1[i] - y2[i]) > 1e-5f * (1 + fabsf(y2[i]))) { bad++; break; }
        }
    CHECK_MSG(bad == 0, "%d of %d calls wrong", bad, 2 * MMAX);
    const int64_t made = rr_gemm_primitives_created(gb) - c0;
    /* blocked: every M once in pass 1, all again in pass 2 (the first ones
     * were evicted, and evicting in order keeps evicting the next needed) */
    if (blocked) CHECK_MSG(made == 2 * MMAX, "blocked: %lld primitives made for 2 x %d M values", (long long)made, MMAX);
    else CHECK_MSG(made <= 1, "plain: %lld primitives made", (long long)made);
    rr_linear_release(&Lb);
    rr_linear_release(&Lp);
    free(x); free(w); free(b); free(y1); free(y2);
    rr_gemm_free(gb);
    rr_gemm_free(gp);
}

TEST(quantize_rows) {
    float x[2][5] = {{0, 1, -2, 0.5f, 2}, {0, 0, 0, 0, 0}};
    int8_t q[2][5];
    float s[2];
    rr_quantize_rows_s8(&x[0][0], 2, 5, &q[0][0], s);
    CHECK_NEAR(s[0], 2.0 / 127, 1e-7);
    CHECK(q[0][0] == 0 && q[0][2] == -127 && q[0][4] == 127 && q[0][1] == 64 && q[0][3] == 32);
    CHECK(s[1] == 1.0f && q[1][0] == 0);
}

TEST(quantize_rows_u8) {
    /* one-sided, two-sided, constant and all-zero rows */
    float x[4][6] = {{0, 0.1f, 0.2f, 2.55f, 1.0f, 0.05f},
                     {-1.0f, 0.5f, 3.0f, -0.25f, 0, 2.0f},
                     {-0.5f, -0.5f, -0.5f, -0.5f, -0.5f, -0.5f},
                     {0, 0, 0, 0, 0, 0}};
    uint8_t q[4][6];
    float s[4];
    int32_t z[4];
    rr_quantize_rows_u8(&x[0][0], 4, 6, &q[0][0], s, z);
    CHECK_NEAR(s[0], 2.55 / 255, 1e-7);
    CHECK(z[0] == 0 && q[0][0] == 0 && q[0][3] == 255 && q[0][4] == 100);
    CHECK_NEAR(s[1], 4.0 / 255, 1e-7);
    CHECK(z[1] == 64 && q[1][4] == 64 && q[1][0] == 0 && q[1][2] == 255); /* 0.0 exact at z */
    CHECK(z[2] == 255 && q[2][0] == 0);                                     /* all-negative row */
    CHECK(s[3] == 1.0f && z[3] == 0 && q[3][5] == 0);
    for (int r = 0; r < 4; r++)
        for (int i = 0; i < 6; i++)
            CHECK_MSG(fabs(((double)q[r][i] - z[r]) * s[r] - x[r][i]) <= 0.5 * s[r] + 1e-6, "row %d col %d", r, i);
}

/* The int8 layers again with oneDNN held to AVX2 (DNNL_MAX_CPU_ISA, set
 * before oneDNN starts, so in a child process): on a VNNI machine this is
 * the 7-bit-weight path whose 16-bit intermediate sums must not saturate;
 * the child checks the weight range it picked and the results. */
TEST(int8_without_vnni) {
    if (getenv("RR_TEST_GEMM_CHILD")) return;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        setenv("DNNL_MAX_CPU_ISA", "AVX2", 1);
        setenv("RR_TEST_GEMM_CHILD", "1", 1);
        execl("/proc/self/exe", "test_gemm", (char *)NULL);
        _exit(127);
    }
    CHECK(pid > 0);
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child with DNNL_MAX_CPU_ISA=AVX2: status %d", status);
}

/* In the child: oneDNN at AVX2 has no VNNI, so weights must use +-63. */
static void child_checks(void) {
    const float qmax = rr_gemm_int8_weight_qmax();
    printf("  child: DNNL_MAX_CPU_ISA=%s, int8 weight range +-%.0f\n", getenv("DNNL_MAX_CPU_ISA"), qmax);
    if (qmax != 63.0f) {
        printf("FAIL: expected +-63 weights without VNNI\n");
        t_failed++;
    }
}

/* With the rows split (AMX shapes; forced here), a row's result does not
 * depend on how many rows share the call: rows of an m-row call equal, bit
 * for bit, the same rows of a 131-row call, in every precision and
 * epilogue. (Unsplit, oneDNN's kernel for a small M may sum in another
 * order: under DNNL_MAX_CPU_ISA=AVX2, 15 rows differ from 131 in the last
 * bits.) */
TEST(rows_independent_of_m) {
    enum { K = 256, N = 96, MMAX = 131 };
    rr_gemm_t *g = NULL;
    CHECK(gemm_new(&g) == RERANK_OK);
    if (!g) return;
    layer_case_t lc = make_case(MMAX, K, N, 0.05f);
    const float *x = lc.x, *w = lc.w, *b = lc.b, *y0 = lc.y0;
    float *ya = malloc(sizeof(float) * MMAX * N), *yb = malloc(sizeof(float) * MMAX * N);
    const int ms[] = {1, 15, 17, 64, 100};
    for (int p = 0; p < 3; p++) {
        rr_linear_t L;
        CHECK(rr_linear_init(g, &L, w, b, N, K, (rerank_precision_t)p) == RERANK_OK);
        for (int e = 0; e < 3; e++) {
            memcpy(ya, y0, sizeof(float) * MMAX * N);
            CHECK(rr_linear(g, &L, x, MMAX, (rr_epilogue_t)e, ya) == RERANK_OK);
            for (size_t t = 0; t < sizeof ms / sizeof ms[0]; t++) {
                const int m = ms[t];
                memcpy(yb, y0, sizeof(float) * m * N);
                CHECK(rr_linear(g, &L, x, m, (rr_epilogue_t)e, yb) == RERANK_OK);
                int diff = 0;
                for (int i = 0; i < m * N; i++) diff += memcmp(&ya[i], &yb[i], sizeof(float)) != 0;
                CHECK_MSG(diff == 0, "%s epi %d: %d of %d outputs of a %d-row call differ from the same rows of %d",
                          rerank_precision_str(L.prec), e, diff, m * N, m, MMAX);
            }
        }
        rr_linear_release(&L);
    }
    free_case(&lc);
    free(ya); free(yb);
    rr_gemm_free(g);
}

/* Every allocation of a fresh context's first calls fails in turn (the
 * padded copies of a 100-row call, the shared rows of a 131-row fused sum,
 * the converted inputs, ...): each failure is a clean RERANK_ERR_NOMEM, and
 * the first run that gets through gives the same rows as a context that
 * never failed. Leaks show under ASan (make asan). */
TEST(alloc_faults) {
    enum { K = 64, N = 48, M = 131 };
    layer_case_t lc = make_case(M, K, N, 0.1f);
    const float *x = lc.x, *w = lc.w, *b = lc.b, *y0 = lc.y0;
    float *ya = malloc(sizeof(float) * M * N), *yb = malloc(sizeof(float) * M * N);
    for (int p = 0; p < 3; p++) {
        const rerank_precision_t prec = (rerank_precision_t)p;
        /* the reference: a context that never failed, the same calls */
        rr_gemm_t *g = NULL;
        rr_linear_t L;
        CHECK(gemm_new(&g) == RERANK_OK && rr_linear_init(g, &L, w, b, N, K, prec) == RERANK_OK);
        memcpy(ya, y0, sizeof(float) * M * N);
        CHECK(rr_linear(g, &L, x, 100, RR_EPI_GELU, ya) == RERANK_OK && rr_linear(g, &L, x, M, RR_EPI_ACC, ya) == RERANK_OK);
        rr_linear_release(&L);
        rr_gemm_free(g);
        int failed = 0, done = 0;
        for (unsigned long n = 1; n < 200 && !done; n++) {
            g = NULL;
            memcpy(yb, y0, sizeof(float) * M * N);
            rr_alloc_fail_at(n);
            rerank_status_t st = gemm_new(&g);
            int inited = 0;
            if (!st && !(st = rr_linear_init(g, &L, w, b, N, K, prec))) {
                inited = 1;
                if (!(st = rr_linear(g, &L, x, 100, RR_EPI_GELU, yb))) st = rr_linear(g, &L, x, M, RR_EPI_ACC, yb);
            }
            const int injected = rr_alloc_failed();
            rr_alloc_fail_at(0);
            if (inited) rr_linear_release(&L);
            rr_gemm_free(g);
            if (st) {
                failed++;
                CHECK_MSG(injected && st == RERANK_ERR_NOMEM, "%s: allocation %lu: status %d (injected %d)",
                          rerank_precision_str(prec), n, (int)st, injected);
            } else {
                done = !injected;
            }
        }
        CHECK_MSG(done && failed > 0, "%s: %d failures, done %d", rerank_precision_str(prec), failed, done);
        int diff = 0;
        for (int i = 0; i < M * N; i++) diff += memcmp(&ya[i], &yb[i], sizeof(float)) != 0;
        CHECK_MSG(diff == 0, "%s: %d outputs differ after the faults", rerank_precision_str(prec), diff);
    }
    free_case(&lc);
    free(ya); free(yb);
}

TEST(ceiling) {
    double gf = 0;
    CHECK(rr_gemm_ceiling(RERANK_PRECISION_FP32, 256, 256, 256, 1, 1, &gf) == RERANK_OK);
    CHECK(gf > 0);
}

int main(void) {
    if (getenv("RR_TEST_GEMM_CHILD")) {
        child_checks();
        RUN(linear_all_precisions);
        RUN(ffn_matches_two_linears);
        TEST_MAIN_END();
    }
    printf("  int8 weight range here: +-%.0f\n", rr_gemm_int8_weight_qmax());
    RUN(linear_all_precisions);
    RUN(ffn_matches_two_linears);
    RUN(linear_raw_matches_linear);
    RUN(then_and_stage);
    RUN(blocked_matches_plain);
    RUN(primitive_table_bounded);
    RUN(quantize_rows);
    RUN(quantize_rows_u8);
    RUN(int8_without_vnni);
    RUN(alloc_faults);
    RUN(ceiling);
    /* again with every context splitting its rows as on AMX */
    g_row_blocks = 1;
    printf("  with rows split as on AMX (whole 64-row blocks, a padded tail):\n");
    RUN(linear_all_precisions);
    RUN(ffn_matches_two_linears);
    RUN(linear_raw_matches_linear);
    RUN(then_and_stage);
    RUN(blocked_matches_plain);
    RUN(rows_independent_of_m);
    RUN(alloc_faults);
    TEST_MAIN_END();
}
