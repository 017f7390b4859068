/* test_qwen3.c — the Qwen3 family (Qwen3ForCausalLM as a yes/no reranker,
 * Qwen3ForSequenceClassification) against the float64 golden scores of
 * pairs-qwen3.jsonl: every fixture model, @layers=1, batched vs single,
 * seq-cls vs causal, bf16 / int8, the text path with instructions, and
 * configs the family must refuse. */
#include <jansson.h>
#include <limits.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/bench_api.h"
#include "engine/engine.h"
#include "golden.h"
#include "test.h"

#define PAIRS "pairs-qwen3.jsonl"
#define N_RECORDS 311 /* records in pairs-qwen3.jsonl */

static rerank_model_t *load_dir(const char *dir, rerank_precision_t prec) {
    rerank_model_t *m = NULL;
    rerank_model_options_t o = rerank_model_options_default();
    o.precision = prec;
    o.threads = 1; /* the scores do not depend on it; spinning OpenMP threads on a busy machine do cost */
    if (rerank_model_load(dir, &o, &m) != RERANK_OK) fprintf(stderr, "  load %s: %s\n", dir, rerank_last_error());
    return m;
}

static rerank_model_t *load_fixture(const char *name, rerank_precision_t prec) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/fixtures/models/%s", t_shared(), name);
    return load_dir(dir, prec);
}

/* Scores of every record, one call per record (single) and all in one
 * call (batch); 0 on success. */
static int score_all(rerank_model_t *m, const golden_t *g, int32_t layers, float *single, float *batch) {
    rerank_score_options_t o = rerank_score_options_default();
    o.layers = layers;
    for (size_t i = 0; i < g->n; i++) {
        rerank_status_t st = rerank_score_tokens(m, &g->pairs[i], 1, &o, &single[i]);
        CHECK_MSG(st == RERANK_OK, "record %zu: %s", i, rerank_last_error());
        if (st) return -1;
    }
    rerank_status_t st = rerank_score_tokens(m, g->pairs, g->n, &o, batch);
    CHECK_MSG(st == RERANK_OK, "batch: %s", rerank_last_error());
    return st ? -1 : 0;
}

/* Model `model` at `prec` against the reference under `key`, within tol;
 * batched within 1e-5 of single. Writes the single scores to out (if not
 * NULL). */
static void check_golden(const char *model, const char *key, int32_t layers, rerank_precision_t prec, double tol,
                         float *out) {
    golden_t *g = golden_load(PAIRS);
    if (!g) {
        CHECK(0);
        return;
    }
    CHECK(g->n == N_RECORDS);
    rerank_model_t *m = load_fixture(model, prec);
    if (prec == RERANK_PRECISION_INT8) {
        /* int8: batched vs single with shared prefixes off. With them on
         * the batch shares its prompts, which int8 attention's value scale
         * (over a call's keys) makes differ by its quantization error
         * (test_shared_prefix.c, int8_bound) */
        char dir[512];
        snprintf(dir, sizeof dir, "%s/fixtures/models/%s", t_shared(), model);
        rerank_model_options_t o = rerank_model_options_default();
        o.precision = prec;
        o.threads = 1;
        o.shared_prefix = RERANK_SHARED_PREFIX_OFF;
        rerank_model_free(m);
        m = NULL;
        if (rerank_model_load(dir, &o, &m) != RERANK_OK) fprintf(stderr, "  load %s: %s\n", dir, rerank_last_error());
    }
    CHECK(m != NULL);
    float *single = calloc(g->n, sizeof *single), *batch = calloc(g->n, sizeof *batch);
    if (m && !score_all(m, g, layers, single, batch)) {
        double max_ref = 0, max_batch = 0;
        for (size_t i = 0; i < g->n; i++) {
            double ref = golden_score(g, i, key), d = fabs(single[i] - ref), db = fabs(single[i] - batch[i]);
            max_ref = d > max_ref ? d : max_ref;
            max_batch = db > max_batch ? db : max_batch;
            CHECK_MSG(d <= tol, "%s record %zu (%d ids): %.7f vs reference %.7f", key, i, g->pairs[i].n, single[i],
                      ref);
            CHECK_MSG(db <= 1e-5, "%s record %zu: batched %.7f vs single %.7f", key, i, batch[i], single[i]);
        }
        rerank_model_info_t mi;
        rerank_model_get_info(m, &mi);
        printf("  %-20s %s (compute %s): max |score - reference| = %.3g, max |batched - single| = %.3g\n", key,
               rerank_precision_str(prec), mi.compute, max_ref, max_batch);
        if (out) memcpy(out, single, g->n * sizeof *out);
    }
    rerank_model_free(m);
    free(single);
    free(batch);
    golden_free(g);
}

