/* test_model.c — the fp32 engine against the golden scores of the fixture
 * models, batched vs one-at-a-time, input validation, load errors. */
#include <jansson.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "engine/engine.h"
#include "golden.h"
#include "test.h"

static rerank_model_t *load_fixture_prec(const char *name, rerank_precision_t prec) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/fixtures/models/%s", t_shared(), name);
    rerank_model_t *m = NULL;
    rerank_model_options_t o = rerank_model_options_default();
    o.precision = prec;
    if (rr_model_load(dir, &o, RR_LOAD_NO_TOKENIZER, &m) != RERANK_OK)
        fprintf(stderr, "  load %s: %s\n", name, rerank_last_error());
    return m;
}

static rerank_model_t *load_fixture(const char *name) { return load_fixture_prec(name, RERANK_PRECISION_FP32); }

/* Score every record one call per record and all in one call; compare with
 * the reference under `key` and with each other. */
static void check_golden_prec(const char *file, const char *model, const char *key, int32_t layers,
                              rerank_precision_t prec, double tol) {
    golden_t *g = golden_load(file);
    if (!g) { CHECK(0); return; }
    CHECK(g->n == 409);
    rerank_model_t *m = load_fixture_prec(model, prec);
    CHECK(m != NULL);
    if (!m) { golden_free(g); return; }
    rerank_score_options_t o = rerank_score_options_default();
    o.layers = layers;
    float *single = calloc(g->n, sizeof *single), *batch = calloc(g->n, sizeof *batch);
    double max_ref = 0, max_batch = 0;
    for (size_t i = 0; i < g->n; i++) {
        rerank_status_t st = rerank_score_tokens(m, &g->pairs[i], 1, &o, &single[i]);
        CHECK_MSG(st == RERANK_OK, "record %zu: %s", i, rerank_last_error());
        double ref = golden_score(g, i, key);
        double d = fabs(single[i] - ref);
        if (d > max_ref) max_ref = d;
        CHECK_MSG(d <= tol, "%s record %zu: %.7f vs reference %.7f", key, i, single[i], ref);
    }
    rerank_status_t st = rerank_score_tokens(m, g->pairs, g->n, &o, batch);
    CHECK_MSG(st == RERANK_OK, "%s", rerank_last_error());
    for (size_t i = 0; i < g->n; i++) {
        double d = fabs(single[i] - batch[i]);
        if (d > max_batch) max_batch = d;
        CHECK_MSG(d <= 1e-5, "%s record %zu: batched %.7f vs single %.7f", key, i, batch[i], single[i]);
    }
    printf("  %-20s %s: max |score - reference| = %.3g, max |batched - single| = %.3g\n", key,
           rerank_precision_str(prec), max_ref, max_batch);
    rerank_model_free(m);
    free(single);
    free(batch);
    golden_free(g);
}

static void check_golden(const char *file, const char *model, const char *key, int32_t layers) {
    check_golden_prec(file, model, key, layers, RERANK_PRECISION_FP32, 1e-4);
}

TEST(golden_tiny_xlmr) { check_golden("pairs-xlmr.jsonl", "tiny-xlmr", "tiny-xlmr", 0); }
TEST(golden_tiny_xlmr_f16) { check_golden("pairs-xlmr.jsonl", "tiny-xlmr-f16", "tiny-xlmr-f16", 0); }
TEST(golden_tiny_xlmr_bf16) { check_golden("pairs-xlmr.jsonl", "tiny-xlmr-bf16", "tiny-xlmr-bf16", 0); }
TEST(golden_tiny_xlmr_layers1) { check_golden("pairs-xlmr.jsonl", "tiny-xlmr", "tiny-xlmr@layers=1", 1); }
TEST(golden_tiny_bert) { check_golden("pairs-bert.jsonl", "tiny-bert", "tiny-bert", 0); }

/* rerank_score: tokenize (query, doc) with the model's tokenizer and score;
 * golden records without a `note` must match their reference. */
