/* test_cuda.c — the CUDA backend (src/cuda): golden scores of the fixture
 * models in fp16, bf16 and fp8, batched vs one pair at a time, graphs vs
 * eager launches, chunked and memory-capped batches, the attention kernels
 * (every variant) and the row kernels against float64 references, the FP8
 * GEMM, timing lines (attention TFLOP/s per length next to the GEMM rate),
 * input validation, and a device fault (last: it leaves the device unusable).
 *
 * Every model runs through the engine (rerank_model_load with device
 * "cuda:0", rerank_score_tokens): the family's blocks on the CUDA backend
 * (rr_blocks_cuda); the backend's state (model->be) answers the queries.
 *
 * Without a usable device (no GPU, or a build without CUDA) it prints a SKIP
 * line and checks only that the backend reports "no device" consistently. */
#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/clock.h"
#include "cuda/cuda_backend.h"
#include "engine/engine.h"
#include "eval/metrics.h"
#include "golden.h"
#include "test.h"

#ifdef RR_WITH_CUDA
#define BUILT "with"
#else
#define BUILT "without"
#endif

/* A fixture model on cuda:0 at `prec`, shared prefixes on or off; *cuda: its backend state. */
static rerank_model_t *load_fixture_shared(const char *name, rerank_precision_t prec, rerank_shared_prefix_t sp,
                                           rr_cuda_t **cuda) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/fixtures/models/%s", t_shared(), name);
    rerank_model_options_t o = rerank_model_options_default();
    o.device = "cuda:0";
    o.precision = prec;
    o.shared_prefix = sp;
    rerank_model_t *m = NULL;
    *cuda = NULL;
    /* a Qwen3 causal LM's head needs its tokenizer ("yes" and "no") */
    const unsigned flags = strncmp(name, "tiny-qwen3", 10) ? RR_LOAD_NO_TOKENIZER : 0;
    if (rr_model_load(dir, &o, flags, &m) != RERANK_OK) {
        fprintf(stderr, "  load %s on cuda:0: %s\n", name, rerank_last_error());
        return NULL;
    }
    *cuda = (rr_cuda_t *)m->be;
    return m;
}
static rerank_model_t *load_fixture(const char *name, rerank_precision_t prec, rr_cuda_t **cuda) {
    return load_fixture_shared(name, prec, RERANK_SHARED_PREFIX_ON, cuda);
}

/* Scores of n pairs through the first `layers` layers (0: all). */
static rerank_status_t score(rerank_model_t *m, const rerank_pair_t *pairs, size_t n, int32_t layers, float *out) {
    rerank_score_options_t o = rerank_score_options_default();
    o.layers = layers;
    return rerank_score_tokens(m, pairs, n, &o, out);
}

/* Every record scored one at a time, all at once and in uneven chunks; each
 * within `tol` of the reference under `key`, batched within 1e-3 of single. */
static void check_golden(const char *file, const char *model, const char *key, int32_t layers,
                         rerank_precision_t prec, double tol) {
    golden_t *g = golden_load(file);
    CHECK(g != NULL && g->n == (strstr(file, "qwen3") ? 311 : strstr(file, "gte") || strstr(file, "modernbert") ? 300 : 409));
    rr_cuda_t *cu = NULL;
    rerank_model_t *m = g ? load_fixture(model, prec, &cu) : NULL;
    CHECK(m != NULL && cu != NULL);
    if (!m || !cu) {
        golden_free(g);
        return;
    }
    float *single = calloc(g->n, sizeof *single), *batch = calloc(g->n, sizeof *batch),
          *chunked = calloc(g->n, sizeof *chunked);
    double max_ref = 0, max_batch = 0;
    for (size_t i = 0; i < g->n; i++) {
        rerank_status_t st = score(m, &g->pairs[i], 1, layers, &single[i]);
        CHECK_MSG(st == RERANK_OK, "record %zu: %s", i, rerank_last_error());
        double ref = golden_score(g, i, key);
        double d = fabs(single[i] - ref);
        if (!(d <= max_ref)) max_ref = d;
        CHECK_MSG(d <= tol, "%s record %zu: %.7f vs reference %.7f", key, i, single[i], ref);
    }
    rerank_status_t st = score(m, g->pairs, g->n, layers, batch);
    CHECK_MSG(st == RERANK_OK, "%s", rerank_last_error());
    /* chunks of 1, 2, 3, ... pairs: many batch shapes, workspace reuse */
    for (size_t a = 0, k = 1; a < g->n && st == RERANK_OK; a += k, k++) {
        size_t cnt = g->n - a < k ? g->n - a : k;
        st = score(m, g->pairs + a, cnt, layers, chunked + a);
        CHECK_MSG(st == RERANK_OK, "%s", rerank_last_error());
    }
    for (size_t i = 0; i < g->n; i++) {
        double d = fabs(single[i] - batch[i]), d2 = fabs(single[i] - chunked[i]);
        if (d2 > d) d = d2;
        if (!(d <= max_batch)) max_batch = d;
        CHECK_MSG(d <= 1e-3, "%s record %zu: batched %.7f / chunked %.7f vs single %.7f", key, i, batch[i],
                  chunked[i], single[i]);
    }
    printf("  %-20s %s: max |score - reference| = %.3g, max |batched - single| = %.3g (%s)\n", key,
           rerank_precision_str(prec), max_ref, max_batch, rr_cuda_device_name(cu));
    rerank_model_free(m);
    free(single);
    free(batch);
    free(chunked);
    golden_free(g);
}

TEST(golden_xlmr) { check_golden("pairs-xlmr.jsonl", "tiny-xlmr", "tiny-xlmr", 0, RERANK_PRECISION_FP32, 2e-3); }
TEST(golden_xlmr_layers1) {
    check_golden("pairs-xlmr.jsonl", "tiny-xlmr", "tiny-xlmr@layers=1", 1, RERANK_PRECISION_FP32, 2e-3);
}
TEST(golden_xlmr_f16_checkpoint) {
    check_golden("pairs-xlmr.jsonl", "tiny-xlmr-f16", "tiny-xlmr-f16", 0, RERANK_PRECISION_FP32, 2e-3);
}
TEST(golden_xlmr_bf16_checkpoint) {
    check_golden("pairs-xlmr.jsonl", "tiny-xlmr-bf16", "tiny-xlmr-bf16", 0, RERANK_PRECISION_FP32, 2e-3);
}
TEST(golden_bert) { check_golden("pairs-bert.jsonl", "tiny-bert", "tiny-bert", 0, RERANK_PRECISION_FP32, 2e-3); }
/* Qwen3-Reranker on the GPU (rotary positions, q / k norms, causal GQA, SwiGLU, the yes / no head): the
 * causal LM, its first layer only, the untied and bf16 checkpoints, the seq-cls conversion. */
/* Whether a fixture model's weights are here: a GPU bundle carries only the models pack.sh was given
 * (FIXTURES); the variants below are checked where they travelled, and a line says which did not. */
static int fixture_here(const char *name) {
    char path[600];
    snprintf(path, sizeof path, "%s/fixtures/models/%s/model.safetensors", t_shared(), name);
    FILE *f = fopen(path, "rb");
    if (f) fclose(f);
    else printf("  SKIP %s: its weights are not in this bundle (pack.sh FIXTURES)\n", name);
    return f != NULL;
}

