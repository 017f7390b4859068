/* test_rope_families.c — the rotary-position encoders (GTE "new",
 * ModernBERT) against the golden scores of their fixtures: fp32 within 1e-4
 * of the float64 reference, @layers=1, batched equal to one at a time,
 * bf16 / int8 near it, the text path, and configs the families refuse. */
#include <jansson.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cpu/gemm.h"
#include "engine/bench_api.h"
#include "engine/engine.h"
#include "golden.h"
#include "test.h"

static rerank_model_t *load_fixture(const char *name, rerank_precision_t prec) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/fixtures/models/%s", t_shared(), name);
    rerank_model_t *m = NULL;
    rerank_model_options_t o = rerank_model_options_default();
    o.precision = prec;
    if (rr_model_load(dir, &o, RR_LOAD_NO_TOKENIZER, &m) != RERANK_OK)
        fprintf(stderr, "  load %s: %s\n", name, rerank_last_error());
    return m;
}

/* Score every record alone and all in one call (the batch splits into
 * several forward chunks); compare with the reference under `key` and with
 * each other. Returns the largest |score - reference|. */
static double check_golden(const char *file, const char *model, const char *key, int32_t layers,
                           rerank_precision_t prec, double tol) {
    golden_t *g = golden_load(file);
    if (!g) { CHECK(0); return 1e9; }
    CHECK(g->n == 300);
    rerank_model_t *m = load_fixture(model, prec);
    CHECK(m != NULL);
    if (!m) { golden_free(g); return 1e9; }
    rerank_score_options_t o = rerank_score_options_default();
    o.layers = layers;
    float *single = calloc(g->n, sizeof *single), *batch = calloc(g->n, sizeof *batch);
    double max_ref = 0, max_batch = 0;
    int64_t longest = 0;
    for (size_t i = 0; i < g->n; i++) {
        rerank_status_t st = rerank_score_tokens(m, &g->pairs[i], 1, &o, &single[i]);
        CHECK_MSG(st == RERANK_OK, "record %zu: %s", i, rerank_last_error());
        double d = fabs(single[i] - golden_score(g, i, key));
        if (d > max_ref) max_ref = d;
        if (g->pairs[i].n > longest) longest = g->pairs[i].n;
        CHECK_MSG(d <= tol, "%s record %zu (%d tokens): %.7f vs reference %.7f", key, i, (int)g->pairs[i].n, single[i],
                  golden_score(g, i, key));
    }
    CHECK(longest > 1024); /* the goldens reach past 1024 tokens */
    rerank_status_t st = rerank_score_tokens(m, g->pairs, g->n, &o, batch);
    CHECK_MSG(st == RERANK_OK, "%s", rerank_last_error());
    for (size_t i = 0; i < g->n; i++) {
        double d = fabs(single[i] - batch[i]);
        if (d > max_batch) max_batch = d;
        CHECK_MSG(d <= 1e-5, "%s record %zu: batched %.7f vs single %.7f", key, i, batch[i], single[i]);
    }
    printf("  %-26s %s: max |score - reference| = %.3g, max |batched - single| = %.3g\n", key,
           rerank_precision_str(prec), max_ref, max_batch);
    rerank_model_free(m);
    free(single);
    free(batch);
    golden_free(g);
    return max_ref;
}

#define FP32 RERANK_PRECISION_FP32
TEST(golden_tiny_gte) { check_golden("pairs-gte.jsonl", "tiny-gte", "tiny-gte", 0, FP32, 1e-4); }
TEST(golden_tiny_gte_layers1) { check_golden("pairs-gte.jsonl", "tiny-gte", "tiny-gte@layers=1", 1, FP32, 1e-4); }
TEST(golden_tiny_modernbert) {
    check_golden("pairs-modernbert.jsonl", "tiny-modernbert", "tiny-modernbert", 0, FP32, 1e-4);
}
TEST(golden_tiny_modernbert_layers1) {
    check_golden("pairs-modernbert.jsonl", "tiny-modernbert", "tiny-modernbert@layers=1", 1, FP32, 1e-4);
}
TEST(golden_tiny_modernbert_cls) {
    check_golden("pairs-modernbert.jsonl", "tiny-modernbert-cls", "tiny-modernbert-cls", 0, FP32, 1e-4);
}