static void check_text(const char *file, const char *model, const char *key) {
    char dir[512], path[512];
    snprintf(dir, sizeof dir, "%s/fixtures/models/%s", t_shared(), model);
    snprintf(path, sizeof path, "%s/fixtures/golden/%s", t_shared(), file);
    rerank_model_t *m = NULL;
    if (rerank_model_load(dir, NULL, &m) != RERANK_OK) {
        CHECK_MSG(0, "load %s: %s", model, rerank_last_error());
        return;
    }
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    int n = 0, mismatched = 0;
    double worst = 0;
    while (f && getline(&line, &cap, f) > 0) {
        json_error_t e;
        json_t *r = json_loads(line, JSON_ALLOW_NUL, &e);
        if (!r) continue;
        if (!json_object_get(r, "note")) {
            json_t *jq = json_object_get(r, "query"), *jd = json_object_get(r, "doc");
            const char *doc = json_string_value(jd);
            size_t dl = json_string_length(jd);
            rerank_score_options_t o = rerank_score_options_default();
            o.pair.max_length = (int32_t)json_integer_value(json_object_get(r, "max_length"));
            o.pair.truncation = strcmp(json_string_value(json_object_get(r, "truncation")), "flag") ? RERANK_TRUNC_LONGEST_FIRST
                                                                                               : RERANK_TRUNC_FLAG;
            float s = 0;
            rerank_status_t st = rerank_score(m, json_string_value(jq), json_string_length(jq), &doc, &dl, 1, &o, &s);
            CHECK_MSG(st == RERANK_OK, "record %d: %s", n, rerank_last_error());
            double d = fabs(s - json_number_value(json_object_get(json_object_get(r, "scores"), key)));
            if (d > 1e-4) mismatched++;
            if (d > worst) worst = d;
            n++;
        }
        json_decref(r);
    }
    free(line);
    if (f) fclose(f);
    printf("  %-20s text path: %d records, %d off by > 1e-4, max |diff| = %.3g\n", key, n, mismatched, worst);
    CHECK(n > 300 && mismatched == 0);
    rerank_model_free(m);
}

TEST(text_tiny_xlmr) { check_text("pairs-xlmr.jsonl", "tiny-xlmr", "tiny-xlmr"); }
TEST(text_tiny_bert) { check_text("pairs-bert.jsonl", "tiny-bert", "tiny-bert"); }

/* Reduced precisions against the float64 reference: bf16 (or its fp32
 * fallback on CPUs without an oneDNN bf16 matmul) and int8 with per-token
 * activation scales, so batched still equals single exactly. */
TEST(golden_bf16) {
    check_golden_prec("pairs-xlmr.jsonl", "tiny-xlmr", "tiny-xlmr", 0, RERANK_PRECISION_BF16, 2e-2);
    check_golden_prec("pairs-bert.jsonl", "tiny-bert", "tiny-bert", 0, RERANK_PRECISION_BF16, 2e-2);
}
TEST(golden_int8) {
    check_golden_prec("pairs-xlmr.jsonl", "tiny-xlmr", "tiny-xlmr", 0, RERANK_PRECISION_INT8, 1e-1);
    check_golden_prec("pairs-bert.jsonl", "tiny-bert", "tiny-bert", 0, RERANK_PRECISION_INT8, 1e-1);
}