/* fp16 within 5e-3 for Qwen3 and GTE (2e-3 for the others): test_cuda_host measured their fp16 errors at
 * up to 3.2e-3 / 4.1e-3 on 24 records, their means 1/5-1/8 of their bf16 ones, as rounding makes them. */
TEST(golden_qwen3) {
    check_golden("pairs-qwen3.jsonl", "tiny-qwen3", "tiny-qwen3", 0, RERANK_PRECISION_FP32, 5e-3);
    check_golden("pairs-qwen3.jsonl", "tiny-qwen3", "tiny-qwen3@layers=1", 1, RERANK_PRECISION_FP32, 5e-3);
    check_golden("pairs-qwen3.jsonl", "tiny-qwen3", "tiny-qwen3", 0, RERANK_PRECISION_BF16, 5e-2);
    const char *variants[] = {"tiny-qwen3-untied", "tiny-qwen3-bf16", "tiny-qwen3-seqcls"};
    for (size_t i = 0; i < 3; i++)
        if (fixture_here(variants[i]))
            check_golden("pairs-qwen3.jsonl", variants[i], variants[i], 0, RERANK_PRECISION_FP32, 5e-3);
}
/* GTE on the GPU (rotary positions from NTK-scaled tables, the [up | gate] FFN). */
TEST(golden_gte) {
    check_golden("pairs-gte.jsonl", "tiny-gte", "tiny-gte", 0, RERANK_PRECISION_FP32, 5e-3);
    check_golden("pairs-gte.jsonl", "tiny-gte", "tiny-gte@layers=1", 1, RERANK_PRECISION_FP32, 5e-3);
}
/* ModernBERT on the GPU (global / local rotary tables, sliding windows, GeGLU, the mean-pooled dense head;
 * the tiny fixture's heads of 4 take the flash kernel's element-by-element loads). */
TEST(golden_modernbert) {
    check_golden("pairs-modernbert.jsonl", "tiny-modernbert", "tiny-modernbert", 0, RERANK_PRECISION_FP32, 2e-3);
    check_golden("pairs-modernbert.jsonl", "tiny-modernbert", "tiny-modernbert@layers=1", 1, RERANK_PRECISION_FP32, 2e-3);
    if (fixture_here("tiny-modernbert-cls"))
        check_golden("pairs-modernbert.jsonl", "tiny-modernbert-cls", "tiny-modernbert-cls", 0, RERANK_PRECISION_FP32, 2e-3);
}
/* bf16 compute: 8-bit mantissas, so a looser bound (the printed error is the
 * number to watch). */
TEST(golden_xlmr_bf16_compute) {
    check_golden("pairs-xlmr.jsonl", "tiny-xlmr", "tiny-xlmr", 0, RERANK_PRECISION_BF16, 5e-2);
}
/* "fp16" names what fp32 computes in on the GPU: the very same scores. */
TEST(fp16_is_fp32_on_gpu) {
    golden_t *g = golden_load("pairs-xlmr.jsonl");
    rr_cuda_t *a = NULL, *b = NULL;
    rerank_model_t *ma = g ? load_fixture("tiny-xlmr", RERANK_PRECISION_FP32, &a) : NULL;
    rerank_model_t *mb = g ? load_fixture("tiny-xlmr", RERANK_PRECISION_FP16, &b) : NULL;
    CHECK(ma && mb);
    if (ma && mb) {
        float *sa = calloc(g->n, sizeof *sa), *sb = calloc(g->n, sizeof *sb);
        CHECK(score(ma, g->pairs, g->n, 0, sa) == RERANK_OK);
        CHECK(score(mb, g->pairs, g->n, 0, sb) == RERANK_OK);
        CHECK(!memcmp(sa, sb, g->n * sizeof *sa));
        CHECK(!strcmp(rr_cuda_compute(b), "fp16"));
        free(sa);
        free(sb);
    }
    rerank_model_free(ma);
    rerank_model_free(mb);
    golden_free(g);
}

/* FP8 linear layers where the GPU has them (compute capability 8.9+), else a
 * clear "not supported by this GPU" error. Agreement with the float64
 * reference: max |error| and Kendall tau over all 409 pairs, per-channel and
 * per-tensor weight scales, printed. Issue #22's goal, tau >= 0.98, is out of
 * reach on this fixture for the format itself: its scores span a standard
 * deviation of 0.09 (median gap 5e-4), and test_cuda_host's run of this very
 * pass with E4M3 operands gives tau 0.748 on the 409 pairs with RERANK_TEST_FP8_ALL=1 (bf16 weights
 * alone, with exact arithmetic, give 0.983: README). So the check is that
 * order of agreement (>= 0.7), which a lowering mistake cannot reach; the
 * goal is for the full-size model (gpu-check.sh's agreement step). */
static void fp8_golden(const char *weights) {
    setenv("RERANK_CUDA_FP8_WEIGHTS", weights, 1);
    golden_t *g = golden_load("pairs-xlmr.jsonl");
    CHECK(g != NULL);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/fixtures/models/tiny-xlmr", t_shared());
    rerank_model_options_t o = rerank_model_options_default();
    o.device = "cuda:0";
    o.precision = RERANK_PRECISION_FP8;
    rerank_model_t *m = NULL;
    rerank_status_t st = g ? rr_model_load(dir, &o, RR_LOAD_NO_TOKENIZER, &m) : RERANK_ERR_INTERNAL;
    rr_cuda_t *cu = m ? (rr_cuda_t *)m->be : NULL;
    unsetenv("RERANK_CUDA_FP8_WEIGHTS");
    if (st == RERANK_ERR_UNSUPPORTED && strstr(rerank_last_error(), "not supported by this GPU")) {
        printf("  SKIP fp8 goldens: %s\n", rerank_last_error());
    } else {
        CHECK_MSG(st == RERANK_OK, "%s", rerank_last_error());
    }
    if (cu) {
        float *s = calloc(g->n, sizeof *s);
        double *x = calloc(g->n, sizeof *x), *y = calloc(g->n, sizeof *y);
        CHECK_MSG(score(m, g->pairs, g->n, 0, s) == RERANK_OK, "%s", rerank_last_error());
        double worst = 0, tau = -2;
        for (size_t i = 0; i < g->n; i++) {
            x[i] = s[i];
            y[i] = golden_score(g, i, "tiny-xlmr");
            if (!(fabs(x[i] - y[i]) <= worst)) worst = fabs(x[i] - y[i]);
        }
        CHECK(rr_kendall_tau_b(g->n, x, y, &tau) == 0);
        printf("  fp8 (%s weight scales) tiny-xlmr: max |score - reference| = %.3g, Kendall tau = %.4f (%s)\n", weights,
               worst, tau, rr_cuda_compute(cu));
        CHECK(!strcmp(rr_cuda_compute(cu), "fp8"));
        CHECK_MSG(tau >= 0.7, "fp8 Kendall tau %.4f below 0.7 (the host-run pass gives 0.748)", tau);
        free(s);
        free(x);
        free(y);
    }
    rerank_model_free(m);
    golden_free(g);
}
TEST(golden_xlmr_fp8) { fp8_golden("channel"); }
TEST(golden_xlmr_fp8_tensor_scales) { fp8_golden("tensor"); }

