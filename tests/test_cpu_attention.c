/* test_cpu_attention.c — the CPU backend's attention block (the QKV GEMM,
 * per-head norms, rotary positions, then rr_attend per pair and K/V head):
 *
 *  - fp32 against float64 attention computed from the same projections,
 *    within 1e-4 (an fp32 engine's agreement, ../shared/README.md), for
 *    bidirectional, causal, grouped-query, sliding-window, rotary and
 *    q/k-normed attention, pairs of several lengths (past one key tile) in
 *    several groups, and one long pair split over more threads than items;
 *  - bf16 and int8 bit for bit against rr_attend called directly on rows the
 *    test prepares itself (the projection at that precision, the same norm
 *    kernel and rotation): what the block adds (dequantization, copies,
 *    strides, head mapping) must change no bit;
 *  - the same bits whether a long pair's rows run as one item or in chunks;
 *  - bad head shapes refused. */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "cpu/cpu.h"
#include "kernels/attention.h"
#include "kernels/kernels.h"
#include "test.h"

static uint64_t g_rng = 0x9e3779b97f4a7c15ull;
static float frand(float lo, float hi) {
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return lo + (hi - lo) * (float)((double)(g_rng >> 11) * 0x1p-53);
}

/* One configuration of the block. */
typedef struct cfg {
    const char *name;
    int32_t heads, kv_heads, d, rope_dim; /* rope_dim 0: no rotary positions */
    int causal, norms;
    int32_t window;
} cfg_t;

/* The backend with one QKV layer, its inputs and outputs. */
typedef struct setup {
    rr_config_t cfg;
    rr_weights_t w;
    rr_dense_t qkv;
    float *W, *bias;                /* F32 copies: [(heads + 2 kv) d, H], [.] */
    float *qg, *kg;                 /* RMS norm gains [d]                 */
    rr_norm_t qn, kn;
    float *cos, *sin;               /* [positions, rope_dim / 2]          */
    rr_rope_t rope;
    rr_attn_t a;
    void *be;
} setup_t;

#define H 48
#define POSITIONS 2048

static int make_setup(setup_t *s, const cfg_t *c, rerank_precision_t prec) {
    memset(s, 0, sizeof *s);
    const int32_t out = (c->heads + 2 * c->kv_heads) * c->d;
    s->cfg = (rr_config_t){.hidden = H, .layers = 1, .heads = c->heads, .kv_heads = c->kv_heads, .head_dim = c->d,
                           .max_pos = POSITIONS, .norm_eps = 1e-6f};
    s->W = malloc(sizeof(float) * (size_t)out * H);
    s->bias = malloc(sizeof(float) * (size_t)out);
    float *w = rr_weights_alloc(&s->w, sizeof(float) * (size_t)out * H), *b = rr_weights_alloc(&s->w, sizeof(float) * (size_t)out);
    s->w.dense = rr_calloc(1, sizeof *s->w.dense);
    if (!s->W || !s->bias || !w || !b || !s->w.dense) return 0;
    for (int64_t i = 0; i < (int64_t)out * H; i++) w[i] = s->W[i] = frand(-0.25f, 0.25f);
    for (int32_t i = 0; i < out; i++) b[i] = s->bias[i] = frand(-0.3f, 0.3f);
    s->qkv = (rr_dense_t){.w = {.p = w, .dtype = RR_DT_F32, .rows = out, .cols = H},
                          .b = {.p = b, .dtype = RR_DT_F32, .rows = 1, .cols = out}, .id = 0};
    s->w.dense[0] = &s->qkv;
    s->w.n_dense = s->w.cap_dense = 1;
    s->qg = malloc(sizeof(float) * (size_t)c->d);
    s->kg = malloc(sizeof(float) * (size_t)c->d);
    for (int32_t i = 0; i < c->d; i++) {
        s->qg[i] = frand(0.5f, 1.5f);
        s->kg[i] = frand(0.5f, 1.5f);
    }
    s->qn = (rr_norm_t){.g = {.p = s->qg, .dtype = RR_DT_F32, .rows = 1, .cols = c->d}, .eps = 1e-6f, .kind = RR_NORM_RMS};
    s->kn = s->qn;
    s->kn.g.p = s->kg;
    if (c->rope_dim) {
        const int32_t half = c->rope_dim / 2;
        s->cos = malloc(sizeof(float) * (size_t)POSITIONS * half);
        s->sin = malloc(sizeof(float) * (size_t)POSITIONS * half);
        for (int32_t p = 0; p < POSITIONS; p++)
            for (int32_t i = 0; i < half; i++) {
                const double ang = p * pow(10000.0, -2.0 * i / c->rope_dim);
                s->cos[p * half + i] = (float)cos(ang);
                s->sin[p * half + i] = (float)sin(ang);
            }
        s->rope = (rr_rope_t){.cos = s->cos, .sin = s->sin, .dim = c->rope_dim, .positions = POSITIONS};
    }
    s->a = (rr_attn_t){.qkv = &s->qkv, .heads = c->heads, .kv_heads = c->kv_heads, .head_dim = c->d,
                       .q_norm = c->norms ? &s->qn : NULL, .k_norm = c->norms ? &s->kn : NULL,
                       .rope = c->rope_dim ? &s->rope : NULL, .causal = c->causal, .window = c->window,
                       .scale = 1.0f / sqrtf((float)c->d)};
    const rr_backend_opts_t o = {.precision = prec, .threads = 1};
    return rr_blocks_cpu.create(&s->cfg, &s->w, &o, &s->be) == RERANK_OK;
}