TEST(info_and_options) {
    rerank_model_t *m = load_fixture("tiny-xlmr-f16");
    CHECK(m != NULL);
    if (!m) return;
    rerank_model_info_t info;
    rerank_model_get_info(m, &info);
    CHECK(!strcmp(info.architecture, "XLMRobertaForSequenceClassification"));
    CHECK(!strcmp(info.model_type, "xlm-roberta"));
    CHECK(info.num_layers == 2 && info.hidden_size == 32 && info.num_heads == 4 && info.intermediate_size == 64);
    CHECK(info.max_positions == 512 && info.vocab_size == 250002 && info.num_labels == 1);
    CHECK(!strcmp(info.weights_dtype, "F16") && !strcmp(info.device, "cpu"));
    CHECK(info.precision == RERANK_PRECISION_FP32);
    CHECK(rerank_model_tokenizer(m) == NULL);

    rerank_precision_t p;
    CHECK(rerank_precision_parse("bf16", &p) == RERANK_OK && p == RERANK_PRECISION_BF16);
    CHECK(rerank_precision_parse("int8", &p) == RERANK_OK && p == RERANK_PRECISION_INT8);
    CHECK(rerank_precision_parse("fp16", &p) == RERANK_OK && p == RERANK_PRECISION_FP16);
    CHECK(rerank_precision_parse("fp8", &p) == RERANK_OK && p == RERANK_PRECISION_FP8);
    p = RERANK_PRECISION_INT8;
    CHECK(rerank_precision_parse("fp64", &p) == RERANK_ERR_INVALID_ARGUMENT && p == RERANK_PRECISION_INT8);
    CHECK(strstr(rerank_last_error(), "fp64") != NULL);
    CHECK(rerank_precision_parse(NULL, &p) == RERANK_ERR_INVALID_ARGUMENT);
    CHECK(!strcmp(rerank_precision_str(RERANK_PRECISION_FP32), "fp32"));
    CHECK(!strcmp(rerank_precision_str(RERANK_PRECISION_FP8), "fp8"));
    CHECK(!strcmp(rerank_precision_str((rerank_precision_t)99), "unknown"));
    rerank_score_options_t so = rerank_score_options_default();
    CHECK(so.pair.max_length == 0 && so.pair.truncation == RERANK_TRUNC_FLAG && so.pair.direction == RERANK_TRUNC_RIGHT &&
          so.pair.instruction == NULL && so.layers == 0 && so.normalize == 0);
    CHECK(!strcmp(info.family, "xlm-roberta") && info.num_kv_heads == 4 && info.head_dim == 8 &&
          info.default_max_length == 512 && info.device_memory_bytes == 0);
    CHECK(rerank_model_healthy(m) == 1);

    /* normalize = sigmoid of the logit */
    int32_t ids[] = {0, 100, 2, 2, 200, 2};
    rerank_pair_t pr = {ids, NULL, 6};
    float raw, sig;
    CHECK(rerank_score_tokens(m, &pr, 1, &so, &raw) == RERANK_OK);
    so.normalize = 1;
    CHECK(rerank_score_tokens(m, &pr, 1, &so, &sig) == RERANK_OK);
    CHECK_NEAR(sig, 1.0 / (1.0 + exp(-raw)), 1e-6);
    rerank_model_free(m);
}

TEST(invalid_inputs) {
    rerank_model_t *m = load_fixture("tiny-bert");
    CHECK(m != NULL);
    if (!m) return;
    float s = 123;
    int32_t ids[600], types[600];
    for (int i = 0; i < 600; i++) { ids[i] = 1000 + i; types[i] = 0; }
    rerank_pair_t p = {ids, types, 10};
    CHECK(rerank_score_tokens(m, &p, 1, NULL, &s) == RERANK_OK);
    CHECK(rerank_score_tokens(m, &p, 0, NULL, &s) == RERANK_OK);
    CHECK(rerank_score_tokens(m, NULL, 1, NULL, &s) == RERANK_ERR_INVALID_ARGUMENT);
    CHECK(rerank_score_tokens(m, &p, 1, NULL, NULL) == RERANK_ERR_INVALID_ARGUMENT);
    CHECK(rerank_score_tokens(NULL, &p, 1, NULL, &s) == RERANK_ERR_INVALID_ARGUMENT);
    p.n = 0;
    CHECK(rerank_score_tokens(m, &p, 1, NULL, &s) == RERANK_ERR_INVALID_ARGUMENT);
    p.n = 513;
    CHECK(rerank_score_tokens(m, &p, 1, NULL, &s) == RERANK_ERR_LIMIT);
    CHECK(strstr(rerank_last_error(), "513") != NULL);
    p.n = 512;
    CHECK(rerank_score_tokens(m, &p, 1, NULL, &s) == RERANK_OK);
    p.n = 10;
    ids[3] = 30522;
    CHECK(rerank_score_tokens(m, &p, 1, NULL, &s) == RERANK_ERR_INVALID_ARGUMENT);
    CHECK(strstr(rerank_last_error(), "30522") != NULL);
    ids[3] = -1;
    CHECK(rerank_score_tokens(m, &p, 1, NULL, &s) == RERANK_ERR_INVALID_ARGUMENT);
    ids[3] = 5;
    types[2] = 2;
    CHECK(rerank_score_tokens(m, &p, 1, NULL, &s) == RERANK_ERR_INVALID_ARGUMENT);
    types[2] = 1;
    CHECK(rerank_score_tokens(m, &p, 1, NULL, &s) == RERANK_OK);
    rerank_score_options_t o = rerank_score_options_default();
    o.layers = 3;
    CHECK(rerank_score_tokens(m, &p, 1, &o, &s) == RERANK_ERR_INVALID_ARGUMENT);
    o.layers = -1;
    CHECK(rerank_score_tokens(m, &p, 1, &o, &s) == RERANK_ERR_INVALID_ARGUMENT);
    rerank_model_free(m);
}