/* All 409 pairs through differently configured contexts (environment read at
 * create) agree with the default one within 1e-3: CUDA graphs off, chunks of
 * 512 tokens (several chunks per call, double-buffered input), a workspace
 * cap that forces the call to split, and the legacy / 8-warp attention. */
static void same_scores(const char *var, const char *value) {
    golden_t *g = golden_load("pairs-xlmr.jsonl");
    rr_cuda_t *a = NULL, *b = NULL;
    rerank_model_t *ma = g ? load_fixture("tiny-xlmr", RERANK_PRECISION_FP32, &a) : NULL;
    setenv(var, value, 1);
    rerank_model_t *mb = g ? load_fixture("tiny-xlmr", RERANK_PRECISION_FP32, &b) : NULL;
    unsetenv(var);
    CHECK(ma && mb);
    if (ma && mb) {
        float *sa = calloc(g->n, sizeof *sa), *sb = calloc(g->n, sizeof *sb);
        CHECK(score(ma, g->pairs, g->n, 0, sa) == RERANK_OK);
        CHECK_MSG(score(mb, g->pairs, g->n, 0, sb) == RERANK_OK, "%s=%s: %s", var, value, rerank_last_error());
        double worst = 0;
        for (size_t i = 0; i < g->n; i++)
            if (!(fabs(sa[i] - sb[i]) <= worst)) worst = fabs(sa[i] - sb[i]);
        printf("  %s=%s: max |difference| = %.3g\n", var, value, worst);
        CHECK_MSG(worst <= 1e-3, "%s=%s: %g", var, value, worst);
        free(sa);
        free(sb);
    }
    rerank_model_free(ma);
    rerank_model_free(mb);
    golden_free(g);
}
/* Shared prefixes on the GPU: tiny-qwen3's 311 pairs (one system prompt; queries with several documents)
 * with each shared prefix computed once, in one chunk and in chunks of 512 tokens (each carrying the
 * prefixes its pairs read), agree with every pair in full within 1e-3 (the same arithmetic row by row:
 * test_cuda_host finds them equal bit for bit; here cuBLASLt may pick other kernels for other row counts). */
TEST(shared_prefix) {
    golden_t *g = golden_load("pairs-qwen3.jsonl");
    rr_cuda_t *a = NULL, *b = NULL, *c = NULL;
    rerank_model_t *ma = g ? load_fixture_shared("tiny-qwen3", RERANK_PRECISION_FP32, RERANK_SHARED_PREFIX_OFF, &a) : NULL;
    rerank_model_t *mb = g ? load_fixture("tiny-qwen3", RERANK_PRECISION_FP32, &b) : NULL;
    setenv("RERANK_CUDA_CHUNK_TOKENS", "512", 1);
    rerank_model_t *mc = g ? load_fixture("tiny-qwen3", RERANK_PRECISION_FP32, &c) : NULL;
    unsetenv("RERANK_CUDA_CHUNK_TOKENS");
    CHECK(ma && mb && mc);
    if (ma && mb && mc) {
        CHECK(!ma->shared_prefix && mb->shared_prefix && mc->shared_prefix);
        float *sa = calloc(g->n, sizeof *sa), *sb = calloc(g->n, sizeof *sb), *sc = calloc(g->n, sizeof *sc);
        CHECK(score(ma, g->pairs, g->n, 0, sa) == RERANK_OK);
        CHECK_MSG(score(mb, g->pairs, g->n, 0, sb) == RERANK_OK, "%s", rerank_last_error());
        CHECK_MSG(score(mc, g->pairs, g->n, 0, sc) == RERANK_OK, "%s", rerank_last_error());
        double worst = 0;
        for (size_t i = 0; i < g->n; i++) {
            const double d = fmax(fabs(sa[i] - sb[i]), fabs(sa[i] - sc[i]));
            if (!(d <= worst)) worst = d;
        }
        printf("  shared prefixes: %.0f of %.0f tokens computed; max |shared - unshared| = %.3g (one chunk and chunks "
               "of 512)\n", mb->work.tokens_computed, mb->work.tokens_prompt, worst);
        CHECK(mb->work.tokens_computed < mb->work.tokens_prompt && ma->work.tokens_computed == ma->work.tokens_prompt);
        CHECK_MSG(worst <= 1e-3, "shared prefixes change a score by %g", worst);
        free(sa);
        free(sb);
        free(sc);
    }
    rerank_model_free(ma);
    rerank_model_free(mb);
    rerank_model_free(mc);
    golden_free(g);
}
/* Passes in flight: threads score their batches on one model at once, as the server's batch workers do
 * (each pass ends without waiting; its wait runs without the model lock while the next pass is packed and
 * queued on the same stream). Every batch must score exactly as it did alone, with more threads than the
 * context has tickets (RR_CU_TICKETS) so some wait for one; then batches per second one thread at a time
 * vs two at once (a figure, not a check). */
#define FLIGHT_BATCHES 12
#define FLIGHT_THREADS 6
#define FLIGHT_ROUNDS 8
typedef struct flight {
    rerank_model_t *m;
    const rerank_pair_t *pairs;
    size_t off[FLIGHT_BATCHES], n[FLIGHT_BATCHES];
    const float *ref;  /* every pair alone in its batch, one pass at a time */
    int seed, rounds;
    double worst;      /* largest |score - ref| this thread saw (0: equal) */
    int failed;
} flight_t;

static void *flight_main(void *arg) {
    flight_t *f = arg;
    float out[512];
    for (int r = 0; r < f->rounds; r++)
        for (int k = 0; k < FLIGHT_BATCHES; k++) {
            const int b = (k * 5 + f->seed + r) % FLIGHT_BATCHES; /* each thread its own order */
            if (score(f->m, f->pairs + f->off[b], f->n[b], 0, out) != RERANK_OK) {
                f->failed = 1;
                continue;
            }
            for (size_t i = 0; i < f->n[b]; i++) {
                const double d = fabs((double)out[i] - (double)f->ref[f->off[b] + i]);
                if (!(d <= f->worst)) f->worst = d;
            }
        }
    return NULL;
}

/* Seconds for `threads` threads to score every batch `rounds` times between them. */
static double flight_run(flight_t *f, int threads, int rounds, double *worst, int *failed) {
    pthread_t th[FLIGHT_THREADS];
    flight_t w[FLIGHT_THREADS];
    const double t0 = rr_now_s();
    for (int t = 0; t < threads; t++) {
        w[t] = *f;
        w[t].seed = t * 7;
        w[t].rounds = rounds;
        pthread_create(&th[t], NULL, flight_main, &w[t]);
    }
    *worst = 0;
    *failed = 0;
    for (int t = 0; t < threads; t++) {
        pthread_join(th[t], NULL);
        if (!(w[t].worst <= *worst)) *worst = w[t].worst;
        *failed |= w[t].failed;
    }
    return rr_now_s() - t0;
}

