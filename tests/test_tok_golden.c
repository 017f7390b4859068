/* test_tok_golden.c — the whole tokenizer (rerank_tokenize /
 * rerank_tokenize_pair) against Hugging Face tokenizers 0.23 goldens in
 * ../shared/fixtures/golden: every id must be identical. The same pairs
 * truncated from the left (RERANK_TRUNC_LEFT) must keep the golden's
 * per-sequence lengths, with the last tokens of each sequence instead of the
 * first. pairs-truncation.jsonl (longest_first corner cases, tokenizers
 * >= 0.23's early exit) must be identical too. */
#include <jansson.h>
#include <time.h>

#include "common/alloc.h"
#include "rerank.h"
#include "test.h"
#include "tok_expect.h"
#include "tok_pair.h"
#include "tokenizer/internal.h"

static rerank_tokenizer_t *load_model(const char *model) {
    char path[1024];
    snprintf(path, sizeof path, "%s/fixtures/models/%s", t_shared(), model);
    rerank_tokenizer_t *tok = NULL;
    rerank_status_t st = rerank_tokenizer_load(path, &tok);
    CHECK_MSG(st == RERANK_OK, "load %s: %s", path, rerank_last_error());
    return tok;
}

static int same_ids(const json_t *want, const int32_t *got, size_t n) {
    if (!json_is_array(want) || json_array_size(want) != n) return 0;
    for (size_t i = 0; i < n; i++)
        if (json_integer_value(json_array_get(want, i)) != got[i]) return 0;
    return 1;
}

static void show(const char *label, const json_t *want, const int32_t *got, size_t n) {
    char *ws = json_dumps(want, JSON_COMPACT);
    fprintf(stderr, "    %s want: %s\n    %s got:  [", label, ws ? ws : "?", label);
    for (size_t i = 0; i < n; i++) fprintf(stderr, "%s%d", i ? "," : "", got[i]);
    fprintf(stderr, "]\n");
    free(ws);
}

static FILE *open_golden(const char *name) {
    char path[1024];
    snprintf(path, sizeof path, "%s/fixtures/golden/%s", t_shared(), name);
    FILE *f = fopen(path, "r");
    CHECK_MSG(f != NULL, "cannot open %s", path);
    return f;
}

static void golden_tokenize(const char *label, const char *model, const char *file, int want_total) {
    rerank_tokenizer_t *tok = load_model(model);
    FILE *f = open_golden(file);
    if (!tok || !f) { if (f) fclose(f); rerank_tokenizer_free(tok); return; }
    char *line = NULL;
    size_t cap = 0;
    ssize_t ll;
    int total = 0, same = 0, shown = 0;
    rerank_encoding_t enc = {0};
    while ((ll = getline(&line, &cap, f)) > 0) {
        json_t *rec = json_loadb(line, (size_t)ll, JSON_ALLOW_NUL, NULL);
        if (!rec) continue;
        const json_t *tj = json_object_get(rec, "text");
        rerank_status_t st = rerank_tokenize(tok, json_string_value(tj), json_string_length(tj), &enc);
        int ok = st == RERANK_OK && same_ids(json_object_get(rec, "ids"), enc.ids, enc.n);
        total++;
        same += ok;
        if (!ok && shown++ < 8) {
            fprintf(stderr, "  mismatch id=%lld source=%s%s%s\n    text: %s\n",
                    (long long)json_integer_value(json_object_get(rec, "id")),
                    json_string_value(json_object_get(rec, "source")), st ? " error: " : "",
                    st ? rerank_last_error() : "", json_string_value(tj));
            show("", json_object_get(rec, "ids"), enc.ids, st ? 0 : enc.n);
        }
        json_decref(rec);
    }
    free(line);
    fclose(f);
    printf("%s tokenize: %d/%d identical\n", label, same, total);
    CHECK(total == want_total);
    CHECK(same == total);
    rerank_encoding_free(&enc);
    rerank_tokenizer_free(tok);
}

static int enc_eq(const rerank_encoding_t *a, const rerank_encoding_t *b) {
    return a->n == b->n && !memcmp(a->ids, b->ids, a->n * sizeof *a->ids) &&
           !memcmp(a->type_ids, b->type_ids, a->n * sizeof *a->type_ids);
}

/* Left truncation of one golden pair: the kept lengths (which must rebuild
 * the golden, Right, encoding exactly) and each side's tail in the
 * template. 1 if the Left encoding is that. */
static int left_matches(const rerank_tokenizer_t *tok, const json_t *q, const json_t *d, int32_t max_length,
                        rerank_truncation_t tr, const rerank_encoding_t *golden_right) {
    rerank_encoding_t want = {0}, left = {0};
    const char *qs = json_string_value(q), *ds = json_string_value(d);
    size_t ql = json_string_length(q), dl = json_string_length(d);
    int ok = tok_expect_pair(tok, qs, ql, ds, dl, max_length, tr, RERANK_TRUNC_RIGHT, &want) == RERANK_OK &&
             enc_eq(&want, golden_right);
    ok = ok && tok_expect_pair(tok, qs, ql, ds, dl, max_length, tr, RERANK_TRUNC_LEFT, &want) == RERANK_OK;
    ok = ok && tok_pair(tok, qs, ql, ds, dl, max_length, tr, RERANK_TRUNC_LEFT, &left) == RERANK_OK &&
         enc_eq(&want, &left);
    rerank_encoding_free(&want);
    rerank_encoding_free(&left);
    return ok;
}