static void free_setup(setup_t *s) {
    rr_blocks_cpu.destroy(s->be);
    rr_weights_release(&s->w);
    free(s->W); free(s->bias); free(s->qg); free(s->kg); free(s->cos); free(s->sin);
}

/* A batch of pairs of lengths lens (longest first, as the engine packs
 * them), positions 2 + i (as RoBERTa numbers them), random inputs x. */
typedef struct batch {
    rr_batch_t b;
    rerank_pair_t *pairs;
    rr_span_t *sp;
    int32_t *pos;
    float *x;   /* [tokens, H] */
    float *ctx; /* [tokens, heads d]: the block's output */
} batch_t;

static void make_batch(batch_t *t, const int64_t *lens, size_t n, int32_t A) {
    memset(t, 0, sizeof *t);
    t->pairs = calloc(n, sizeof *t->pairs);
    t->sp = calloc(n, sizeof *t->sp);
    int64_t tokens = 0, max_n = 0;
    for (size_t p = 0; p < n; p++) {
        t->sp[p] = (rr_span_t){.start = tokens, .n = lens[p], .idx = p};
        t->pairs[p].n = (int32_t)lens[p];
        tokens += lens[p];
        max_n = lens[p] > max_n ? lens[p] : max_n;
    }
    t->pos = malloc(sizeof(int32_t) * (size_t)tokens);
    t->x = malloc(sizeof(float) * (size_t)(tokens * H));
    t->ctx = malloc(sizeof(float) * (size_t)(tokens * A));
    for (size_t p = 0; p < n; p++)
        for (int64_t i = 0; i < lens[p]; i++) t->pos[t->sp[p].start + i] = (int32_t)(2 + i);
    for (int64_t i = 0; i < tokens * H; i++) t->x[i] = frand(-1.5f, 1.5f);
    t->b = (rr_batch_t){.pairs = t->pairs, .n_pairs = n, .sp = t->sp, .pos = t->pos, .tokens = tokens, .max_n = max_n};
}

static void free_batch(batch_t *t) {
    free(t->pairs); free(t->sp); free(t->pos); free(t->x); free(t->ctx);
}

/* Run the block over the batch in groups [cuts[i], cuts[i + 1]) of pairs;
 * the outputs into t->ctx. */