static void passes_in_flight_case(const char *file, const char *model, size_t n_expect) {
    golden_t *g = golden_load(file);
    rr_cuda_t *cu = NULL;
    rerank_model_t *m = g && g->n == n_expect ? load_fixture(model, RERANK_PRECISION_FP16, &cu) : NULL;
    CHECK(m != NULL);
    if (!m) {
        golden_free(g);
        return;
    }
    flight_t f = {.m = m, .pairs = g->pairs};
    float *ref = calloc(g->n, sizeof *ref);
    size_t at = 0;
    for (int b = 0; b < FLIGHT_BATCHES; b++) { /* batches of 1 .. 48 pairs, unequal, apart (294 pairs) */
        const size_t want = (size_t)(1 + (b * 13) % 48);
        CHECK(at + want <= g->n);
        if (at + want > g->n) break;
        f.off[b] = at;
        f.n[b] = want;
        CHECK(score(m, g->pairs + at, want, 0, ref + at) == RERANK_OK);
        at += want;
    }
    f.ref = ref;
    double worst = 0, w1, w2;
    int failed = 0, f1, f2;
    flight_run(&f, FLIGHT_THREADS, FLIGHT_ROUNDS, &worst, &failed);
    CHECK_MSG(!failed, "%s: a pass in flight failed: %s", model, rerank_last_error());
    CHECK_MSG(worst == 0, "%s: a batch scored with others in flight differs from alone by %g", model, worst);
    const double one = flight_run(&f, 1, 2 * FLIGHT_ROUNDS, &w1, &f1), two = flight_run(&f, 2, FLIGHT_ROUNDS, &w2, &f2);
    CHECK(!f1 && !f2 && w1 == 0 && w2 == 0);
    printf("  %s: %d threads x %d rounds of %d batches as alone; batches/s: %.0f one thread, %.0f two threads "
           "(%.2fx)\n", model, FLIGHT_THREADS, FLIGHT_ROUNDS, FLIGHT_BATCHES, 2 * FLIGHT_ROUNDS * FLIGHT_BATCHES / one,
           2 * FLIGHT_ROUNDS * FLIGHT_BATCHES / two, one / two);
    free(ref);
    rerank_model_free(m);
    golden_free(g);
}

TEST(passes_in_flight) {
    passes_in_flight_case("pairs-xlmr.jsonl", "tiny-xlmr", 409);
    passes_in_flight_case("pairs-qwen3.jsonl", "tiny-qwen3", 311); /* with shared prefixes */
}

TEST(graphs_off) { same_scores("RERANK_CUDA_GRAPHS", "0"); }
TEST(small_chunks) { same_scores("RERANK_CUDA_CHUNK_TOKENS", "512"); }
TEST(workspace_cap_splits) { same_scores("RERANK_CUDA_WORKSPACE_MB", "1"); }
TEST(legacy_attention) { same_scores("RERANK_CUDA_ATTN", "legacy"); }
TEST(flash8_attention) { same_scores("RERANK_CUDA_ATTN", "flash8"); }

/* A repeated small batch runs as one CUDA graph launch; memory is accounted. */
TEST(launches_and_memory) {
    golden_t *g = golden_load("pairs-xlmr.jsonl");
    rr_cuda_t *cu = NULL;
    rerank_model_t *m = g ? load_fixture("tiny-xlmr", RERANK_PRECISION_FP32, &cu) : NULL;
    CHECK(m != NULL);
    if (m) {
        float s[4];
        const size_t before = rr_cuda_memory_used(cu);
        CHECK(before > 0);
        CHECK(score(m, g->pairs, 4, 0, s) == RERANK_OK); /* captures */
        const long l0 = rr_cuda_launch_count(cu);
        CHECK(score(m, g->pairs, 4, 0, s) == RERANK_OK);
        const long per_call = rr_cuda_launch_count(cu) - l0;
        printf("  launches per forward of 4 pairs: %ld (graph); memory in use %.1f MB\n", per_call,
               rr_cuda_memory_used(cu) / 1048576.0);
        CHECK(per_call == 1);
        CHECK(rr_cuda_memory_used(cu) > before); /* + the batch workspace */
        CHECK(rr_cuda_healthy(cu) == 1);
    }
    rerank_model_free(m);
    golden_free(g);
}

/* The attention kernels against float64: every variant of the flash kernel
 * (bidirectional, causal, grouped-query, sliding window; fp16 and bf16; head
 * dims 8, 32, 64, 128) on lengths around every tile edge in one packed batch,
 * and the legacy kernels on bidirectional attention. */
TEST(attention_kernels) {
    const int32_t lens_long[] = {1, 7, 16, 63, 64, 65, 127, 128, 129, 257, 512, 2048};
    const int32_t lens[] = {1, 7, 16, 63, 64, 65, 127, 128, 129, 257, 512};
    const struct {
        const char *name;
        int heads, kv_heads, causal, window;
    } variants[] = {{"bidirectional", 2, 2, 0, -1}, {"causal", 2, 2, 1, -1}, {"gqa 4:1", 4, 1, 1, -1}, {"window 64", 2, 2, 0, 64}};
    const int dims[] = {8, 32, 64, 128};
    for (int bf = 0; bf < 2; bf++)
        for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++)
            for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++) {
                const rr_cuda_attn_case_t t = {variants[v].heads, variants[v].kv_heads, dims[i], variants[v].causal,
                                               variants[v].window, bf, 0};
                /* the 2048-token sequence (slow on the host reference) for the fast head dims in fp16 */
                const int longer = !bf && dims[i] >= 64 && v < 2;
                double e = -1;
                rerank_status_t st = longer ? rr_cuda_attention_selftest(0, &t, lens_long, 12, &e)
                                            : rr_cuda_attention_selftest(0, &t, lens, 11, &e);
                const double tol = bf ? 5e-2 : 1e-2;
                printf("  flash %s head_dim %3d %-13s%s: max err %.3g\n", bf ? "bf16" : "fp16", dims[i], variants[v].name,
                       longer ? " (+2048)" : "", e);
                CHECK_MSG(st == RERANK_OK, "%s", rerank_last_error());
                CHECK_MSG(e >= 0 && e <= tol, "flash %s head_dim %d %s: %g", bf ? "bf16" : "fp16", dims[i],
                          variants[v].name, e);
            }
    /* 8 warps (128 query rows per block); the legacy WMMA and CUDA-core kernels */
    const int32_t plain[] = {1, 7, 16, 31, 33, 64, 65, 130, 300, 2};
    for (int impl = 1; impl <= 3; impl++)
        for (int bf = 0; bf < 2; bf++)
            for (int d = 32; d <= 128; d *= 2) {
                if (impl == 1 && d == 32) continue;
                const rr_cuda_attn_case_t t = {3, 3, d, 0, -1, bf, impl};
                double e = -1;
                rerank_status_t st = rr_cuda_attention_selftest(0, &t, plain, 10, &e);
                CHECK_MSG(st == RERANK_OK, "%s", rerank_last_error());
                CHECK_MSG(e >= 0 && e <= (bf ? 5e-2 : 1e-2), "%s head_dim %d: %g",
                          impl == 1 ? "flash8" : impl == 2 ? "legacy" : "simple", d, e);
            }
    /* variants the legacy kernels do not have are refused, not computed wrong */
    const rr_cuda_attn_case_t causal_legacy = {2, 2, 64, 1, -1, 0, 2};
    double e;
    CHECK(rr_cuda_attention_selftest(0, &causal_legacy, plain, 10, &e) == RERANK_ERR_UNSUPPORTED);
}