static void golden_pairs(const char *label, const char *model, const char *file, int want_total) {
    rerank_tokenizer_t *tok = load_model(model);
    FILE *f = open_golden(file);
    if (!tok || !f) { if (f) fclose(f); rerank_tokenizer_free(tok); return; }
    char *line = NULL;
    size_t cap = 0;
    ssize_t ll;
    int total[2] = {0, 0}, same[2] = {0, 0}, shown = 0, noted = 0, noted_same = 0, left_same = 0;
    rerank_encoding_t enc = {0};
    while ((ll = getline(&line, &cap, f)) > 0) {
        json_t *rec = json_loadb(line, (size_t)ll, JSON_ALLOW_NUL, NULL);
        if (!rec) continue;
        const json_t *q = json_object_get(rec, "query"), *d = json_object_get(rec, "doc");
        const char *tr = json_string_value(json_object_get(rec, "truncation"));
        int lf = tr && !strcmp(tr, "longest_first");
        int32_t max_length = (int32_t)json_integer_value(json_object_get(rec, "max_length"));
        rerank_status_t st = tok_pair(
            tok, json_string_value(q), json_string_length(q), json_string_value(d),
            json_string_length(d), max_length, lf ? RERANK_TRUNC_LONGEST_FIRST : RERANK_TRUNC_FLAG, RERANK_TRUNC_RIGHT, &enc);
        int ok = st == RERANK_OK && same_ids(json_object_get(rec, "input_ids"), enc.ids, enc.n) &&
                 same_ids(json_object_get(rec, "token_type_ids"), enc.type_ids, enc.n);
        total[lf]++;
        same[lf] += ok;
        int lok = ok && left_matches(tok, q, d, max_length, lf ? RERANK_TRUNC_LONGEST_FIRST : RERANK_TRUNC_FLAG, &enc);
        left_same += lok;
        if (ok && !lok && shown++ < 5)
            fprintf(stderr, "  left mismatch id=%lld %s max_length=%d\n",
                    (long long)json_integer_value(json_object_get(rec, "id")), tr, max_length);
        if (json_object_get(rec, "note")) { noted++; noted_same += ok; }
        if (!ok && shown++ < 5) {
            fprintf(stderr, "  mismatch id=%lld %s max_length=%d%s%s\n    query: %s\n    doc: %.200s\n",
                    (long long)json_integer_value(json_object_get(rec, "id")), tr, max_length,
                    st ? " error: " : "", st ? rerank_last_error() : "", json_string_value(q),
                    json_string_value(d));
            show("ids", json_object_get(rec, "input_ids"), enc.ids, st ? 0 : enc.n);
            show("types", json_object_get(rec, "token_type_ids"), enc.type_ids, st ? 0 : enc.n);
        }
        json_decref(rec);
    }
    free(line);
    fclose(f);
    printf("%s pairs: flag %d/%d identical, longest_first %d/%d identical "
           "(untruncated-corner records: %d/%d); truncated from the left: %d/%d as expected\n",
           label, same[0], total[0], same[1], total[1], noted_same, noted, left_same, total[0] + total[1]);
    CHECK(total[0] + total[1] == want_total);
    CHECK(same[0] == total[0]);
    CHECK(same[1] == total[1]);
    CHECK(left_same == total[0] + total[1]);
    rerank_encoding_free(&enc);
    rerank_tokenizer_free(tok);
}

/* pairs-truncation.jsonl: every record without a note identical (ids and
 * type ids), Right and, with the same lengths, Left. Records with a note
 * (max_length below the special tokens, where HF subtracts them from an
 * unsigned length, which wraps: each side keeps what its early exit at
 * max_length left, uncut) identical too; max_length 0 there means "no
 * limit" in this library, so those must come out untruncated. */