static rerank_status_t run_block(setup_t *s, batch_t *t, const size_t *cuts, int n_cuts) {
    const int32_t A = s->cfg.heads * s->cfg.head_dim;
    int64_t group_max = 0;
    for (int i = 0; i + 1 < n_cuts; i++) {
        const rr_span_t *a = &t->sp[cuts[i]], *z = &t->sp[cuts[i + 1] - 1];
        group_max = z->start + z->n - a->start > group_max ? z->start + z->n - a->start : group_max;
    }
    rerank_status_t st = rr_blocks_cpu.begin(s->be, &t->b, group_max);
    if (st) return st;
    rr_cpu_t *c = s->be;
    memcpy(c->s.x.p, t->x, sizeof(float) * (size_t)(t->b.tokens * H));
    for (int i = 0; i + 1 < n_cuts && !st; i++) {
        rr_blocks_cpu.group(s->be, cuts[i], cuts[i + 1]);
        if ((st = rr_blocks_cpu.attention(s->be, &s->a, RR_ACT_X, RR_ACT_CTX))) break;
        memcpy(t->ctx + c->t0 * A, c->s.ctx.p, sizeof(float) * (size_t)(c->n * A));
    }
    rr_blocks_cpu.end(s->be);
    return st;
}

/* The projections [tokens, (heads + 2 kv) d] at the backend's precision
 * (the layer as prepared: rr_linear finishes int8 rows as attention does). */
static float *project(setup_t *s, const batch_t *t) {
    rr_cpu_t *c = s->be;
    const int64_t out = s->qkv.w.rows;
    float *y = malloc(sizeof(float) * (size_t)(t->b.tokens * out));
    if (rr_linear(c->gemm, &c->lin[0], t->x, t->b.tokens, RR_EPI_NONE, y)) {
        free(y);
        return NULL;
    }
    return y;
}

/* Float64 attention of pair p from the projections y; max |ctx - ref|. */
static double ref_pair(const setup_t *s, const batch_t *t, const float *y, size_t p) {
    const rr_attn_t *a = &s->a;
    const int64_t d = a->head_dim, n = t->sp[p].n, t0 = t->sp[p].start, g = a->heads / a->kv_heads;
    const int64_t ld = (a->heads + 2 * a->kv_heads) * d, A = a->heads * d;
    double *q = malloc(sizeof(double) * (size_t)(n * d)), *k = malloc(sizeof(double) * (size_t)(n * d));
    double *w = malloc(sizeof(double) * (size_t)n), worst = 0;
    for (int64_t h = 0; h < a->heads; h++) {
        const int64_t kvh = h / g;
        /* q and k of this head: norm, then rotary positions, in float64 */
        for (int pass = 0; pass < 2; pass++) {
            double *dst = pass ? k : q;
            const int64_t col = pass ? (a->heads + kvh) * d : h * d;
            const rr_norm_t *nrm = pass ? a->k_norm : a->q_norm;
            for (int64_t i = 0; i < n; i++) {
                double *r = dst + i * d;
                for (int64_t c = 0; c < d; c++) r[c] = y[(t0 + i) * ld + col + c];
                if (nrm) {
                    double ss = 0;
                    for (int64_t c = 0; c < d; c++) ss += r[c] * r[c];
                    const double inv = 1.0 / sqrt(ss / (double)d + nrm->eps);
                    for (int64_t c = 0; c < d; c++) r[c] *= inv * rr_f32(&nrm->g)[c];
                }
                if (a->rope) {
                    const int64_t half = a->rope->dim / 2, ps = t->pos[t0 + i];
                    for (int64_t c = 0; c < half; c++) {
                        const double cs = a->rope->cos[ps * half + c], sn = a->rope->sin[ps * half + c];
                        const double x1 = r[c], x2 = r[c + half];
                        r[c] = x1 * cs - x2 * sn;
                        r[c + half] = x2 * cs + x1 * sn;
                    }
                }
            }
        }
        const int64_t vc = (a->heads + a->kv_heads + kvh) * d;
        for (int64_t i = 0; i < n; i++) {
            int64_t lo = 0, hi = n;
            if (a->window > 0) {
                lo = i - a->window > 0 ? i - a->window : 0;
                hi = i + a->window + 1 < n ? i + a->window + 1 : n;
            }
            if (a->causal) hi = i + 1 < hi ? i + 1 : hi;
            double mx = -INFINITY, sum = 0;
            for (int64_t j = lo; j < hi; j++) {
                double dot = 0;
                for (int64_t c = 0; c < d; c++) dot += q[i * d + c] * k[j * d + c];
                w[j] = dot * a->scale;
                mx = w[j] > mx ? w[j] : mx;
            }
            for (int64_t j = lo; j < hi; j++) sum += (w[j] = exp(w[j] - mx));
            for (int64_t c = 0; c < d; c++) {
                double o = 0;
                for (int64_t j = lo; j < hi; j++) o += w[j] * y[(t0 + j) * ld + vc + c];
                o = hi > lo ? o / sum : 0.0;
                worst = fmax(worst, fabs(o - t->ctx[(t0 + i) * A + h * d + c]));
            }
        }
    }
    free(q); free(k); free(w);
    return worst;
}