/* Timing lines (read, not asserted): attention TFLOP/s (4 n^2 d heads per
 * sequence) at 128 / 512 / 2048 / 8192 tokens, one sequence and packed
 * batches of 16384 tokens, bge-m3 shape (16 heads of 64), next to the fp16
 * GEMM rate: issue #22 asks for >= 0.5 of it at 512. */
TEST(attention_timing) {
    double gemm = 0;
    CHECK_MSG(rr_cuda_gemm_bench(0, 0, 8192, 8192, 8192, &gemm) == RERANK_OK, "%s", rerank_last_error());
    printf("  cuBLASLt fp16 GEMM 8192^3: %.1f TFLOP/s\n", gemm);
    const int32_t lengths[] = {128, 512, 2048, 8192};
    static int32_t lens[128];
    const char *impl_name[] = {"flash", "flash8", "legacy"};
    for (size_t li = 0; li < 4; li++)
        for (int packed = 0; packed < 2; packed++)
            for (int impl = 0; impl < 3; impl++) {
                const int32_t n = packed ? 16384 / lengths[li] : 1;
                for (int32_t i = 0; i < n; i++) lens[i] = lengths[li];
                const rr_cuda_attn_case_t t = {16, 16, 64, 0, -1, 0, impl};
                double ms = 0;
                rerank_status_t st = rr_cuda_attention_bench(0, &t, lens, (size_t)n, 10, &ms);
                CHECK_MSG(st == RERANK_OK, "%s", rerank_last_error());
                const double tf = 4.0 * lengths[li] * (double)lengths[li] * 64 * 16 * n / (ms * 1e-3) / 1e12;
                printf("  {\"attention\": \"%s\", \"dtype\": \"fp16\", \"len\": %d, \"seqs\": %d, \"ms\": %.4f, "
                       "\"tflops\": %.1f, \"of_gemm\": %.3f}\n",
                       impl_name[impl], lengths[li], n, ms, tf, gemm > 0 ? tf / gemm : 0.0);
            }
}

/* The row kernels against float64 (LayerNorm / RMSNorm with the residual
 * add, bias + GELU, gated GeGLU / SwiGLU, fp16 / bf16 / E4M3 outputs). */
TEST(row_kernels) {
    for (int bf = 0; bf < 2; bf++) {
        char report[4096];
        double worst = -1;
        rerank_status_t st = rr_cuda_rows_selftest(0, bf, report, sizeof report, &worst);
        CHECK_MSG(st == RERANK_OK, "%s", rerank_last_error());
        printf("%s", report);
        CHECK_MSG(worst >= 0 && worst <= 1.0, "%s: worst error / tolerance %g", bf ? "bf16" : "fp16", worst);
    }
}

/* The FP8 GEMM path (E4M3, per-token x per-channel scales): against the
 * float64 product of the same quantized inputs (the GEMM itself, fp32
 * accumulation) and of the original inputs (what quantization costs). */
TEST(fp8_gemm) {
    for (int tensor = 0; tensor < 2; tensor++) {
        double eq = -1, ef = -1;
        rerank_status_t st = rr_cuda_fp8_gemm_selftest(0, 96, 1024, 1024, tensor, &eq, &ef);
        if (st == RERANK_ERR_UNSUPPORTED) {
            printf("  SKIP fp8 GEMM: %s\n", rerank_last_error());
            return;
        }
        CHECK_MSG(st == RERANK_OK, "%s", rerank_last_error());
        printf("  fp8 GEMM 96 x 1024 x 1024, %s weight scales: error vs dequantized inputs %.3g, vs unquantized %.3g "
               "(of the output rms)\n", tensor ? "per-tensor" : "per-channel", eq, ef);
        CHECK_MSG(eq >= 0 && eq <= 1e-3, "fp8 GEMM: %g", eq);
        CHECK_MSG(ef >= 0 && ef <= 0.1, "fp8 quantization error %g", ef);
    }
    double tf = 0;
    if (rr_cuda_gemm_bench(0, 2, 8192, 8192, 8192, &tf) == RERANK_OK) printf("  cuBLASLt fp8 GEMM 8192^3: %.1f TFLOP/s\n", tf);
}

TEST(invalid_inputs) {
    rr_cuda_t *cu = NULL;
    rerank_model_t *m = load_fixture("tiny-bert", RERANK_PRECISION_FP32, &cu);
    CHECK(m != NULL && cu != NULL);
    if (!m || !cu) return;
    int32_t ids[8] = {101, 2054, 102, 2054, 2003, 102, 0, 0}, types[8] = {0};
    float s = 7;
    rerank_pair_t p = {ids, types, 6};
    CHECK(score(m, &p, 1, 0, &s) == RERANK_OK && s != 7);
    CHECK(score(m, &p, 0, 0, &s) == RERANK_OK);
    CHECK(score(m, NULL, 1, 0, &s) == RERANK_ERR_INVALID_ARGUMENT);
    CHECK(score(m, &p, 1, 3, &s) == RERANK_ERR_INVALID_ARGUMENT);
    CHECK(score(m, &p, 1, -1, &s) == RERANK_ERR_INVALID_ARGUMENT);
    ids[1] = 30522;
    CHECK(score(m, &p, 1, 0, &s) == RERANK_ERR_INVALID_ARGUMENT);
    ids[1] = 2054;
    types[2] = 2;
    CHECK(score(m, &p, 1, 0, &s) == RERANK_ERR_INVALID_ARGUMENT);
    types[2] = 0;
    p.n = 0;
    CHECK(score(m, &p, 1, 0, &s) == RERANK_ERR_INVALID_ARGUMENT);
    /* still usable after rejected input */
    p.n = 6;
    float s2 = 0;
    CHECK(score(m, &p, 1, 0, &s2) == RERANK_OK);
    CHECK_NEAR(s2, s, 1e-6);
    /* int8 is a CPU precision; a device that does not exist */
    char dir[512];
    snprintf(dir, sizeof dir, "%s/fixtures/models/tiny-bert", t_shared());
    rerank_model_options_t o = rerank_model_options_default();
    o.device = "cuda:0";
    o.precision = RERANK_PRECISION_INT8;
    rerank_model_t *other = (rerank_model_t *)&o; /* must be reset to NULL */
    CHECK(rr_model_load(dir, &o, RR_LOAD_NO_TOKENIZER, &other) == RERANK_ERR_UNSUPPORTED && other == NULL);
    o.precision = RERANK_PRECISION_FP32;
    o.device = "cuda:999";
    CHECK(rr_model_load(dir, &o, RR_LOAD_NO_TOKENIZER, &other) == RERANK_ERR_INVALID_ARGUMENT && other == NULL);
    CHECK_MSG(strstr(rerank_last_error(), "does not exist") != NULL, "%s", rerank_last_error());
    rr_cuda_free(NULL);
    rerank_model_free(m);
}

/* Last: a device fault (illegal address) is a clean error, the context turns
 * unhealthy and refuses further work with a message saying why. */