TEST(truncation_pairs) {
    rerank_tokenizer_t *tk[2] = {load_model("tiny-xlmr"), load_model("tiny-bert")};
    FILE *f = open_golden("pairs-truncation.jsonl");
    if (!tk[0] || !tk[1] || !f) { if (f) fclose(f); rerank_tokenizer_free(tk[0]); rerank_tokenizer_free(tk[1]); return; }
    char *line = NULL;
    size_t cap = 0;
    ssize_t ll;
    int total = 0, plain = 0, same = 0, left_same = 0, noted = 0, noted_ok = 0, shown = 0;
    rerank_encoding_t enc = {0}, full = {0};
    while ((ll = getline(&line, &cap, f)) > 0) {
        json_t *rec = json_loadb(line, (size_t)ll, JSON_ALLOW_NUL, NULL);
        if (!rec) continue;
        total++;
        const rerank_tokenizer_t *tok = tk[!strcmp(json_string_value(json_object_get(rec, "tokenizer")), "bert")];
        const json_t *q = json_object_get(rec, "query"), *d = json_object_get(rec, "doc");
        const char *qs = json_string_value(q), *ds = json_string_value(d);
        size_t ql = json_string_length(q), dl = json_string_length(d);
        int32_t max_length = (int32_t)json_integer_value(json_object_get(rec, "max_length"));
        CHECK(!strcmp(json_string_value(json_object_get(rec, "truncation")), "longest_first"));
        rerank_status_t st = tok_pair(tok, qs, ql, ds, dl, max_length, RERANK_TRUNC_LONGEST_FIRST, RERANK_TRUNC_RIGHT, &enc);
        if (json_object_get(rec, "note")) {
            noted++;
            int ok;
            if (max_length > 0) {
                ok = st == RERANK_OK && same_ids(json_object_get(rec, "input_ids"), enc.ids, enc.n) &&
                     same_ids(json_object_get(rec, "token_type_ids"), enc.type_ids, enc.n);
            } else {
                ok = st == RERANK_OK &&
                     tok_pair(tok, qs, ql, ds, dl, 0, RERANK_TRUNC_NONE, RERANK_TRUNC_RIGHT, &full) == RERANK_OK &&
                     enc_eq(&enc, &full);
            }
            noted_ok += ok;
            if (!ok && shown++ < 5)
                fprintf(stderr, "  noted record id=%lld max_length=%d: status %d (%s)\n",
                        (long long)json_integer_value(json_object_get(rec, "id")), max_length, (int)st,
                        st ? rerank_last_error() : "ok");
            json_decref(rec);
            continue;
        }
        plain++;
        int ok = st == RERANK_OK && same_ids(json_object_get(rec, "input_ids"), enc.ids, enc.n) &&
                 same_ids(json_object_get(rec, "token_type_ids"), enc.type_ids, enc.n);
        same += ok;
        left_same += ok && left_matches(tok, q, d, max_length, RERANK_TRUNC_LONGEST_FIRST, &enc);
        if (!ok && shown++ < 5) {
            fprintf(stderr, "  mismatch id=%lld case=%s max_length=%d%s%s\n",
                    (long long)json_integer_value(json_object_get(rec, "id")),
                    json_string_value(json_object_get(rec, "case")), max_length, st ? " error: " : "",
                    st ? rerank_last_error() : "");
            show("ids", json_object_get(rec, "input_ids"), enc.ids, st ? 0 : enc.n);
        }
        json_decref(rec);
    }
    free(line);
    fclose(f);
    printf("truncation pairs: %d/%d identical, Left as expected %d/%d; noted records (max_length below the "
           "specials): %d/%d identical (or, at 0, no truncation)\n",
           same, plain, left_same, plain, noted_ok, noted);
    CHECK(total == 707 && plain == 686 && noted == 21);
    CHECK(same == plain);
    CHECK(left_same == plain);
    CHECK(noted_ok == noted);
    rerank_encoding_free(&enc);
    rerank_encoding_free(&full);
    rerank_tokenizer_free(tk[0]);
    rerank_tokenizer_free(tk[1]);
}

TEST(xlmr_tokenize) { golden_tokenize("xlmr", "tiny-xlmr", "tokenize-xlmr.jsonl", 2449); }
TEST(xlmr_pairs) { golden_pairs("xlmr", "tiny-xlmr", "pairs-xlmr.jsonl", 409); }
TEST(bert_tokenize) { golden_tokenize("bert", "tiny-bert", "tokenize-bert.jsonl", 2449); }
TEST(qwen3_tokenize) { golden_tokenize("qwen3", "tiny-qwen3", "tokenize-qwen3.jsonl", 2739); }
/* the same tokenizer with its merges written as "a b" strings */
TEST(qwen3_untied_tokenize) { golden_tokenize("qwen3 (\"a b\" merges)", "tiny-qwen3-untied", "tokenize-qwen3.jsonl", 2739); }
TEST(bert_pairs) { golden_pairs("bert", "tiny-bert", "pairs-bert.jsonl", 409); }

TEST(modernbert_tokenize) { golden_tokenize("modernbert", "tiny-modernbert", "tokenize-modernbert.jsonl", 2839); }

TEST(modernbert_pairs) { golden_pairs("modernbert", "tiny-modernbert", "pairs-modernbert.jsonl", 300); }
TEST(gte_pairs) { golden_pairs("gte", "tiny-gte", "pairs-gte.jsonl", 300); }

int main(void) {
    RUN(xlmr_tokenize);
    RUN(xlmr_pairs);
    RUN(bert_tokenize);
    RUN(bert_pairs);
    RUN(truncation_pairs);
    RUN(qwen3_tokenize);
    RUN(qwen3_untied_tokenize);
    RUN(modernbert_tokenize);
    RUN(modernbert_pairs);
    RUN(gte_pairs);
    TEST_MAIN_END();
}