static const cfg_t k_cfgs[] = {
    {"bidirectional", 4, 4, 64, 0, 0, 0, 0},
    {"causal gqa rope norms", 4, 2, 64, 64, 1, 1, 0},
    {"window rope", 4, 4, 32, 32, 0, 0, 40},
    {"causal window gqa partial-rope", 6, 2, 48, 32, 1, 0, 100},
    {"gqa 4:1 norms", 8, 2, 32, 0, 0, 1, 0},
};

/* fp32: every configuration against float64, pairs in two groups, with 3
 * threads (an odd split), then a single long pair (its rows split in
 * chunks over the threads). */
TEST(fp32_against_float64) {
    const int64_t lens[] = {300, 257, 130, 64, 17, 1};
    const size_t cuts[] = {0, 2, 6};
    const int64_t long_len[] = {700};
    const size_t long_cuts[] = {0, 1};
    omp_set_num_threads(3);
    for (size_t ci = 0; ci < sizeof k_cfgs / sizeof k_cfgs[0]; ci++) {
        const cfg_t *c = &k_cfgs[ci];
        setup_t s;
        CHECK_MSG(make_setup(&s, c, RERANK_PRECISION_FP32), "%s: setup: %s", c->name, rerank_last_error());
        for (int which = 0; which < 2; which++) {
            batch_t t;
            if (which == 0) make_batch(&t, lens, 6, c->heads * c->d);
            else make_batch(&t, long_len, 1, c->heads * c->d);
            rerank_status_t st = which ? run_block(&s, &t, long_cuts, 2) : run_block(&s, &t, cuts, 3);
            CHECK_MSG(st == RERANK_OK, "%s: %s", c->name, rerank_last_error());
            float *y = project(&s, &t);
            CHECK(y != NULL);
            double worst = 0;
            for (size_t p = 0; y && p < t.b.n_pairs; p++) worst = fmax(worst, ref_pair(&s, &t, y, p));
            printf("  %-32s %s fp32: max |ctx - float64| = %.3g\n", c->name, which ? "one 700-token pair" : "6 pairs, 2 groups", worst);
            CHECK_MSG(worst <= 1e-4, "%s: %g", c->name, worst);
            free(y);
            free_batch(&t);
        }
        free_setup(&s);
    }
    omp_set_num_threads(omp_get_num_procs());
}

/* Rows of head col.. [n, d] from y (stride ld), normed and rotated as the
 * block does it (the same kernel, the same float expression). */
static void prep_rows(const setup_t *s, const float *y, int64_t ld, int64_t t0, int64_t n, int64_t col,
                      const rr_norm_t *nrm, const int32_t *pos, float *dst) {
    const int64_t d = s->a.head_dim;
    const rr_kernels_t *k = rr_kernels();
    for (int64_t i = 0; i < n; i++) {
        float *row = dst + i * d;
        memcpy(row, y + (t0 + i) * ld + col, sizeof(float) * (size_t)d);
        if (nrm) k->rms_norm(row, rr_f32(&nrm->g), d, nrm->eps);
        if (!s->a.rope) continue;
        const int64_t half = s->a.rope->dim / 2;
        const float *cs = s->a.rope->cos + (int64_t)pos[i] * half, *sn = s->a.rope->sin + (int64_t)pos[i] * half;
        for (int64_t c = 0; c < half; c++) {
            const float x1 = row[c], x2 = row[c + half];
            row[c] = x1 * cs[c] - x2 * sn[c];
            row[c + half] = x2 * cs[c] + x1 * sn[c];
        }
    }
}