static float g_causal[N_RECORDS], g_seqcls[N_RECORDS]; /* fp32 scores of tiny-qwen3 and -seqcls */

TEST(golden_fp32) {
    check_golden("tiny-qwen3", "tiny-qwen3", 0, RERANK_PRECISION_FP32, 1e-4, g_causal);
    check_golden("tiny-qwen3-bf16", "tiny-qwen3-bf16", 0, RERANK_PRECISION_FP32, 1e-4, NULL);
    check_golden("tiny-qwen3-untied", "tiny-qwen3-untied", 0, RERANK_PRECISION_FP32, 1e-4, NULL);
    check_golden("tiny-qwen3-seqcls", "tiny-qwen3-seqcls", 0, RERANK_PRECISION_FP32, 1e-4, g_seqcls);
}

/* --layers 1: the final norm and the head after the first layer. */
TEST(golden_layers1) { check_golden("tiny-qwen3", "tiny-qwen3@layers=1", 1, RERANK_PRECISION_FP32, 1e-4, NULL); }

/* The seq-cls checkpoint's score row is lm_head[yes] - lm_head[no] of the
 * causal one (rounded to F32): the two agree record by record. */
TEST(seqcls_agrees_with_causal) {
    double worst = 0, spread = 0;
    for (int i = 0; i < N_RECORDS; i++) {
        worst = fabs(g_causal[i] - g_seqcls[i]) > worst ? fabs(g_causal[i] - g_seqcls[i]) : worst;
        spread = fabs(g_causal[i] - g_causal[0]) > spread ? fabs(g_causal[i] - g_causal[0]) : spread;
    }
    printf("  seq-cls vs causal: max |diff| = %.3g (scores spread over %.3g)\n", worst, spread);
    CHECK_MSG(worst <= 1e-5 && spread > 0.1, "seq-cls vs causal: %g, spread %g", worst, spread);
}

/* Reduced precisions stay close to the float64 reference (bf16 computes
 * in fp32 where oneDNN has no bf16 matmul). */
TEST(golden_bf16_int8) {
    check_golden("tiny-qwen3", "tiny-qwen3", 0, RERANK_PRECISION_BF16, 5e-2, NULL);
    check_golden("tiny-qwen3", "tiny-qwen3", 0, RERANK_PRECISION_INT8, 1.5e-1, NULL);
    check_golden("tiny-qwen3-untied", "tiny-qwen3-untied", 0, RERANK_PRECISION_INT8, 1.5e-1, NULL);
}

/* rerank_score from text: the recipe with each record's instruction and
 * max_length gives the golden ids and the reference score. */