TEST(device_fault) {
    rr_cuda_t *cu = NULL;
    rerank_model_t *m = load_fixture("tiny-bert", RERANK_PRECISION_FP32, &cu);
    CHECK(m != NULL && cu != NULL);
    if (!m || !cu) return;
    int32_t ids[4] = {101, 2054, 102, 0};
    rerank_pair_t p = {ids, NULL, 3};
    float s = 0;
    CHECK(score(m, &p, 1, 0, &s) == RERANK_OK && rr_cuda_healthy(cu) == 1);
    CHECK(rr_cuda_inject_fault(cu) != RERANK_OK);
    CHECK(rr_cuda_healthy(cu) == 0);
    rerank_status_t st = score(m, &p, 1, 0, &s);
    CHECK(st == RERANK_ERR_INTERNAL);
    CHECK_MSG(strstr(rerank_last_error(), "unrecoverable") != NULL, "%s", rerank_last_error());
    printf("  after the fault: %s\n", rerank_last_error());
    rerank_model_free(m);
}

/* fp16 / fp8 are GPU-only precisions: the CPU refuses them with a clear
 * error (with or without a GPU). */
TEST(cpu_rejects_gpu_precisions) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/fixtures/models/tiny-bert", t_shared());
    for (int p = RERANK_PRECISION_FP16; p <= RERANK_PRECISION_FP8; p++) {
        rerank_model_options_t o = rerank_model_options_default();
        o.precision = (rerank_precision_t)p;
        rerank_model_t *m = NULL;
        CHECK(rerank_model_load(dir, &o, &m) == RERANK_ERR_UNSUPPORTED && m == NULL);
        CHECK_MSG(strstr(rerank_last_error(), "runs only on CUDA") != NULL, "%s", rerank_last_error());
    }
    rerank_precision_t pr;
    CHECK(rerank_precision_parse("fp8", &pr) == 0 && pr == RERANK_PRECISION_FP8);
    CHECK(rerank_precision_parse("fp16", &pr) == 0 && pr == RERANK_PRECISION_FP16);
    CHECK(!strcmp(rerank_precision_str(RERANK_PRECISION_FP8), "fp8") &&
          !strcmp(rerank_precision_str((rerank_precision_t)5), "unknown"));
    rerank_model_options_t o = rerank_model_options_default();
    o.precision = (rerank_precision_t)5;
    rerank_model_t *m = NULL;
    CHECK(rerank_model_load(dir, &o, &m) == RERANK_ERR_INVALID_ARGUMENT && m == NULL);
}

/* No device: rr_blocks_cuda.create must fail as "unsupported" with the message of
 * this build (stub: built without CUDA; real: no device found). */
TEST(no_device_reported) {
    CHECK(rr_cuda_available() == 0);
    rr_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.hidden = 32, cfg.heads = 4, cfg.head_dim = 8, cfg.layers = 1, cfg.ffn = 64, cfg.num_labels = 1;
    rr_weights_t w;
    memset(&w, 0, sizeof w);
    const rr_backend_opts_t bo = {.precision = RERANK_PRECISION_FP32, .device = 0, .threads = 1};
    void *c = &cfg; /* must be reset to NULL */
    CHECK(rr_blocks_cuda.create(&cfg, &w, &bo, &c) == RERANK_ERR_UNSUPPORTED);
    CHECK(c == NULL);
    CHECK(!strcmp(rr_blocks_cuda.name, "cuda"));
#ifdef RR_WITH_CUDA
    const char *want = "no CUDA device";
#else
    const char *want = "built without CUDA";
#endif
    CHECK_MSG(strstr(rerank_last_error(), want) != NULL, "%s", rerank_last_error());
    CHECK(rr_cuda_healthy(NULL) == 0 && rr_cuda_memory_used(NULL) == 0 && rr_cuda_launch_count(NULL) == 0);
    /* the same through the public API */
    char dir[512];
    snprintf(dir, sizeof dir, "%s/fixtures/models/tiny-xlmr", t_shared());
    rerank_model_options_t o = rerank_model_options_default();
    o.device = "cuda";
    rerank_model_t *m = (rerank_model_t *)&cfg;
    CHECK(rerank_model_load(dir, &o, &m) == RERANK_ERR_UNSUPPORTED && m == NULL);
    CHECK_MSG(strstr(rerank_last_error(), want) != NULL, "%s", rerank_last_error());
}

/* The engine's path: rerank_model_load with device "cuda:0", then
 * rerank_score_tokens (validation, chunking, model lock in the engine). */
TEST(engine_path) {
    golden_t *g = golden_load("pairs-xlmr.jsonl");
    CHECK(g != NULL);
    if (!g) return;
    char dir[512];
    snprintf(dir, sizeof dir, "%s/fixtures/models/tiny-xlmr", t_shared());
    rerank_model_options_t o = rerank_model_options_default();
    o.device = "cuda:0";
    rerank_model_t *m = NULL;
    rerank_status_t st = rr_model_load(dir, &o, RR_LOAD_NO_TOKENIZER, &m);
    CHECK_MSG(st == RERANK_OK, "%s", rerank_last_error());
    if (m) {
        rerank_model_info_t info;
        rerank_model_get_info(m, &info);
        CHECK(!strcmp(info.device, "cuda:0"));
        float *s = calloc(g->n, sizeof *s);
        CHECK_MSG(rerank_score_tokens(m, g->pairs, g->n, NULL, s) == RERANK_OK, "%s", rerank_last_error());
        double worst = 0;
        for (size_t i = 0; i < g->n; i++) {
            double d = fabs(s[i] - golden_score(g, i, "tiny-xlmr"));
            if (!(d <= worst)) worst = d;
        }
        printf("  engine path (cuda:0): max |score - reference| = %.3g\n", worst);
        CHECK(worst <= 2e-3);
        free(s);
        rerank_model_free(m);
    }
    golden_free(g);
}

/* What a model's pass lowers to on the GPU, traced without a device
 * (rr_cuda_trace): the family's blocks recorded and validated as on a GPU,
 * each launch named. For BERT / XLM-R a layer is 8 launches (9 in fp8: the
 * attention output is quantized for its GEMM): QKV GEMM with the bias in the
 * epilogue, attention, the residual GEMMs in fp32 added by the next norm,
 * the FFN's bias + exact GELU in one kernel; then the fp32 head. */