/* Reduced precisions stay near the float64 reference (bf16 falls back to
 * fp32 on CPUs without a bf16 matmul). tiny-gte is more sensitive to the
 * formats than the other fixtures: its float64 model with the formats
 * simulated exactly (scripts/quant_sim.py's quantizers: linear layers
 * w8a8u + attention a8 for int8; bf16 + abf16 for bf16) moves its scores by
 * up to 0.096 (int8) and 0.052 (bf16) on the pairs up to 300 tokens, the
 * engine by 0.103 and 0.054 on all pairs: the formats' cost, not a kernel's.
 * (Its scores also spread 6x wider than tiny-xlmr's: stdev 0.57 vs 0.094.)
 * Its bounds are 0.15 and 0.06; ModernBERT keeps the usual 0.1 and 0.02.
 * Where oneDNN runs without VNNI (AVX2, AVX-512 without VNNI) int8 weights
 * keep 7 bits (+-63, rr_gemm_int8_weight_qmax): the weights' rounding step
 * doubles, and the int8 bounds with it (tiny-gte measured 0.216 there). */
TEST(golden_bf16_int8) {
    const double w8 = 127.0 / rr_gemm_int8_weight_qmax();
    check_golden("pairs-gte.jsonl", "tiny-gte", "tiny-gte", 0, RERANK_PRECISION_BF16, 6e-2);
    check_golden("pairs-gte.jsonl", "tiny-gte", "tiny-gte", 0, RERANK_PRECISION_INT8, 1.5e-1 * w8);
    check_golden("pairs-modernbert.jsonl", "tiny-modernbert", "tiny-modernbert", 0, RERANK_PRECISION_BF16, 2e-2);
    check_golden("pairs-modernbert.jsonl", "tiny-modernbert", "tiny-modernbert", 0, RERANK_PRECISION_INT8, 1e-1 * w8);
}

/* The local window matters: a ModernBERT whose local layers attend
 * globally (local_attention as long as the input) scores the long golden
 * pairs differently, and the same as the fixture on pairs inside the
 * window. */
static char g_tmp[256];

static void copy_file(const char *from, const char *to) {
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    char buf[1 << 16];
    size_t n;
    while (a && b && (n = fread(buf, 1, sizeof buf, a)) > 0) fwrite(buf, 1, n, b);
    if (a) fclose(a);
    if (b) fclose(b);
}

/* g_tmp = a copy of fixture `name` with config.json's keys kv[0], kv[2], ...
 * set to the JSON values kv[1], kv[3], ... ("" to remove the key); kv ends
 * with NULL. */
static void stage_many(const char *name, const char *const *kv) {
    snprintf(g_tmp, sizeof g_tmp, "/tmp/rr_test_rope_%d", (int)getpid());
    mkdir(g_tmp, 0700);
    char src[512], dst[512];
    snprintf(src, sizeof src, "%s/fixtures/models/%s/model.safetensors", t_shared(), name);
    snprintf(dst, sizeof dst, "%s/model.safetensors", g_tmp);
    copy_file(src, dst);
    snprintf(src, sizeof src, "%s/fixtures/models/%s/config.json", t_shared(), name);
    json_error_t e;
    json_t *cfg = json_load_file(src, 0, &e);
    if (!cfg) return;
    for (; kv[0]; kv += 2) {
        if (!*kv[1]) json_object_del(cfg, kv[0]);
        else json_object_set_new(cfg, kv[0], json_loads(kv[1], JSON_DECODE_ANY, &e));
    }
    snprintf(dst, sizeof dst, "%s/config.json", g_tmp);
    json_dump_file(cfg, dst, 0);
    json_decref(cfg);
}

/* g_tmp = fixture `name` with config.json's `key` set to the JSON value
 * `value` ("" to remove it). */
static void stage(const char *name, const char *key, const char *value) {
    const char *kv[] = {key, value, NULL};
    stage_many(name, kv);
}

static void unstage(void) {
    char p[300];
    snprintf(p, sizeof p, "%s/model.safetensors", g_tmp);
    unlink(p);
    snprintf(p, sizeof p, "%s/config.json", g_tmp);
    unlink(p);
    rmdir(g_tmp);
}

static rerank_status_t load_staged(rerank_model_t **m) {
    rerank_model_options_t o = rerank_model_options_default();
    *m = NULL;
    return rr_model_load(g_tmp, &o, RR_LOAD_NO_TOKENIZER, m);
}