TEST(text_path) {
    char path[512];
    snprintf(path, sizeof path, "%s/fixtures/golden/%s", t_shared(), PAIRS);
    rerank_model_t *m = load_fixture("tiny-qwen3", RERANK_PRECISION_FP32);
    CHECK(m != NULL);
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    int n = 0, bad_ids = 0, bad_scores = 0, custom = 0;
    double worst = 0;
    rerank_encoding_t enc = {0};
    while (m && f && getline(&line, &cap, f) > 0) {
        json_error_t e;
        json_t *r = json_loads(line, JSON_ALLOW_NUL, &e);
        if (!r) continue;
        json_t *jq = json_object_get(r, "query"), *jd = json_object_get(r, "doc"),
               *ji = json_object_get(r, "instruction");
        json_t *ids = json_object_get(r, "input_ids");
        const char *doc = json_string_value(jd);
        size_t dl = json_string_length(jd);
        rerank_score_options_t o = rerank_score_options_default();
        o.pair.max_length = (int32_t)json_integer_value(json_object_get(r, "max_length"));
        o.pair.instruction = json_string_value(ji);
        o.pair.instruction_len = json_string_length(ji);
        if (strcmp(json_string_value(ji), "Given a web search query, retrieve relevant passages that answer the query"))
            custom++;
        rerank_status_t st =
            rerank_model_tokenize_pair(m, json_string_value(jq), json_string_length(jq), doc, dl, &o.pair, &enc);
        CHECK_MSG(st == RERANK_OK, "record %d: %s", n, rerank_last_error());
        int same = !st && enc.n == json_array_size(ids);
        for (size_t i = 0; same && i < enc.n; i++) same = enc.ids[i] == json_integer_value(json_array_get(ids, i));
        bad_ids += !same;
        float s = 0;
        st = rerank_score(m, json_string_value(jq), json_string_length(jq), &doc, &dl, 1, &o, &s);
        CHECK_MSG(st == RERANK_OK, "record %d: %s", n, rerank_last_error());
        double d = fabs(s - json_number_value(json_object_get(json_object_get(r, "scores"), "tiny-qwen3")));
        bad_scores += d > 1e-4;
        worst = d > worst ? d : worst;
        n++;
        json_decref(r);
    }
    free(line);
    if (f) fclose(f);
    rerank_encoding_free(&enc);
    printf("  text path: %d records (%d with another instruction), %d ids differ, %d scores off by > 1e-4, "
           "max |diff| = %.3g\n",
           n, custom, bad_ids, bad_scores, worst);
    CHECK(n == N_RECORDS && custom > 0 && bad_ids == 0 && bad_scores == 0);
    rerank_model_free(m);
}

/* What the model says it is; the default instruction is the model card's
 * (NULL and the default text give the same ids); the prompt is never cut
 * into its suffix. */
TEST(info_and_prompt) {
    rerank_model_t *m = load_fixture("tiny-qwen3", RERANK_PRECISION_FP32);
    CHECK(m != NULL);
    if (!m) return;
    rerank_model_info_t mi;
    rerank_model_get_info(m, &mi);
    CHECK(!strcmp(mi.architecture, "Qwen3ForCausalLM") && !strcmp(mi.family, "qwen3") &&
          !strcmp(mi.model_type, "qwen3") && !strcmp(mi.prompt, "qwen3-reranker"));
    CHECK(mi.num_layers == 2 && mi.hidden_size == 16 && mi.num_heads == 4 && mi.num_kv_heads == 2 && mi.head_dim == 8 &&
          mi.intermediate_size == 32 && mi.num_labels == 1);
    CHECK(mi.default_max_length == 8192 && mi.max_positions == 8192 && mi.vocab_size == 151669);
    rerank_encoding_t a = {0}, b = {0};
    rerank_pair_options_t po = rerank_pair_options_default();
    CHECK(rerank_model_tokenize_pair(m, "q", 1, "d", 1, &po, &a) == RERANK_OK);
    const char *def = "Given a web search query, retrieve relevant passages that answer the query";
    po.instruction = def;
    po.instruction_len = strlen(def);
    CHECK(rerank_model_tokenize_pair(m, "q", 1, "d", 1, &po, &b) == RERANK_OK);
    CHECK(a.n == b.n && !memcmp(a.ids, b.ids, a.n * sizeof *a.ids));
    /* A long document cut to 60 ids keeps the 9-id suffix, ending "\n\n". */
    char doc[4000];
    for (int i = 0; i < 3999; i++) doc[i] = i % 5 == 4 ? ' ' : 'a' + i % 5;
    doc[3999] = 0;
    po = rerank_pair_options_default();
    po.max_length = 60;
    CHECK(rerank_model_tokenize_pair(m, "q", 1, doc, strlen(doc), &po, &a) == RERANK_OK);
    CHECK(a.n == 60 && a.ids[59] == b.ids[b.n - 1] && a.ids[51] == 151645 /* <|im_end|> */);
    /* none: never cut; the prompt over the positions fails when scored. */
    po.truncation = RERANK_TRUNC_NONE;
    CHECK(rerank_model_tokenize_pair(m, "q", 1, doc, strlen(doc), &po, &a) == RERANK_OK && a.n > 60);
    rerank_encoding_free(&a);
    rerank_encoding_free(&b);
    rerank_model_free(m);
}