/* Pad tokens inside a RoBERTa input take position pad_id (as transformers
 * does): scoring must not read past the position table. */
TEST(roberta_pad_positions) {
    rerank_model_t *m = load_fixture("tiny-xlmr");
    CHECK(m != NULL);
    if (!m) return;
    int32_t ids[512];
    for (int i = 0; i < 512; i++) ids[i] = i % 2 ? 1 : 7;
    rerank_pair_t p = {ids, NULL, 512};
    float s = 0;
    CHECK(rerank_score_tokens(m, &p, 1, NULL, &s) == RERANK_OK);
    CHECK(isfinite(s));
    rerank_model_free(m);
}

/* Batches larger than one forward chunk are split and give the same scores. */
TEST(chunked_batches) {
    rerank_model_t *m = load_fixture("tiny-bert");
    CHECK(m != NULL);
    if (!m) return;
    enum { P = 70 };
    static int32_t ids[P][512];
    rerank_pair_t pairs[P];
    for (int p = 0; p < P; p++) {
        int n = 300 + (p * 37) % 212;
        for (int i = 0; i < n; i++) ids[p][i] = (p * 131 + i * 7) % 30000 + 100;
        pairs[p] = (rerank_pair_t){ids[p], NULL, n};
    }
    float all[P], one;
    CHECK(rerank_score_tokens(m, pairs, P, NULL, all) == RERANK_OK);
    double worst = 0;
    for (int p = 0; p < P; p++) {
        CHECK(rerank_score_tokens(m, &pairs[p], 1, NULL, &one) == RERANK_OK);
        if (fabs(one - all[p]) > worst) worst = fabs(one - all[p]);
    }
    CHECK_MSG(worst <= 1e-5, "max diff %g", worst);
    rerank_model_free(m);
}

/* --- load errors, on copies of the fixture with one file changed --------- */

static char g_tmp[256];

static void copy_file(const char *from, const char *to) {
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    char buf[1 << 16];
    size_t n;
    while (a && b && (n = fread(buf, 1, sizeof buf, a)) > 0) fwrite(buf, 1, n, b);
    if (a) fclose(a);
    if (b) fclose(b);
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (f) { fputs(text, f); fclose(f); }
}

static rerank_status_t load_tmp(void) {
    rerank_model_t *m = NULL;
    rerank_status_t st = rr_model_load(g_tmp, NULL, RR_LOAD_NO_TOKENIZER, &m);
    rerank_model_free(m);
    return st;
}

static const char *k_cfg_tmpl =
    "{\"architectures\": [\"%s\"], \"model_type\": \"bert\", \"hidden_size\": 32, \"num_hidden_layers\": 2,"
    " \"num_attention_heads\": %d, \"intermediate_size\": 64, \"max_position_embeddings\": 512,"
    " \"type_vocab_size\": 2, \"vocab_size\": 30522, \"pad_token_id\": 0, \"layer_norm_eps\": 1e-12,"
    " \"hidden_act\": \"%s\", \"id2label\": {%s}}";

static rerank_status_t try_config(const char *arch, int heads, const char *act, const char *labels) {
    char text[1024], path[300];
    snprintf(text, sizeof text, k_cfg_tmpl, arch, heads, act, labels);
    snprintf(path, sizeof path, "%s/config.json", g_tmp);
    write_text(path, text);
    return load_tmp();
}