TEST(modernbert_window_matters) {
    stage("tiny-modernbert", "local_attention", "16384");
    rerank_model_t *wide = NULL, *m = load_fixture("tiny-modernbert", FP32);
    CHECK(load_staged(&wide) == RERANK_OK);
    golden_t *g = golden_load("pairs-modernbert.jsonl");
    CHECK(g && m && wide);
    int inside = 0, outside = 0, differ = 0;
    for (size_t i = 0; g && m && wide && i < g->n; i++) {
        float a, b;
        CHECK(rerank_score_tokens(m, &g->pairs[i], 1, NULL, &a) == RERANK_OK);
        CHECK(rerank_score_tokens(wide, &g->pairs[i], 1, NULL, &b) == RERANK_OK);
        if (g->pairs[i].n <= 9) { /* every |i - j| <= 8: the window covers the pair */
            inside++;
            CHECK_MSG(a == b, "record %zu (%d tokens): %.7f vs %.7f", i, (int)g->pairs[i].n, a, b);
        } else {
            outside++;
            differ += fabs(a - b) > 1e-4;
        }
    }
    printf("  %d pairs inside the window score the same; %d of %d longer ones differ by > 1e-4\n", inside, differ,
           outside);
    CHECK(inside > 0 && outside > 200 && differ > outside / 2);
    golden_free(g);
    rerank_model_free(m);
    rerank_model_free(wide);
    unstage();
}

/* The golden pairs scored by g_tmp's model (staged from `name`) into s;
 * 1 if it loaded and scored them all. */
static int score_staged(const golden_t *g, const char *const *kv, float *s) {
    stage_many("tiny-modernbert", kv);
    rerank_model_t *m = NULL;
    rerank_status_t st = load_staged(&m);
    CHECK_MSG(st == RERANK_OK, "%s", rerank_last_error());
    for (size_t i = 0; m && !st && i < g->n; i++) st = rerank_score_tokens(m, &g->pairs[i], 1, NULL, &s[i]);
    rerank_model_free(m);
    unstage();
    return m && !st;
}

/* What ModernBERT's config.json leaves out takes transformers' defaults
 * (global_attn_every_n_layers 3, local_rope_theta 10000), and a config
 * saved by transformers 5 ("rope_parameters" per attention kind and
 * "layer_types" in place of global_rope_theta / local_rope_theta) scores as
 * the fixture it was converted from. */
TEST(modernbert_config_defaults) {
    golden_t *g = golden_load("pairs-modernbert.jsonl");
    rerank_model_t *m = load_fixture("tiny-modernbert", FP32);
    CHECK(g && m);
    if (!g || !m) { golden_free(g); rerank_model_free(m); return; }
    float *ref = calloc(g->n, sizeof *ref), *s = calloc(g->n, sizeof *s), *s3 = calloc(g->n, sizeof *s3);
    for (size_t i = 0; i < g->n; i++) CHECK(rerank_score_tokens(m, &g->pairs[i], 1, NULL, &ref[i]) == RERANK_OK);
    rerank_model_free(m);
    const char *v5[] = {"global_rope_theta", "", "local_rope_theta", "", "global_attn_every_n_layers", "",
                        "rope_parameters", "{\"full_attention\": {\"rope_type\": \"default\", \"rope_theta\": 160000.0},"
                        " \"sliding_attention\": {\"rope_type\": \"default\", \"rope_theta\": 10000.0}}",
                        "layer_types", "[\"full_attention\", \"sliding_attention\", \"full_attention\"]", NULL};
    const char *no_local[] = {"local_rope_theta", "", NULL};
    const char *no_every[] = {"global_attn_every_n_layers", "", NULL}, *every3[] = {"global_attn_every_n_layers", "3", NULL};
    const char *const *same[] = {v5, no_local};
    for (int k = 0; k < 2; k++)
        if (score_staged(g, same[k], s))
            for (size_t i = 0; i < g->n; i++)
                CHECK_MSG(s[i] == ref[i], "config %d record %zu: %.7f vs the fixture's %.7f", k, i, s[i], ref[i]);
    int differ = 0;
    if (score_staged(g, no_every, s) && score_staged(g, every3, s3))
        for (size_t i = 0; i < g->n; i++) {
            CHECK_MSG(s[i] == s3[i], "record %zu: %.7f without the field vs %.7f with 3", i, s[i], s3[i]);
            differ += fabsf(s[i] - ref[i]) > 1e-4f;
        }
    CHECK(differ > 0); /* the fixture's 2 is not what a missing field means */
    free(ref);
    free(s);
    free(s3);
    golden_free(g);
}