static void expect_trace(const char *model, rerank_precision_t prec, int32_t layers) {
    golden_t *g = golden_load(!strcmp(model, "tiny-bert") ? "pairs-bert.jsonl" : "pairs-xlmr.jsonl");
    char dir[512];
    snprintf(dir, sizeof dir, "%s/fixtures/models/%s", t_shared(), model);
    rerank_model_t *m = NULL;
    CHECK(g != NULL && rr_model_load(dir, NULL, RR_LOAD_NO_TOKENIZER, &m) == RERANK_OK);
    if (!g || !m) {
        golden_free(g);
        rerank_model_free(m);
        return;
    }
    static char got[8192];
    rerank_status_t st = rr_cuda_trace(&m->cfg, m->family, &m->w, prec, layers, g->pairs, 3, got, sizeof got);
#ifdef RR_WITH_CUDA
    CHECK_MSG(st == RERANK_OK, "%s: %s", model, rerank_last_error());
    static char want[8192];
    const rr_config_t *c = &m->cfg;
    const int fp8 = prec == RERANK_PRECISION_FP8;
    const char *a = prec == RERANK_PRECISION_BF16 ? "bf16" : "f16", *in = fp8 ? "e4m3" : a;
    size_t n = (size_t)snprintf(want, sizeof want, "embed_norm>%s", in);
    for (int32_t l = 0; l < (layers ? layers : c->layers); l++)
        n += (size_t)snprintf(want + n, sizeof want - n,
                              " gemm:%dx%d:%s>%s+b attention:%dx%d/%d%s gemm:%dx%d:%s>f32 add_layernorm>X+b"
                              " gemm:%dx%d:%s>%s bias_gelu>%s gemm:%dx%d:%s>f32 add_layernorm>X+b",
                              3 * c->hidden, c->hidden, in, a, c->heads, c->head_dim, c->heads, fp8 ? " quantize" : "",
                              c->hidden, c->hidden, in, c->ffn, c->hidden, in, a, fp8 ? "e4m3" : a, c->hidden, c->ffn,
                              in);
    snprintf(want + n, sizeof want - n, " head");
    if (layers == 1) printf("  %s %s, 1 layer: %s\n", model, rerank_precision_str(prec), got);
    CHECK_MSG(!strcmp(got, want), "%s %s layers %d:\n  got  %s\n  want %s", model, rerank_precision_str(prec),
              (int)layers, got, want);
    /* what the GPU does not have is refused with a message naming it */
    rr_config_t wide = m->cfg;
    wide.head_dim = 256; /* above the attention kernels' 128 */
    CHECK(rr_cuda_trace(&wide, m->family, &m->w, prec, layers, g->pairs, 3, got, sizeof got) == RERANK_ERR_UNSUPPORTED);
    CHECK_MSG(strstr(rerank_last_error(), "head_dim") != NULL, "%s", rerank_last_error());
    CHECK(rr_cuda_trace(&m->cfg, m->family, &m->w, RERANK_PRECISION_INT8, 0, g->pairs, 3, got, sizeof got) ==
          RERANK_ERR_UNSUPPORTED);
    CHECK(rr_cuda_trace(&m->cfg, m->family, &m->w, prec, m->cfg.layers + 1, g->pairs, 3, got, sizeof got) ==
          RERANK_ERR_INVALID_ARGUMENT);
#else
    CHECK(st == RERANK_ERR_UNSUPPORTED && got[0] == 0);
    CHECK_MSG(strstr(rerank_last_error(), "built without CUDA") != NULL, "%s", rerank_last_error());
#endif
    rerank_model_free(m);
    golden_free(g);
}

/* Qwen3 (a pre-norm decoder, the LLM reranker) on the GPU: embeddings without a norm; per layer the input
 * RMSNorm into H (adding the last layer's pending FFN output), the QKV GEMM (no biases), the per-head q / k
 * RMSNorm + rotary kernel, causal grouped-query attention, the O GEMM pending, the FFN's RMSNorm (adding
 * it), the [gate; up] GEMM, SwiGLU, the down GEMM pending; then one head kernel: the last token plus the
 * pending output, the final norm, "yes" - "no" (the seq-cls checkpoint: its one score row). */
static void expect_trace_qwen3(const char *model, rerank_precision_t prec, int32_t layers) {
    golden_t *g = golden_load("pairs-qwen3.jsonl");
    char dir[512];
    snprintf(dir, sizeof dir, "%s/fixtures/models/%s", t_shared(), model);
    rerank_model_t *m = NULL;
    CHECK(g != NULL && rr_model_load(dir, NULL, RR_LOAD_NO_TOKENIZER, &m) == RERANK_OK);
    if (!g || !m) {
        golden_free(g);
        rerank_model_free(m);
        return;
    }
    static char got[16384];
    rerank_status_t st = rr_cuda_trace(&m->cfg, m->family, &m->w, prec, layers, g->pairs, 3, got, sizeof got);
#ifdef RR_WITH_CUDA
    /* the causal LM's head needs the "yes" / "no" rows, bound with the tokenizer */
    if (!strcmp(m->cfg.architecture, "Qwen3ForCausalLM")) {
        CHECK(st == RERANK_ERR_INVALID_ARGUMENT && strstr(rerank_last_error(), "without its tokenizer"));
        rerank_model_free(m);
        CHECK(rr_model_load(dir, NULL, 0, &m) == RERANK_OK);
        if (!m) {
            golden_free(g);
            return;
        }
        st = rr_cuda_trace(&m->cfg, m->family, &m->w, prec, layers, g->pairs, 3, got, sizeof got);
    }
    CHECK_MSG(st == RERANK_OK, "%s: %s", model, rerank_last_error());
    static char want[16384];
    const rr_config_t *c = &m->cfg;
    const int fp8 = prec == RERANK_PRECISION_FP8;
    const char *a = prec == RERANK_PRECISION_BF16 ? "bf16" : "f16", *in = fp8 ? "e4m3" : a;
    const int q = c->heads * c->head_dim, qkv = (c->heads + 2 * c->kv_heads) * c->head_dim;
    size_t n = (size_t)snprintf(want, sizeof want, "embed>%s", in);
    for (int32_t l = 0; l < (layers ? layers : c->layers); l++)
        n += (size_t)snprintf(want + n, sizeof want - n,
                              " %srmsnorm>H gemm:%dx%d:%s>%s qk_norm_rope attention:%dx%d/%d:causal%s gemm:%dx%d:%s>f32"
                              " add_rmsnorm>H gemm:%dx%d:%s>%s bias_silu_gated>%s gemm:%dx%d:%s>f32",
                              l ? "add_" : "", qkv, c->hidden, in, a, c->heads, c->head_dim, c->kv_heads,
                              fp8 ? " quantize" : "", c->hidden, q, in, 2 * c->ffn, c->hidden, in, a, fp8 ? "e4m3" : a,
                              c->hidden, c->ffn, in);
    snprintf(want + n, sizeof want - n, " add_head_last_rmsnorm%s",
             !strcmp(c->architecture, "Qwen3ForCausalLM") ? "_yes_no" : "");
    if (layers == 1) printf("  %s %s, 1 layer: %s\n", model, rerank_precision_str(prec), got);
    CHECK_MSG(!strcmp(got, want), "%s %s layers %d:\n  got  %s\n  want %s", model, rerank_precision_str(prec),
              (int)layers, got, want);
#else
    CHECK(st == RERANK_ERR_UNSUPPORTED || st == RERANK_ERR_INVALID_ARGUMENT);
#endif
    rerank_model_free(m);
    golden_free(g);
}

/* GTE (gte-multilingual-reranker): BERT's post-norm layers and head with rotary positions (NTK-scaled
 * tables; no position embeddings) and the [up | gate] FFN, whose activation is on the second half. */
static void expect_trace_gte(rerank_precision_t prec) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/fixtures/models/tiny-gte", t_shared());
    rerank_model_t *m = NULL;
    CHECK_MSG(rr_model_load(dir, NULL, RR_LOAD_NO_TOKENIZER, &m) == RERANK_OK, "%s", rerank_last_error());
    if (!m) return;
    int32_t ids[2][5] = {{0, 5, 2, 2, 9}, {0, 7, 2}};
    const rerank_pair_t pairs[2] = {{ids[0], NULL, 5}, {ids[1], NULL, 3}};
    static char got[8192];
    rerank_status_t st = rr_cuda_trace(&m->cfg, m->family, &m->w, prec, 0, pairs, 2, got, sizeof got);