TEST(load_errors) {
    snprintf(g_tmp, sizeof g_tmp, "/tmp/rr_test_model_%d", (int)getpid());
    mkdir(g_tmp, 0700);
    char src[512], dst[512];
    snprintf(src, sizeof src, "%s/fixtures/models/tiny-bert/model.safetensors", t_shared());
    snprintf(dst, sizeof dst, "%s/model.safetensors", g_tmp);
    copy_file(src, dst);

    CHECK(try_config("BertForSequenceClassification", 4, "gelu", "\"0\": \"LABEL_0\"") == RERANK_OK);
    CHECK(try_config("GPT2LMHeadModel", 4, "gelu", "\"0\": \"LABEL_0\"") == RERANK_ERR_UNSUPPORTED);
    CHECK(strstr(rerank_last_error(), "GPT2LMHeadModel") != NULL);
    CHECK(try_config("BertForSequenceClassification", 4, "relu", "\"0\": \"LABEL_0\"") == RERANK_ERR_UNSUPPORTED);
    CHECK(try_config("BertForSequenceClassification", 4, "gelu", "\"0\": \"A\", \"1\": \"B\"") ==
          RERANK_ERR_UNSUPPORTED);
    CHECK(try_config("BertForSequenceClassification", 5, "gelu", "\"0\": \"LABEL_0\"") == RERANK_ERR_FORMAT);
    CHECK(try_config("BertForSequenceClassification", 100000, "gelu", "\"0\": \"LABEL_0\"") == RERANK_ERR_LIMIT);
    /* The BERT checkpoint under an XLM-R config: tensors are missing. */
    CHECK(try_config("XLMRobertaForSequenceClassification", 4, "gelu", "\"0\": \"LABEL_0\"") == RERANK_ERR_FORMAT);
    CHECK(strstr(rerank_last_error(), "roberta.") != NULL);
    /* Bind errors name the checkpoint file and the config's architecture. */
    char want[600];
    snprintf(want, sizeof want, "%s/model.safetensors (config.json: XLMRobertaForSequenceClassification): missing "
             "tensor 'roberta.embeddings.word_embeddings.weight'", g_tmp);
    CHECK_MSG(strstr(rerank_last_error(), want) != NULL, "%s", rerank_last_error());
    char path[300];
    snprintf(path, sizeof path, "%s/config.json", g_tmp);
    write_text(path, "{\"architectures\": [\"BertForSequenceClassification\"], \"hidden_size\": 32");
    CHECK(load_tmp() == RERANK_ERR_FORMAT);
    write_text(path, "[]");
    CHECK(load_tmp() == RERANK_ERR_FORMAT);
    write_text(path, "{\"hidden_size\": 32}");
    CHECK(load_tmp() == RERANK_ERR_UNSUPPORTED);
    /* Wrong shape: a config whose hidden size disagrees with the tensors. */
    write_text(path, "{\"architectures\": [\"BertForSequenceClassification\"], \"hidden_size\": 64,"
                     " \"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"intermediate_size\": 64,"
                     " \"max_position_embeddings\": 512, \"vocab_size\": 30522, \"id2label\": {\"0\": \"x\"}}");
    CHECK(load_tmp() == RERANK_ERR_FORMAT);
    CHECK(strstr(rerank_last_error(), "word_embeddings") != NULL);
    snprintf(want, sizeof want, "%s/model.safetensors (config.json: BertForSequenceClassification): tensor "
             "'bert.embeddings.word_embeddings.weight' has shape [30522, 32], expected [30522, 64]", g_tmp);
    CHECK_MSG(strstr(rerank_last_error(), want) != NULL, "%s", rerank_last_error());
    /* More layers than the checkpoint has. */
    write_text(path, "{\"architectures\": [\"BertForSequenceClassification\"], \"hidden_size\": 32,"
                     " \"num_hidden_layers\": 3, \"num_attention_heads\": 4, \"intermediate_size\": 64,"
                     " \"max_position_embeddings\": 512, \"vocab_size\": 30522, \"id2label\": {\"0\": \"x\"}}");
    CHECK(load_tmp() == RERANK_ERR_FORMAT);
    CHECK(strstr(rerank_last_error(), "encoder.layer.2") != NULL);
    unlink(path);
    CHECK(load_tmp() == RERANK_ERR_IO);

    /* Options. */
    rerank_model_options_t o = rerank_model_options_default();
    o.device = "cuda:0";
    rerank_model_t *m = NULL;
    snprintf(src, sizeof src, "%s/fixtures/models/tiny-bert", t_shared());
    CHECK(rr_model_load(src, &o, RR_LOAD_NO_TOKENIZER, &m) == RERANK_ERR_UNSUPPORTED && m == NULL);
    o = rerank_model_options_default();
    o.threads = -1;
    CHECK(rr_model_load(src, &o, RR_LOAD_NO_TOKENIZER, &m) == RERANK_ERR_INVALID_ARGUMENT && m == NULL);
    CHECK(rerank_model_load(NULL, NULL, &m) == RERANK_ERR_INVALID_ARGUMENT);
    unlink(dst);
    rmdir(g_tmp);
}