/* Configs the families do not implement are refused, naming the field. */
static void refuse(const char *model, const char *key, const char *value, rerank_status_t want, const char *word) {
    stage(model, key, value);
    rerank_model_t *m = NULL;
    rerank_status_t st = load_staged(&m);
    CHECK_MSG(st == want, "%s %s=%s: status %d (%s)", model, key, value, st, rerank_last_error());
    CHECK_MSG(st == RERANK_OK || strstr(rerank_last_error(), word) != NULL, "%s: '%s'", word, rerank_last_error());
    rerank_model_free(m);
    unstage();
}

TEST(config_errors) {
    refuse("tiny-gte", "rope_scaling", "{\"type\": \"linear\", \"factor\": 2.0}", RERANK_ERR_UNSUPPORTED, "linear");
    refuse("tiny-gte", "rope_scaling", "{\"type\": \"ntk\", \"factor\": 8.0, \"mixed_b\": 0.5}",
           RERANK_ERR_UNSUPPORTED, "mixed_b");
    refuse("tiny-gte", "hidden_act", "\"relu\"", RERANK_ERR_UNSUPPORTED, "relu");
    refuse("tiny-gte", "layer_norm_type", "\"batch_norm\"", RERANK_ERR_UNSUPPORTED, "batch_norm");
    refuse("tiny-gte", "position_embedding_type", "\"absolute\"", RERANK_ERR_UNSUPPORTED, "absolute");
    refuse("tiny-gte", "logn_attention_scale", "true", RERANK_ERR_UNSUPPORTED, "logn");
    refuse("tiny-gte", "rope_scaling", "", RERANK_OK, "");
    /* type_vocab_size left out: NewConfig's 1, the fixture's one-row table. */
    refuse("tiny-gte", "type_vocab_size", "", RERANK_OK, "");
    /* rms_norm binds norms without bias: the fixture's LayerNorm biases are not read. */
    refuse("tiny-gte", "layer_norm_type", "\"rms_norm\"", RERANK_OK, "");
    /* pack_qkv false: the fixture has no q_proj. */
    refuse("tiny-gte", "pack_qkv", "false", RERANK_ERR_FORMAT, "q_proj");
    refuse("tiny-modernbert", "classifier_pooling", "\"max\"", RERANK_ERR_UNSUPPORTED, "classifier_pooling");
    refuse("tiny-modernbert", "hidden_activation", "\"silu\"", RERANK_ERR_UNSUPPORTED, "hidden_activation");
    refuse("tiny-modernbert", "local_attention", "1", RERANK_ERR_LIMIT, "local_attention");
    refuse("tiny-modernbert", "global_attn_every_n_layers", "0", RERANK_ERR_LIMIT, "global_attn_every_n_layers");
    /* norm_bias true: the fixture has no norm biases. */
    refuse("tiny-modernbert", "norm_bias", "true", RERANK_ERR_FORMAT, "norm.bias");
    refuse("tiny-modernbert", "attention_bias", "true", RERANK_ERR_FORMAT, "Wqkv.bias");
    /* transformers 5 fields: a layer pattern other than every Nth global,
     * scaled rotary embeddings. */
    refuse("tiny-modernbert", "layer_types", "[\"full_attention\", \"full_attention\", \"full_attention\"]",
           RERANK_ERR_UNSUPPORTED, "layer_types[1]");
    refuse("tiny-modernbert", "layer_types", "[\"full_attention\"]", RERANK_ERR_FORMAT, "layer_types");
    refuse("tiny-modernbert", "rope_parameters", "{\"sliding_attention\": {\"rope_type\": \"yarn\", \"factor\": 4}}",
           RERANK_ERR_UNSUPPORTED, "yarn");
    refuse("tiny-modernbert", "rope_scaling", "{\"rope_type\": \"linear\", \"factor\": 2}", RERANK_ERR_UNSUPPORTED,
           "linear");
}