/* Count of outputs of pair p that differ from rr_attend on rows the test
 * prepared (-1 if rr_attend refused). */
static int64_t direct_pair(const setup_t *s, const batch_t *t, const float *y, size_t p, rerank_precision_t mode) {
    const rr_attn_t *a = &s->a;
    const int64_t d = a->head_dim, n = t->sp[p].n, t0 = t->sp[p].start, g = a->heads / a->kv_heads;
    const int64_t ld = (a->heads + 2 * a->kv_heads) * d, A = a->heads * d;
    float *q = malloc(sizeof(float) * (size_t)(g * n * d)), *k = malloc(sizeof(float) * (size_t)(n * d));
    float *v = malloc(sizeof(float) * (size_t)(n * d)), *o = malloc(sizeof(float) * (size_t)(g * n * d));
    const size_t bytes = rr_attn_scratch_size(n, d, mode);
    void *scratch = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
    int64_t diff = 0;
    for (int64_t kvh = 0; kvh < a->kv_heads && diff >= 0; kvh++) {
        for (int64_t h = 0; h < g; h++)
            prep_rows(s, y, ld, t0, n, (kvh * g + h) * d, a->q_norm, t->pos + t0, q + h * n * d);
        prep_rows(s, y, ld, t0, n, (a->heads + kvh) * d, a->k_norm, t->pos + t0, k);
        for (int64_t j = 0; j < n; j++)
            memcpy(v + j * d, y + (t0 + j) * ld + (a->heads + a->kv_heads + kvh) * d, sizeof(float) * (size_t)d);
        const rr_attn_args_t arg = {.q = q, .ldq = d, .k = k, .v = v, .ldk = d, .ldv = d, .o = o, .ldo = d,
                                    .nq = n, .nk = n, .d = d, .g = g, .scale = a->scale, .causal = a->causal,
                                    .window = a->window, .mode = mode, .scratch = scratch, .scratch_bytes = bytes};
        if (rr_attend(&arg)) {
            diff = -1;
            break;
        }
        for (int64_t h = 0; h < g; h++)
            for (int64_t i = 0; i < n; i++)
                diff += memcmp(o + (h * n + i) * d, t->ctx + (t0 + i) * A + (kvh * g + h) * d, sizeof(float) * (size_t)d) != 0;
    }
    free(q); free(k); free(v); free(o); free(scratch);
    return diff;
}

/* bf16 and int8: the block equals rr_attend on the same rows, bit for bit
 * (2 threads; enough items that no pair is split). Where oneDNN has no
 * matmul at that precision (bf16 without AVX-512), the layer computes in
 * fp32, and so does its attention: that fallback must be the GEMM's own
 * answer, and fp32 is fp32_against_float64's to check. */