#ifdef RR_WITH_CUDA
    static char want[8192];
    CHECK_MSG(st == RERANK_OK, "tiny-gte: %s", rerank_last_error());
    const rr_config_t *c = &m->cfg;
    const int fp8 = prec == RERANK_PRECISION_FP8;
    const char *a = prec == RERANK_PRECISION_BF16 ? "bf16" : "f16", *in = fp8 ? "e4m3" : a;
    size_t n = (size_t)snprintf(want, sizeof want, "embed_norm>%s", in);
    for (int32_t l = 0; l < c->layers; l++)
        n += (size_t)snprintf(want + n, sizeof want - n,
                              " gemm:%dx%d:%s>%s+b qk_rope attention:%dx%d/%d%s gemm:%dx%d:%s>f32 add_layernorm>X+b"
                              " gemm:%dx%d:%s>%s bias_gelu_gated_second>%s gemm:%dx%d:%s>f32 add_layernorm>X+b",
                              3 * c->hidden, c->hidden, in, a, c->heads, c->head_dim, c->heads, fp8 ? " quantize" : "",
                              c->hidden, c->hidden, in, 2 * c->ffn, c->hidden, in, a, fp8 ? "e4m3" : a, c->hidden, c->ffn,
                              in);
    snprintf(want + n, sizeof want - n, " head");
    CHECK_MSG(!strcmp(got, want), "tiny-gte %s:\n  got  %s\n  want %s", rerank_precision_str(prec), got, want);
#else
    CHECK(st == RERANK_ERR_UNSUPPORTED);
#endif
    rerank_model_free(m);
}

/* ModernBERT: pre-norm layers (layer 0 without its attention norm), rotary positions (global and local
 * tables), sliding-window local layers, GeGLU, the final norm over every token, then the pooled head: the
 * mean (or first) row, the dense layer + GELU, its norm, the classifier. */
static void expect_trace_modernbert(const char *model, rerank_precision_t prec) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/fixtures/models/%s", t_shared(), model);
    rerank_model_t *m = NULL;
    CHECK_MSG(rr_model_load(dir, NULL, RR_LOAD_NO_TOKENIZER, &m) == RERANK_OK, "%s", rerank_last_error());
    if (!m) return;
    int32_t ids[2][5] = {{50281, 5, 50282, 9, 50282}, {50281, 7, 50282}};
    const rerank_pair_t pairs[2] = {{ids[0], NULL, 5}, {ids[1], NULL, 3}};
    static char got[8192];
    rerank_status_t st = rr_cuda_trace(&m->cfg, m->family, &m->w, prec, 0, pairs, 2, got, sizeof got);
#ifdef RR_WITH_CUDA
    static char want[8192];
    CHECK_MSG(st == RERANK_OK, "%s: %s", model, rerank_last_error());
    const rr_config_t *c = &m->cfg;
    const char *a = prec == RERANK_PRECISION_BF16 ? "bf16" : "f16";
    size_t n = (size_t)snprintf(want, sizeof want, "embed_norm>%s", a);
    for (int32_t l = 0; l < c->layers; l++)
        n += (size_t)snprintf(want + n, sizeof want - n,
                              "%s gemm:%dx%d:%s>%s qk_rope attention:%dx%d/%d gemm:%dx%d:%s>f32 add_layernorm>H"
                              " gemm:%dx%d:%s>%s bias_gelu_gated>%s gemm:%dx%d:%s>f32",
                              l ? " add_layernorm>H" : "", 3 * c->hidden, c->hidden, a, a, c->heads, c->head_dim, c->heads,
                              c->hidden, c->hidden, a, 2 * c->ffn, c->hidden, a, a, a, c->hidden, c->ffn, a);
    snprintf(want + n, sizeof want - n, " add_layernorm>X head_%s_dense_gelu_layernorm",
             c->pooling == RR_POOL_MEAN ? "mean" : "first");
    CHECK_MSG(!strcmp(got, want), "%s %s:\n  got  %s\n  want %s", model, rerank_precision_str(prec), got, want);
#else
    CHECK(st == RERANK_ERR_UNSUPPORTED);
#endif
    rerank_model_free(m);
}

TEST(trace_lowering) {
    expect_trace("tiny-xlmr", RERANK_PRECISION_FP32, 0);
    expect_trace("tiny-xlmr", RERANK_PRECISION_FP16, 1);
    expect_trace("tiny-xlmr", RERANK_PRECISION_BF16, 0);
    expect_trace("tiny-xlmr", RERANK_PRECISION_FP8, 0);
    expect_trace("tiny-bert", RERANK_PRECISION_FP32, 0);
    expect_trace("tiny-bert", RERANK_PRECISION_FP8, 1);
    expect_trace_qwen3("tiny-qwen3", RERANK_PRECISION_FP16, 0);
    expect_trace_qwen3("tiny-qwen3", RERANK_PRECISION_BF16, 1);
    expect_trace_qwen3("tiny-qwen3", RERANK_PRECISION_FP8, 0);
    expect_trace_qwen3("tiny-qwen3-seqcls", RERANK_PRECISION_FP16, 0);
    expect_trace_qwen3("tiny-qwen3-untied", RERANK_PRECISION_FP16, 1);
    expect_trace_gte(RERANK_PRECISION_FP16);
    expect_trace_gte(RERANK_PRECISION_FP8);
    expect_trace_modernbert("tiny-modernbert", RERANK_PRECISION_FP16);
    expect_trace_modernbert("tiny-modernbert-cls", RERANK_PRECISION_BF16);
}

int main(void) {
    if (rr_cuda_available() == 0) {
        printf("SKIP: no CUDA device (built %s CUDA): only the no-device report is checked\n", BUILT);
        RUN(no_device_reported);
        RUN(cpu_rejects_gpu_precisions);
        RUN(trace_lowering);
        TEST_MAIN_END();
    }
    RUN(trace_lowering);
    RUN(attention_kernels);
    RUN(row_kernels);
    RUN(fp8_gemm);
    RUN(golden_xlmr);
    RUN(golden_xlmr_layers1);
    RUN(golden_xlmr_f16_checkpoint);
    RUN(golden_xlmr_bf16_checkpoint);
    RUN(golden_bert);
    RUN(golden_xlmr_bf16_compute);
    RUN(golden_qwen3);
    RUN(golden_gte);
    RUN(golden_modernbert);
    RUN(fp16_is_fp32_on_gpu);
    RUN(golden_xlmr_fp8);
    RUN(golden_xlmr_fp8_tensor_scales);
    RUN(shared_prefix);
    RUN(passes_in_flight);
    RUN(graphs_off);
    RUN(small_chunks);
    RUN(workspace_cap_splits);
    RUN(legacy_attention);
    RUN(flash8_attention);
    RUN(launches_and_memory);
    RUN(invalid_inputs);
    RUN(engine_path);
    RUN(cpu_rejects_gpu_precisions);
    if (!getenv("RERANK_TEST_NO_TIMING")) RUN(attention_timing);
    else printf("SKIP attention_timing: RERANK_TEST_NO_TIMING is set\n");
    RUN(device_fault); /* last: the device is unusable afterwards */
    TEST_MAIN_END();
}