/* Every allocation failure during load and scoring is reported, not fatal. */
TEST(alloc_failures) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/fixtures/models/tiny-xlmr-f16", t_shared());
    int32_t ids[] = {0, 100, 2, 2, 200, 2};
    rerank_pair_t pr = {ids, NULL, 6};
    int completed = 0;
    for (unsigned long k = 1; k < 2000 && !completed; k++) {
        rerank_model_t *m = NULL;
        rr_alloc_fail_at(k);
        rerank_status_t st = rr_model_load(dir, NULL, RR_LOAD_NO_TOKENIZER, &m);
        float s;
        if (st == RERANK_OK) st = rerank_score_tokens(m, &pr, 1, NULL, &s);
        int failed = rr_alloc_failed();
        rr_alloc_fail_at(0);
        rerank_model_free(m);
        if (!failed) { CHECK(st == RERANK_OK); completed = 1; }
        /* jansson drops characters when its string buffer cannot grow, so a
         * failure inside the JSON parser may surface as a format error. */
        else CHECK_MSG(st == RERANK_ERR_NOMEM || st == RERANK_ERR_FORMAT || st == RERANK_ERR_UNSUPPORTED,
                       "allocation %lu: status %d (%s)", k, st, rerank_last_error());
    }
    CHECK(completed);
}

/* jansson's allocator is global and the host program's: loading a model
 * (config.json, the safetensors header, tokenizer.json) must leave it as
 * the program set it, or the program's own json_t would later be freed
 * with another allocator's free. */
static unsigned long g_host_json_allocs;
static void *host_json_malloc(size_t n) {
    g_host_json_allocs++;
    return malloc(n);
}
static void host_json_free(void *p) { free(p); }

TEST(host_json_allocator) {
    json_malloc_t prev_malloc;
    json_free_t prev_free;
    json_get_alloc_funcs(&prev_malloc, &prev_free);
    json_set_alloc_funcs(host_json_malloc, host_json_free);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/fixtures/models/tiny-xlmr", t_shared());
    rerank_model_t *m = NULL;
    CHECK(rerank_model_load(dir, NULL, &m) == RERANK_OK);
    json_malloc_t a;
    json_free_t f;
    json_get_alloc_funcs(&a, &f);
    CHECK_MSG(a == host_json_malloc && f == host_json_free, "rerank_model_load replaced jansson's allocator");
    CHECK(g_host_json_allocs > 0); /* the library's parsing went through it */
    rerank_model_free(m);
    json_set_alloc_funcs(prev_malloc, prev_free);
}

int main(void) {
    rr_alloc_init_json(); /* jansson's allocations count in the fault loops (the library never routes them) */
    RUN(host_json_allocator);
    RUN(golden_tiny_xlmr);
    RUN(golden_tiny_xlmr_f16);
    RUN(golden_tiny_xlmr_bf16);
    RUN(golden_tiny_xlmr_layers1);
    RUN(golden_tiny_bert);
    RUN(golden_bf16);
    RUN(golden_int8);
    RUN(text_tiny_xlmr);
    RUN(text_tiny_bert);
    RUN(info_and_options);
    RUN(invalid_inputs);
    RUN(roberta_pad_positions);
    RUN(chunked_batches);
    RUN(load_errors);
    RUN(alloc_failures);
    TEST_MAIN_END();
}