TEST(bf16_int8_equal_rr_attend) {
    const int64_t lens[] = {290, 200, 33, 5};
    const size_t cuts[] = {0, 1, 4};
    const rerank_precision_t modes[] = {RERANK_PRECISION_BF16, RERANK_PRECISION_INT8};
    omp_set_num_threads(2);
    for (int m = 0; m < 2; m++)
        for (size_t ci = 0; ci < sizeof k_cfgs / sizeof k_cfgs[0]; ci++) {
            const cfg_t *c = &k_cfgs[ci];
            setup_t s;
            CHECK_MSG(make_setup(&s, c, modes[m]), "%s: setup: %s", c->name, rerank_last_error());
            rr_cpu_t *cpu = s.be;
            if (cpu && cpu->prec != modes[m]) {
                rerank_precision_t got = modes[m];
                CHECK(rr_linear_precision(cpu->gemm, s.qkv.w.rows, H, modes[m], &got) == RERANK_OK &&
                      got == RERANK_PRECISION_FP32 && cpu->prec == RERANK_PRECISION_FP32);
                printf("  %-32s %s: no %s matmul on this CPU, computes in fp32 (fp32_against_float64 checks that)\n",
                       c->name, rerank_precision_str(modes[m]), rerank_precision_str(modes[m]));
                free_setup(&s);
                continue;
            }
            batch_t t;
            make_batch(&t, lens, 4, c->heads * c->d);
            CHECK_MSG(run_block(&s, &t, cuts, 3) == RERANK_OK, "%s: %s", c->name, rerank_last_error());
            float *y = project(&s, &t);
            CHECK(y != NULL);
            int64_t diff = 0;
            for (size_t p = 0; y && p < t.b.n_pairs && diff >= 0; p++) {
                const int64_t dp = direct_pair(&s, &t, y, p, cpu->prec);
                diff = dp < 0 ? dp : diff + dp;
            }
            printf("  %-32s %s (compute %s): %lld rows differ from rr_attend\n", c->name,
                   rerank_precision_str(modes[m]), rerank_precision_str(cpu->prec), (long long)diff);
            CHECK_MSG(diff == 0, "%s %s: %lld", c->name, rerank_precision_str(modes[m]), (long long)diff);
            free(y);
            free_batch(&t);
            free_setup(&s);
        }
    omp_set_num_threads(omp_get_num_procs());
}

/* A pair's output does not depend on how its rows were split over threads
 * (one thread: one item per K/V head; three: the rows in chunks), bit for
 * bit, in every mode: a score must not depend on the batch around it. */
TEST(split_rows_same_bits) {
    const int64_t lens[] = {700};
    const size_t cuts[] = {0, 1};
    const rerank_precision_t modes[] = {RERANK_PRECISION_FP32, RERANK_PRECISION_BF16, RERANK_PRECISION_INT8};
    const cfg_t *c = &k_cfgs[1]; /* causal gqa rope norms: 2 K/V heads */
    for (int m = 0; m < 3; m++) {
        setup_t s;
        CHECK(make_setup(&s, c, modes[m]));
        batch_t t;
        make_batch(&t, lens, 1, c->heads * c->d);
        const size_t bytes = sizeof(float) * (size_t)(t.b.tokens * c->heads * c->d);
        float *one = malloc(bytes);
        omp_set_num_threads(1);
        CHECK(run_block(&s, &t, cuts, 2) == RERANK_OK);
        memcpy(one, t.ctx, bytes);
        omp_set_num_threads(3);
        CHECK(run_block(&s, &t, cuts, 2) == RERANK_OK);
        CHECK_MSG(memcmp(one, t.ctx, bytes) == 0, "%s: 1 and 3 threads differ", rerank_precision_str(modes[m]));
        free(one);
        free_batch(&t);
        free_setup(&s);
    }
    omp_set_num_threads(omp_get_num_procs());
}

/* Heads that do not divide into K/V heads, or a head size past the kernel's
 * limit: an error, no output. */
TEST(bad_heads_refused) {
    setup_t s;
    const cfg_t c = {"bad", 4, 4, 32, 0, 0, 0, 0};
    CHECK(make_setup(&s, &c, RERANK_PRECISION_FP32));
    batch_t t;
    const int64_t lens[] = {10};
    const size_t cuts[] = {0, 1};
    make_batch(&t, lens, 1, 4 * 32);
    s.a.kv_heads = 3;
    CHECK(run_block(&s, &t, cuts, 2) == RERANK_ERR_UNSUPPORTED);
    s.a.kv_heads = 4;
    s.a.head_dim = RR_ATTN_MAX_D + 1;
    CHECK(run_block(&s, &t, cuts, 2) == RERANK_ERR_UNSUPPORTED);
    free_batch(&t);
    free_setup(&s);
}

int main(void) {
    RUN(fp32_against_float64);
    RUN(bf16_int8_equal_rr_attend);
    RUN(split_rows_same_bits);
    RUN(bad_heads_refused);
    TEST_MAIN_END();
}