TEST(info) {
    rerank_model_t *m = load_fixture("tiny-modernbert", FP32);
    CHECK(m != NULL);
    if (!m) return;
    rerank_model_info_t info;
    rerank_model_get_info(m, &info);
    CHECK(!strcmp(info.family, "modernbert") && !strcmp(info.model_type, "modernbert"));
    CHECK(info.num_layers == 3 && info.hidden_size == 16 && info.max_positions == 8192);
    CHECK(info.default_max_length == 8192);
    rerank_model_free(m);
    m = load_fixture("tiny-gte", FP32);
    CHECK(m != NULL);
    if (!m) return;
    rerank_model_get_info(m, &info);
    CHECK(!strcmp(info.family, "gte") && !strcmp(info.model_type, "new") && info.num_layers == 2);
    /* Type ids beyond type_vocab_size (1) are refused. */
    int32_t ids[] = {0, 100, 2, 2, 200, 2}, types[] = {0, 0, 0, 0, 1, 0};
    rerank_pair_t p = {ids, types, 6};
    float s;
    CHECK(rerank_score_tokens(m, &p, 1, NULL, &s) == RERANK_ERR_INVALID_ARGUMENT);
    types[4] = 0;
    CHECK(rerank_score_tokens(m, &p, 1, NULL, &s) == RERANK_OK && isfinite(s));
    rerank_model_free(m);
}

/* The profile splits attention time by kind of layer: tiny-modernbert's
 * layer 1 is its only local one. */
TEST(profile_split) {
    rerank_model_t *m = load_fixture("tiny-modernbert", FP32);
    CHECK(m != NULL);
    if (!m) return;
    static int32_t ids[600];
    for (int i = 0; i < 600; i++) ids[i] = 100 + (i * 37) % 50000;
    rerank_pair_t p = {ids, NULL, 600};
    rr_profile_t a, b;
    float s;
    rr_model_profile(m, &a);
    CHECK(rerank_score_tokens(m, &p, 1, NULL, &s) == RERANK_OK);
    rr_model_profile(m, &b);
    CHECK(b.attention_calls - a.attention_calls == 3 && b.attention_local_calls - a.attention_local_calls == 1);
    CHECK(b.attention_local_s > a.attention_local_s && b.attention_local_s <= b.attention_s);
    rerank_score_options_t o = rerank_score_options_default();
    o.layers = 1; /* layer 0 is global */
    CHECK(rerank_score_tokens(m, &p, 1, &o, &s) == RERANK_OK);
    rr_model_profile(m, &a);
    CHECK(a.attention_calls - b.attention_calls == 1 && a.attention_local_calls == b.attention_local_calls);
    rerank_model_free(m);
}

/* Both read 8192 tokens (their positions), and not one more. */
TEST(long_inputs) {
    static int32_t ids[8193];
    for (int i = 0; i < 8193; i++) ids[i] = 100 + (i * 7919) % 50000;
    const char *models[] = {"tiny-gte", "tiny-modernbert"};
    for (int k = 0; k < 2; k++) {
        rerank_model_t *m = load_fixture(models[k], FP32);
        CHECK(m != NULL);
        if (!m) continue;
        rerank_pair_t p[2] = {{ids, NULL, 8192}, {ids, NULL, 300}};
        float s[2] = {NAN, NAN}, one;
        CHECK_MSG(rerank_score_tokens(m, p, 2, NULL, s) == RERANK_OK, "%s", rerank_last_error());
        CHECK(isfinite(s[0]) && isfinite(s[1]));
        CHECK(rerank_score_tokens(m, &p[1], 1, NULL, &one) == RERANK_OK && fabs(one - s[1]) <= 1e-5);
        p[0].n = 8193;
        CHECK(rerank_score_tokens(m, p, 1, NULL, s) == RERANK_ERR_LIMIT);
        rerank_model_free(m);
    }
}

int main(void) {
    RUN(golden_tiny_gte);
    RUN(golden_tiny_gte_layers1);
    RUN(golden_tiny_modernbert);
    RUN(golden_tiny_modernbert_layers1);
    RUN(golden_tiny_modernbert_cls);
    RUN(golden_bf16_int8);
    RUN(modernbert_window_matters);
    RUN(modernbert_config_defaults);
    RUN(config_errors);
    RUN(info);
    RUN(profile_split);
    RUN(long_inputs);
    TEST_MAIN_END();
}