/* bench's FLOPs (../shared/bench/README-qwen3.md): grouped-query
 * projections, SwiGLU's three matrices, the causal triangle, two head
 * rows; early exit counts only the layers run. */
TEST(pair_flops) {
    rerank_model_t *m = load_fixture("tiny-qwen3", RERANK_PRECISION_FP32);
    CHECK(m != NULL);
    if (!m) return;
    const double H = 16, Hq = 4 * 8, Hkv = 2 * 8, I = 32, n = 100;
    for (int32_t layers = 0; layers <= 1; layers++) {
        const double L = layers ? 1 : 2;
        rr_pair_flops_t f;
        rr_model_pair_flops(m, layers, n, &f);
        CHECK_NEAR(f.linear, 2 * n * (H * Hq + 2 * H * Hkv + Hq * H + 3 * H * I) * L, 1e-6);
        CHECK_NEAR(f.attention, 2 * n * n * Hq * L, 1e-6);
        CHECK_NEAR(f.head, 2 * 2 * H, 1e-9);
    }
    rerank_model_free(m);
}

/* A cross-encoder takes no instruction. */
TEST(encoder_rejects_instruction) {
    rerank_model_t *m = load_fixture("tiny-xlmr", RERANK_PRECISION_FP32);
    CHECK(m != NULL);
    if (!m) return;
    rerank_score_options_t o = rerank_score_options_default();
    o.pair.instruction = "Find the animal";
    o.pair.instruction_len = strlen(o.pair.instruction);
    const char *doc = "a bear";
    float s = 0;
    CHECK(rerank_score(m, "q", 1, &doc, NULL, 1, &o, &s) == RERANK_ERR_INVALID_ARGUMENT);
    CHECK(strstr(rerank_last_error(), "instruction") != NULL);
    rerank_model_free(m);
}

/* --- configs and checkpoints, on copies of tiny-qwen3 with config.json changed */

static char g_tmp[256];
static const char *g_base = "tiny-qwen3"; /* whose config.json write_config edits */

static void link_fixture(const char *model, const char *file) {
    char from[512], to[512];
    snprintf(from, sizeof from, "%s/fixtures/models/%s/%s", t_shared(), model, file);
    char abs_from[PATH_MAX];
    if (!realpath(from, abs_from)) return;
    snprintf(to, sizeof to, "%s/%s", g_tmp, file);
    unlink(to);
    CHECK(symlink(abs_from, to) == 0);
}

/* g_base's config.json with `key` set to the JSON `value` (NULL: removed). */
static void write_config(const char *key, const char *value) {
    char src[512], dst[300];
    snprintf(src, sizeof src, "%s/fixtures/models/%s/config.json", t_shared(), g_base);
    snprintf(dst, sizeof dst, "%s/config.json", g_tmp);
    json_error_t e;
    json_t *cfg = json_load_file(src, 0, &e);
    if (value)
        json_object_set_new(cfg, key, json_loads(value, JSON_DECODE_ANY, &e));
    else
        json_object_del(cfg, key);
    json_dump_file(cfg, dst, 0);
    json_decref(cfg);
}

static rerank_status_t try_config(const char *key, const char *value, float *score) {
    write_config(key, value);
    rerank_model_t *m = NULL;
    rerank_status_t st = rerank_model_load(g_tmp, NULL, &m);
    if (!st && score) {
        const char *doc = "The giant panda is a bear.";
        st = rerank_score(m, "what is panda?", 14, &doc, NULL, 1, NULL, score);
    }
    rerank_model_free(m);
    return st;
}

