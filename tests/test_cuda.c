/* test_cuda.c — the CUDA backend (src/cuda): golden scores of the fixture
 * models in fp16 (and bf16), batched vs one pair at a time, the attention
 * kernels against an fp64 reference, input validation.
 *
 * Without a usable device (no GPU, or a build without CUDA) it prints a SKIP
 * line and checks only that the backend reports "no device" consistently. */
#include <jansson.h>
#include <stdint.h>

#include "cuda/cuda_backend.h"
#include "engine/engine.h"
#include "golden.h"
#include "test.h"

#ifdef RR_WITH_CUDA
#define BUILT "with"
#else
#define BUILT "without"
#endif

/* A fixture model on the GPU (through the engine, as users load it). */
static rerank_model_t *load_fixture(const char *name, rerank_precision_t prec) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/fixtures/models/%s", t_shared(), name);
    rerank_model_options_t o = rerank_model_options_default();
    o.device = "cuda:0";
    o.precision = prec;
    rerank_model_t *m = NULL;
    if (rr_model_load(dir, &o, RR_LOAD_NO_TOKENIZER, &m) != RERANK_OK) {
        fprintf(stderr, "  load %s on cuda:0: %s\n", name, rerank_last_error());
        return NULL;
    }
    return m;
}

static rerank_status_t score(rerank_model_t *m, const rerank_pair_t *p, size_t n, int32_t layers, float *out) {
    rerank_score_options_t o = rerank_score_options_default();
    o.layers = layers;
    return rerank_score_tokens(m, p, n, &o, out);
}

/* Every record scored one at a time, all at once and in uneven chunks; each
 * within `tol` of the reference under `key`, batched within 1e-3 of single. */
static void check_golden(const char *file, const char *model, const char *key, int32_t layers,
                         rerank_precision_t prec, double tol) {
    golden_t *g = golden_load(file);
    CHECK(g != NULL && g->n == 409);
    rerank_model_t *m = g ? load_fixture(model, prec) : NULL;
    CHECK(m != NULL);
    if (!m) {
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
    rerank_model_info_t info;
    rerank_model_get_info(m, &info);
    printf("  %-20s %s: max |score - reference| = %.3g, max |batched - single| = %.3g (%s, compute %s)\n", key,
           rerank_precision_str(prec), max_ref, max_batch, info.device, info.compute);
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
/* bf16 compute: 8-bit mantissas, so a looser bound (the printed error is the
 * number to watch). */
TEST(golden_xlmr_bf16_compute) {
    check_golden("pairs-xlmr.jsonl", "tiny-xlmr", "tiny-xlmr", 0, RERANK_PRECISION_BF16, 5e-2);
}

/* Both attention kernels against fp64, odd lengths (1, tile edges, > tiles). */
TEST(attention_kernels) {
    const int32_t lens[] = {1, 7, 16, 31, 33, 64, 65, 130, 300, 2};
    const int dims[] = {8, 24, 32, 64, 128};
    for (int bf = 0; bf < 2; bf++)
        for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++) {
            double es = -2, et = -2;
            rerank_status_t st = rr_cuda_attention_selftest(0, 3, dims[i], lens, sizeof lens / sizeof lens[0], bf,
                                                            &es, &et);
            CHECK_MSG(st == RERANK_OK, "%s", rerank_last_error());
            const double tol = bf ? 5e-2 : 1e-2;
            printf("  attention %s head_dim %3d: max err simple %.3g, tensor cores %s%.3g\n", bf ? "bf16" : "fp16",
                   dims[i], es, et < 0 ? "(n/a) " : "", et);
            CHECK_MSG(es >= 0 && es <= tol, "simple kernel, head_dim %d: %g", dims[i], es);
            if (dims[i] == 32 || dims[i] == 64 || dims[i] == 128)
                CHECK_MSG(et >= 0 && et <= tol, "tensor-core kernel, head_dim %d: %g", dims[i], et);
            else
                CHECK(et == -1);
        }
}

TEST(invalid_inputs) {
    rerank_model_t *m = load_fixture("tiny-bert", RERANK_PRECISION_FP32);
    CHECK(m != NULL);
    if (!m) return;
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
    rerank_model_free(m);
    /* unsupported precision and missing device: clean errors, no model */
    char dir[512];
    snprintf(dir, sizeof dir, "%s/fixtures/models/tiny-bert", t_shared());
    rerank_model_options_t o = rerank_model_options_default();
    o.device = "cuda:0";
    o.precision = RERANK_PRECISION_INT8;
    rerank_model_t *other = NULL;
    CHECK(rerank_model_load(dir, &o, &other) == RERANK_ERR_UNSUPPORTED && other == NULL);
    o.precision = RERANK_PRECISION_FP32;
    o.device = "cuda:999";
    CHECK(rerank_model_load(dir, &o, &other) == RERANK_ERR_INVALID_ARGUMENT && other == NULL);
}

/* No device: loading on cuda must fail as "unsupported" with the message of
 * this build (stub: built without CUDA; real: no device found). */
TEST(no_device_reported) {
    CHECK(rr_cuda_available() == 0);
#ifdef RR_WITH_CUDA
    const char *want = "no CUDA device";
#else
    const char *want = "built without CUDA";
#endif
    char dir[512];
    snprintf(dir, sizeof dir, "%s/fixtures/models/tiny-xlmr", t_shared());
    rerank_model_options_t o = rerank_model_options_default();
    o.device = "cuda";
    rerank_model_t *m = (rerank_model_t *)dir; /* must be reset to NULL */
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

int main(void) {
    if (rr_cuda_available() == 0) {
        printf("SKIP: no CUDA device (built %s CUDA): only the no-device report is checked\n", BUILT);
        RUN(no_device_reported);
        TEST_MAIN_END();
    }
    RUN(attention_kernels);
    RUN(golden_xlmr);
    RUN(golden_xlmr_layers1);
    RUN(golden_xlmr_f16_checkpoint);
    RUN(golden_xlmr_bf16_checkpoint);
    RUN(golden_bert);
    RUN(golden_xlmr_bf16_compute);
    RUN(invalid_inputs);
    RUN(engine_path);
    TEST_MAIN_END();
}