TEST(configs) {
    snprintf(g_tmp, sizeof g_tmp, "/tmp/rr_test_qwen3_%d", (int)getpid());
    mkdir(g_tmp, 0700);
    link_fixture("tiny-qwen3", "model.safetensors");
    link_fixture("tiny-qwen3", "tokenizer.json");
    float base = 0, s = 0;
    CHECK(try_config("use_cache", "true", &base) == RERANK_OK);
    /* No lm_head.weight in the checkpoint: untied falls back to the embeddings. */
    CHECK(try_config("tie_word_embeddings", "false", &s) == RERANK_OK && s == base);
    /* transformers 5's rope_parameters carry the same theta. */
    write_config("rope_theta", NULL);
    CHECK(try_config("rope_parameters", "{\"rope_theta\": 1000000, \"rope_type\": \"default\"}", &s) == RERANK_OK &&
          s == base);
    /* A different theta changes the score (rotary positions are used). */
    CHECK(try_config("rope_theta", "10000", &s) == RERANK_OK && s != base);
    CHECK(try_config("use_sliding_window", "true", NULL) == RERANK_ERR_UNSUPPORTED);
    CHECK(strstr(rerank_last_error(), "use_sliding_window") != NULL);
    CHECK(try_config("rope_scaling", "{\"rope_type\": \"yarn\", \"factor\": 4.0}", NULL) == RERANK_ERR_UNSUPPORTED);
    CHECK(strstr(rerank_last_error(), "yarn") != NULL);
    CHECK(try_config("hidden_act", "\"gelu\"", NULL) == RERANK_ERR_UNSUPPORTED);
    CHECK(try_config("layer_types", "[\"full_attention\", \"sliding_attention\"]", NULL) == RERANK_ERR_UNSUPPORTED);
    CHECK(try_config("layer_types", "[\"full_attention\", \"full_attention\"]", &s) == RERANK_OK && s == base);
    /* attention_bias: the checkpoint has no q_proj.bias. */
    CHECK(try_config("attention_bias", "true", NULL) == RERANK_ERR_FORMAT);
    CHECK(strstr(rerank_last_error(), "bias") != NULL);
    CHECK(try_config("head_dim", "4", NULL) == RERANK_ERR_FORMAT);
    /* A seq-cls config on the causal checkpoint: no score.weight. */
    g_base = "tiny-qwen3-seqcls";
    CHECK(try_config("use_cache", "true", NULL) == RERANK_ERR_FORMAT);
    CHECK(strstr(rerank_last_error(), "score.weight") != NULL);
    CHECK(try_config("id2label", "{\"0\": \"A\", \"1\": \"B\"}", NULL) == RERANK_ERR_UNSUPPORTED);
    g_base = "tiny-qwen3";

    /* Without its tokenizer a causal model cannot know "yes" and "no". */
    write_config("use_cache", "true");
    rerank_model_t *m = NULL;
    CHECK(rr_model_load(g_tmp, NULL, RR_LOAD_NO_TOKENIZER, &m) == RERANK_OK);
    int32_t ids[] = {151644, 8948, 198};
    rerank_pair_t p = {ids, NULL, 3};
    CHECK(m && rerank_score_tokens(m, &p, 1, NULL, &s) == RERANK_ERR_INVALID_ARGUMENT);
    CHECK(strstr(rerank_last_error(), "\"yes\"") != NULL);
    rerank_model_free(m);

    char path[300];
    const char *files[] = {"config.json", "model.safetensors", "tokenizer.json"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", g_tmp, files[i]);
        unlink(path);
    }
    rmdir(g_tmp);
}

int main(void) {
    RUN(golden_fp32);
    RUN(golden_layers1);
    RUN(seqcls_agrees_with_causal);
    RUN(golden_bf16_int8);
    RUN(text_path);
    RUN(info_and_prompt);
    RUN(pair_flops);
    RUN(encoder_rejects_instruction);
    RUN(configs);
    TEST_MAIN_END();
}
