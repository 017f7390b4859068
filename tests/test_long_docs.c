/* test_long_docs.c — long documents (rerank_model_window_pair,
 * rerank_score_long) on the tiny XLM-R fixture: windows are exact cuts of
 * the document's ids in the pair template, chunk scores equal the windows
 * scored on their own, the best window is the one reported, a passage at
 * the end that truncation loses is found by chunking, bounds and errors,
 * allocation failures; and the same inside an LLM reranker's prompt
 * (tiny-qwen3). */
#include "common/alloc.h"
#include "rerank.h"
#include "test.h"

static rerank_model_t *g_model;

static const char k_query[] = "what is the capital of France?";
static const char k_filler[] =
    "The weather report for the coming week says rain in the north and sunshine along the coast, with mild winds.";
/* Candidates for the passage at the end; the model's own scores pick the
 * one it ranks above the filler (random weights: relevance is the model's
 * call, not ours). */
static const char *const k_candidates[] = {
    "Paris is the capital and largest city of France.",
    "The capital of France is Paris, on the river Seine.",
    "France's capital city, Paris, has over two million inhabitants.",
    "what is the capital of France? Paris.",
    "Paris.",
    "Capital of France: Paris",
    "The French government sits in Paris, the capital.",
    "Paris has been the capital of France since the tenth century.",
};
#define N_CAND (sizeof k_candidates / sizeof *k_candidates)

/* A long document: `reps` fillers then `tail`, separated by spaces. */
static char *long_doc(int reps, const char *tail) {
    size_t cap = (size_t)reps * (sizeof k_filler + 1) + strlen(tail) + 1;
    char *s = malloc(cap), *p = s;
    for (int i = 0; i < reps; i++) p += sprintf(p, "%s ", k_filler);
    strcpy(p, tail);
    return s;
}

static rerank_encoding_t ids_of(const char *text) {
    rerank_encoding_t e = {0};
    CHECK(rerank_tokenize(rerank_model_tokenizer(g_model), text, strlen(text), &e) == RERANK_OK);
    return e;
}

/* The pair template's special tokens, from the pair of two empty texts
 * (<s> </s></s> </s> for XLM-R): [0] before the query, [1, 3) between, [3] at the end. */
static void template_ids(int32_t sp[4]) {
    rerank_encoding_t e = {0};
    CHECK(rerank_tokenize_pair(rerank_model_tokenizer(g_model), "", 0, "", 0, NULL, &e) == RERANK_OK);
    CHECK(e.n == 4);
    for (int i = 0; i < 4 && i < (int)e.n; i++) sp[i] = e.ids[i];
    rerank_encoding_free(&e);
}

/* Window w built here, independently: sp[0] q sp[1] sp[2] d[a, b) sp[3]. */
static int32_t *build_window(const rerank_encoding_t *q, const rerank_encoding_t *d, size_t a, size_t b, int32_t *n) {
    int32_t sp[4];
    template_ids(sp);
    int32_t *v = malloc((q->n + (b - a) + 4) * sizeof *v), k = 0;
    v[k++] = sp[0];
    for (size_t i = 0; i < q->n; i++) v[k++] = q->ids[i];
    v[k++] = sp[1];
    v[k++] = sp[2];
    for (size_t i = a; i < b; i++) v[k++] = d->ids[i];
    v[k++] = sp[3];
    *n = k;
    return v;
}

static float score_ids(const int32_t *ids, int32_t n) {
    rerank_pair_t p = {ids, NULL, n};
    float s = 0;
    CHECK(rerank_score_tokens(g_model, &p, 1, NULL, &s) == RERANK_OK);
    return s;
}

/* The windows are the document's ids cut [w * stride, w * stride + win),
 * the last one ending at the document's end, each in the pair template. */
TEST(windows_are_cuts) {
    char *doc = long_doc(12, k_candidates[0]);
    rerank_encoding_t q = ids_of(k_query), d = ids_of(doc);
    rerank_pair_options_t po = rerank_pair_options_default();
    po.max_length = 64;
    rerank_long_options_t lo = rerank_long_options_default();
    lo.mode = RERANK_LONG_DOCS_CHUNK;
    lo.chunk_tokens = 20;
    lo.chunk_overlap = 5;
    rerank_windows_t w = {0};
    CHECK(rerank_model_window_pair(g_model, k_query, strlen(k_query), doc, strlen(doc), &po, &lo, &w) == RERANK_OK);
    size_t win = 20, stride = 15, nd = d.n;
    CHECK(nd > 100);
    size_t want = 1 + (nd - win + stride - 1) / stride;
    CHECK_MSG(w.n == want, "%zu windows, want %zu", w.n, want);
    for (size_t k = 0; k < w.n; k++) {
        size_t a = k * stride, b = a + win < nd ? a + win : nd;
        int32_t n;
        int32_t *v = build_window(&q, &d, a, b, &n);
        CHECK(w.len[k] == n && !memcmp(w.enc.ids + w.offset[k], v, (size_t)n * sizeof *v));
        CHECK(w.chunks[k].chunk == (int32_t)k && w.chunks[k].n_chunks == (int32_t)w.n);
        CHECK(w.chunks[k].token_start == (int32_t)a && w.chunks[k].token_end == (int32_t)b);
        CHECK(w.chunks[k].doc_tokens == (int32_t)nd);
        /* type ids as the template says: all 0 for XLM-R */
        for (int32_t i = 0; i < w.len[k]; i++) CHECK(w.enc.type_ids[w.offset[k] + (size_t)i] == 0);
        free(v);
    }
    CHECK(w.n && w.chunks[w.n - 1].token_end == (int32_t)nd);
    /* chunk_tokens 0: the whole room, 64 - 4 special - the query */
    lo.chunk_tokens = 0;
    lo.chunk_overlap = 0;
    CHECK(rerank_model_window_pair(g_model, k_query, strlen(k_query), doc, strlen(doc), &po, &lo, &w) == RERANK_OK);
    CHECK(w.n > 1 && w.len[0] == 64 && w.chunks[0].token_end == (int32_t)(64 - 4 - q.n));
    /* chunk_tokens above the room: the window is the room, and the overlap
     * keeps its share of it (overlap * room / chunk_tokens, rounded down);
     * an overlap the room alone cannot hold (chunk_tokens 0) is an error */
    {
        const size_t room = 64 - 4 - q.n, ov = 60 * room / 100;
        lo.chunk_tokens = 100;
        lo.chunk_overlap = 60; /* not below the room, below chunk_tokens */
        CHECK(60 >= room && ov < room);
        CHECK(rerank_model_window_pair(g_model, k_query, strlen(k_query), doc, strlen(doc), &po, &lo, &w) == RERANK_OK);
        CHECK_MSG(w.n == 1 + (nd - room + (room - ov) - 1) / (room - ov), "%zu windows", w.n);
        for (size_t k = 0; k < w.n; k++) {
            size_t a = k * (room - ov), b = a + room < nd ? a + room : nd;
            CHECK(w.chunks[k].token_start == (int32_t)a && w.chunks[k].token_end == (int32_t)b);
        }
        lo.chunk_tokens = 0;
        CHECK(rerank_model_window_pair(g_model, k_query, strlen(k_query), doc, strlen(doc), &po, &lo, &w) ==
              RERANK_ERR_INVALID_ARGUMENT);
        CHECK(strstr(rerank_last_error(), "chunk_overlap = 60 must be below") != NULL);
        lo.chunk_overlap = 0;
    }
    /* a short document: one window, the very pair rerank_model_tokenize_pair gives */
    rerank_encoding_t e = {0};
    CHECK(rerank_model_window_pair(g_model, k_query, strlen(k_query), "Paris.", 6, &po, &lo, &w) == RERANK_OK);
    CHECK(rerank_model_tokenize_pair(g_model, k_query, strlen(k_query), "Paris.", 6, &po, &e) == RERANK_OK);
    CHECK(w.n == 1 && w.len[0] == (int32_t)e.n && !memcmp(w.enc.ids, e.ids, e.n * sizeof *e.ids));
    /* truncate mode: one window, the pair rerank_model_tokenize_pair gives */
    lo.mode = RERANK_LONG_DOCS_TRUNCATE;
    CHECK(rerank_model_window_pair(g_model, k_query, strlen(k_query), doc, strlen(doc), &po, &lo, &w) == RERANK_OK);
    CHECK(rerank_model_tokenize_pair(g_model, k_query, strlen(k_query), doc, strlen(doc), &po, &e) == RERANK_OK);
    CHECK(w.n == 1 && w.len[0] == (int32_t)e.n && e.n == 64 && !memcmp(w.enc.ids, e.ids, e.n * sizeof *e.ids));
    CHECK(w.chunks[0].n_chunks == 1);
    rerank_encoding_free(&e);
    rerank_windows_free(&w);
    rerank_encoding_free(&q);
    rerank_encoding_free(&d);
    free(doc);
}

/* rerank_score_long's chunk score is the best of the windows scored one
 * by one, and the chunk it reports is that window. */
TEST(chunk_score_is_best_window) {
    char *doc = long_doc(10, k_candidates[1]);
    rerank_encoding_t q = ids_of(k_query), d = ids_of(doc);
    rerank_score_options_t so = rerank_score_options_default();
    so.pair.max_length = 48;
    rerank_long_options_t lo = rerank_long_options_default();
    lo.mode = RERANK_LONG_DOCS_CHUNK;
    lo.chunk_tokens = 24;
    lo.chunk_overlap = 8;
    const char *docs[2] = {doc, "Paris."};
    float s[2];
    rerank_chunk_info_t best[2];
    CHECK(rerank_score_long(g_model, k_query, strlen(k_query), docs, NULL, 2, &so, &lo, s, best) == RERANK_OK);
    size_t stride = 16, nd = d.n, n = 1 + (nd - 24 + stride - 1) / stride;
    CHECK(best[0].n_chunks == (int32_t)n);
    float top = -INFINITY;
    size_t arg = 0;
    float *each = calloc(n, sizeof *each);
    for (size_t k = 0; k < n; k++) {
        size_t a = k * stride, b = a + 24 < nd ? a + 24 : nd;
        int32_t len;
        int32_t *v = build_window(&q, &d, a, b, &len);
        each[k] = score_ids(v, len);
        if (each[k] > top) { top = each[k]; arg = k; }
        free(v);
    }
    /* the same ids give the same score, up to the GEMM's batch rounding */
    CHECK_NEAR(s[0], top, 1e-5);
    CHECK_MSG(best[0].chunk == (int32_t)arg || fabsf(each[best[0].chunk] - top) <= 1e-5f, "chunk %d, best %zu",
              best[0].chunk, arg);
    CHECK(best[0].token_start == (int32_t)(best[0].chunk * stride));
    /* the short document: one window */
    CHECK(best[1].n_chunks == 1 && best[1].chunk == 0 && best[1].token_start == 0);
    /* normalize: sigmoid of the same best logit */
    so.normalize = 1;
    float p[2];
    CHECK(rerank_score_long(g_model, k_query, strlen(k_query), docs, NULL, 2, &so, &lo, p, NULL) == RERANK_OK);
    CHECK_NEAR(p[0], 1.0 / (1.0 + exp(-(double)s[0])), 1e-6);
    free(each);
    rerank_encoding_free(&q);
    rerank_encoding_free(&d);
    free(doc);
}

/* A passage at the end of a long document: truncation scores only the
 * fillers at its start, chunking finds the last window. Windows are cut
 * at the passages' own token boundaries, so each is one passage. */
TEST(chunk_finds_passage_at_end) {
    rerank_encoding_t q = ids_of(k_query), f = ids_of(k_filler);
    /* the candidate the model scores highest on its own, above the filler */
    float sf = 0, sbest = -INFINITY;
    size_t ibest = 0;
    const char *one[1] = {k_filler};
    CHECK(rerank_score(g_model, k_query, strlen(k_query), one, NULL, 1, NULL, &sf) == RERANK_OK);
    for (size_t i = 0; i < N_CAND; i++) {
        float sc;
        one[0] = k_candidates[i];
        CHECK(rerank_score(g_model, k_query, strlen(k_query), one, NULL, 1, NULL, &sc) == RERANK_OK);
        rerank_encoding_t c = ids_of(k_candidates[i]);
        if (sc > sbest && c.n <= f.n) { sbest = sc; ibest = i; }
        rerank_encoding_free(&c);
    }
    CHECK_MSG(sbest > sf + 1e-4f, "no candidate above the filler (%g vs %g)", sbest, sf);
    char *doc = long_doc(6, k_candidates[ibest]);
    rerank_encoding_t d = ids_of(doc), c = ids_of(k_candidates[ibest]);
    /* the document's ids are the passages' ids back to back */
    CHECK(d.n == 6 * f.n + c.n);
    CHECK(d.n >= c.n && !memcmp(d.ids + d.n - c.n, c.ids, c.n * sizeof *c.ids));
    rerank_score_options_t so = rerank_score_options_default();
    so.pair.max_length = (int32_t)(q.n + f.n + 4);
    rerank_long_options_t lo = rerank_long_options_default();
    const char *docs[1] = {doc};
    float st, sc;
    rerank_chunk_info_t bt, bc;
    CHECK(rerank_score_long(g_model, k_query, strlen(k_query), docs, NULL, 1, &so, &lo, &st, &bt) == RERANK_OK);
    lo.mode = RERANK_LONG_DOCS_CHUNK;
    lo.chunk_tokens = (int32_t)f.n;
    CHECK(rerank_score_long(g_model, k_query, strlen(k_query), docs, NULL, 1, &so, &lo, &sc, &bc) == RERANK_OK);
    /* truncation: the first filler alone; chunking: the passage, last */
    CHECK_NEAR(st, sf, 1e-5);
    CHECK_NEAR(sc, sbest, 1e-5);
    CHECK(sc > st);
    CHECK(bc.n_chunks == 7 && bc.chunk == 6);
    CHECK(bc.token_start == (int32_t)(6 * f.n) && bc.token_end == (int32_t)d.n && bc.doc_tokens == (int32_t)d.n);
    /* truncate mode equals rerank_score */
    float plain;
    CHECK(rerank_score(g_model, k_query, strlen(k_query), docs, NULL, 1, &so, &plain) == RERANK_OK);
    CHECK(plain == st);
    /* max_chunks_per_doc 3: the rest is not scored, doc_tokens says so */
    lo.max_chunks_per_doc = 3;
    CHECK(rerank_score_long(g_model, k_query, strlen(k_query), docs, NULL, 1, &so, &lo, &sc, &bc) == RERANK_OK);
    CHECK(bc.n_chunks == 3 && bc.chunk < 3 && bc.doc_tokens == (int32_t)d.n);
    CHECK_NEAR(sc, sf, 1e-5);
    /* max_tokens_per_doc cuts first: from the left, the passage is all that is left */
    lo.max_chunks_per_doc = 0;
    lo.max_tokens_per_doc = (int32_t)c.n;
    so.pair.direction = RERANK_TRUNC_LEFT;
    CHECK(rerank_score_long(g_model, k_query, strlen(k_query), docs, NULL, 1, &so, &lo, &sc, &bc) == RERANK_OK);
    CHECK(bc.n_chunks == 1 && bc.doc_tokens == (int32_t)c.n);
    CHECK_NEAR(sc, sbest, 1e-5);
    /* ... in truncate mode too */
    lo.mode = RERANK_LONG_DOCS_TRUNCATE;
    CHECK(rerank_score_long(g_model, k_query, strlen(k_query), docs, NULL, 1, &so, &lo, &sc, &bc) == RERANK_OK);
    CHECK(bc.doc_tokens == (int32_t)c.n && bc.token_end == (int32_t)c.n);
    CHECK_NEAR(sc, sbest, 1e-5);
    rerank_encoding_free(&q);
    rerank_encoding_free(&f);
    rerank_encoding_free(&d);
    rerank_encoding_free(&c);
    free(doc);
}

TEST(bad_options) {
    rerank_long_options_t lo = rerank_long_options_default();
    rerank_pair_options_t po = rerank_pair_options_default();
    rerank_windows_t w = {0};
    const char *doc = k_filler;
    lo.mode = RERANK_LONG_DOCS_CHUNK;
    /* overlap not below the window */
    lo.chunk_tokens = 10;
    lo.chunk_overlap = 10;
    CHECK(rerank_model_window_pair(g_model, "q", 1, doc, strlen(doc), &po, &lo, &w) == RERANK_ERR_INVALID_ARGUMENT);
    CHECK(strstr(rerank_last_error(), "chunk_overlap") != NULL);
    lo.chunk_overlap = -1;
    CHECK(rerank_model_window_pair(g_model, "q", 1, doc, strlen(doc), &po, &lo, &w) == RERANK_ERR_INVALID_ARGUMENT);
    lo.chunk_overlap = 0;
    lo.chunk_tokens = -2;
    CHECK(rerank_model_window_pair(g_model, "q", 1, doc, strlen(doc), &po, &lo, &w) == RERANK_ERR_INVALID_ARGUMENT);
    lo.chunk_tokens = 0;
    lo.max_chunks_per_doc = -1;
    CHECK(rerank_model_window_pair(g_model, "q", 1, doc, strlen(doc), &po, &lo, &w) == RERANK_ERR_INVALID_ARGUMENT);
    CHECK(strstr(rerank_last_error(), "max_chunks_per_doc") != NULL);
    lo.max_chunks_per_doc = 0;
    lo.max_tokens_per_doc = -1;
    CHECK(rerank_model_window_pair(g_model, "q", 1, doc, strlen(doc), &po, &lo, &w) == RERANK_ERR_INVALID_ARGUMENT);
    lo.max_tokens_per_doc = 0;
    lo.mode = (rerank_long_docs_t)7;
    CHECK(rerank_model_window_pair(g_model, "q", 1, doc, strlen(doc), &po, &lo, &w) == RERANK_ERR_INVALID_ARGUMENT);
    /* a query that leaves no room (truncation none keeps it whole) */
    lo.mode = RERANK_LONG_DOCS_CHUNK;
    po.max_length = 8;
    po.truncation = RERANK_TRUNC_NONE;
    CHECK(rerank_model_window_pair(g_model, doc, strlen(doc), doc, strlen(doc), &po, &lo, &w) == RERANK_ERR_LIMIT);
    CHECK(strstr(rerank_last_error(), "no room") != NULL);
    /* invalid UTF-8 in the document */
    po = rerank_pair_options_default();
    CHECK(rerank_model_window_pair(g_model, "q", 1, "a\xff", 2, &po, &lo, &w) == RERANK_ERR_INVALID_UTF8);
    CHECK(w.n == 0);
    /* rerank_score_long names the document */
    const char *docs[2] = {"fine", "a\xff"};
    float s[2];
    CHECK(rerank_score_long(g_model, "q", 1, docs, NULL, 2, NULL, &lo, s, NULL) == RERANK_ERR_INVALID_UTF8);
    CHECK(strstr(rerank_last_error(), "document 1") != NULL);
    rerank_windows_free(&w);
}

/* Every allocation of rerank_score_long on m may fail: a clean error, and
 * the call succeeds (with the same scores) once none fails. */
static void alloc_failures_on(rerank_model_t *m, const char *const docs[2], const rerank_score_options_t *so,
                              const rerank_long_options_t *lo) {
    float ref[2], s[2];
    CHECK(rerank_score_long(m, k_query, strlen(k_query), docs, NULL, 2, so, lo, ref, NULL) == RERANK_OK);
    int ok = 0;
    for (unsigned long n = 1; n < 100000 && !ok; n++) {
        rr_alloc_fail_at(n);
        rerank_status_t st = rerank_score_long(m, k_query, strlen(k_query), docs, NULL, 2, so, lo, s, NULL);
        int failed = rr_alloc_failed();
        rr_alloc_fail_at(0);
        if (!failed) {
            ok = st == RERANK_OK;
            CHECK(st == RERANK_OK && s[0] == ref[0] && s[1] == ref[1]);
        } else {
            CHECK_MSG(st == RERANK_ERR_NOMEM, "allocation %lu: %s", n, rerank_status_str(st));
        }
    }
    CHECK(ok);
}

TEST(alloc_failures) {
    char *doc = long_doc(8, k_candidates[0]);
    const char *docs[2] = {doc, "Paris."};
    rerank_score_options_t so = rerank_score_options_default();
    so.pair.max_length = 40;
    rerank_long_options_t lo = rerank_long_options_default();
    lo.mode = RERANK_LONG_DOCS_CHUNK;
    lo.chunk_overlap = 4;
    alloc_failures_on(g_model, docs, &so, &lo);
    free(doc);
}

/* BERT's pair template: [CLS] q [SEP] d [SEP], the document's part type 1;
 * chunk scores equal the windows scored one by one there too. */
TEST(bert_windows) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/fixtures/models/tiny-bert", t_shared());
    rerank_model_options_t mo = rerank_model_options_default();
    mo.threads = 1;
    rerank_model_t *m = NULL;
    CHECK(rerank_model_load(dir, &mo, &m) == RERANK_OK);
    if (!m) return;
    const rerank_tokenizer_t *tok = rerank_model_tokenizer(m);
    char *doc = long_doc(8, k_candidates[2]);
    rerank_encoding_t q = {0}, d = {0}, sp = {0};
    CHECK(rerank_tokenize(tok, k_query, strlen(k_query), &q) == RERANK_OK);
    CHECK(rerank_tokenize(tok, doc, strlen(doc), &d) == RERANK_OK);
    CHECK(rerank_tokenize_pair(tok, "", 0, "", 0, NULL, &sp) == RERANK_OK);
    CHECK(sp.n == 3 && sp.type_ids[0] == 0 && sp.type_ids[1] == 0 && sp.type_ids[2] == 1);
    rerank_pair_options_t po = rerank_pair_options_default();
    po.max_length = 50;
    rerank_long_options_t lo = rerank_long_options_default();
    lo.mode = RERANK_LONG_DOCS_CHUNK;
    lo.chunk_overlap = 10;
    rerank_windows_t w = {0};
    CHECK(rerank_model_window_pair(m, k_query, strlen(k_query), doc, strlen(doc), &po, &lo, &w) == RERANK_OK);
    size_t win = 50 - 3 - q.n, stride = win - 10;
    CHECK(w.n == 1 + (d.n - win + stride - 1) / stride);
    float top = -INFINITY;
    for (size_t k = 0; k < w.n; k++) {
        size_t a = k * stride, b = a + win < d.n ? a + win : d.n, n = 3 + q.n + (b - a);
        int32_t *ids = malloc(n * sizeof *ids), *ty = malloc(n * sizeof *ty);
        size_t at = 0;
        ids[at] = sp.ids[0], ty[at++] = 0;
        for (size_t i = 0; i < q.n; i++) ids[at] = q.ids[i], ty[at++] = 0;
        ids[at] = sp.ids[1], ty[at++] = 0;
        for (size_t i = a; i < b; i++) ids[at] = d.ids[i], ty[at++] = 1;
        ids[at] = sp.ids[2], ty[at++] = 1;
        CHECK(w.len[k] == (int32_t)n && !memcmp(w.enc.ids + w.offset[k], ids, n * sizeof *ids) &&
              !memcmp(w.enc.type_ids + w.offset[k], ty, n * sizeof *ty));
        rerank_pair_t p = {ids, ty, (int32_t)n};
        float s = 0;
        CHECK(rerank_score_tokens(m, &p, 1, NULL, &s) == RERANK_OK);
        if (s > top) top = s;
        free(ids);
        free(ty);
    }
    const char *docs[1] = {doc};
    rerank_score_options_t so = rerank_score_options_default();
    so.pair = po;
    float got;
    rerank_chunk_info_t best;
    CHECK(rerank_score_long(m, k_query, strlen(k_query), docs, NULL, 1, &so, &lo, &got, &best) == RERANK_OK);
    CHECK_NEAR(got, top, 1e-5);
    CHECK(best.n_chunks == (int32_t)w.n && best.doc_tokens == (int32_t)d.n);
    rerank_windows_free(&w);
    rerank_encoding_free(&q);
    rerank_encoding_free(&d);
    rerank_encoding_free(&sp);
    free(doc);
    rerank_model_free(m);
}

/* ---- an LLM reranker: windows inside the prompt (tiny-qwen3) ------------- */

static rerank_model_t *g_qwen;

/* The Qwen3-Reranker recipe's suffix (tokenizer/prompt.c), as text. */
static const char k_qwen_suffix[] = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n";

static rerank_encoding_t qwen_ids(const char *text) {
    rerank_encoding_t e = {0};
    CHECK(rerank_tokenize(rerank_model_tokenizer(g_qwen), text, strlen(text), &e) == RERANK_OK);
    return e;
}

/* The document's ids in the prompt: ": " then the text, so its first word
 * takes the space (" The ..."), as the text with a space before it. */
static rerank_encoding_t qwen_doc_ids(const char *doc) {
    char *t = malloc(strlen(doc) + 2);
    t[0] = ' ';
    strcpy(t + 1, doc);
    rerank_encoding_t e = qwen_ids(t);
    free(t);
    return e;
}

static rerank_encoding_t qwen_prompt(const char *query, const char *doc, const rerank_pair_options_t *po) {
    rerank_encoding_t e = {0};
    CHECK(rerank_model_tokenize_pair(g_qwen, query, strlen(query), doc, strlen(doc), po, &e) == RERANK_OK);
    return e;
}

/* Window k is the prompt with the document's ids cut to [a, b): the
 * whole prompt's head up to the document, the cut, the suffix. */
TEST(prompt_windows_are_cuts) {
    char *doc = long_doc(12, k_candidates[0]);
    rerank_pair_options_t po = rerank_pair_options_default();
    po.instruction = "Find the city";
    po.instruction_len = strlen(po.instruction);
    rerank_encoding_t full = qwen_prompt(k_query, doc, &po), d = qwen_doc_ids(doc), x = qwen_ids(k_qwen_suffix);
    CHECK(full.n > d.n + x.n);
    const size_t head = full.n - x.n - d.n;
    /* the whole prompt is head + the document's ids + the suffix */
    CHECK(!memcmp(full.ids + head, d.ids, d.n * sizeof *d.ids) &&
          !memcmp(full.ids + head + d.n, x.ids, x.n * sizeof *x.ids));
    po.max_length = (int32_t)(head + x.n + 40);
    rerank_long_options_t lo = rerank_long_options_default();
    lo.mode = RERANK_LONG_DOCS_CHUNK;
    lo.chunk_tokens = 30;
    lo.chunk_overlap = 6;
    rerank_windows_t w = {0};
    CHECK(rerank_model_window_pair(g_qwen, k_query, strlen(k_query), doc, strlen(doc), &po, &lo, &w) == RERANK_OK);
    const size_t win = 30, stride = 24;
    CHECK_MSG(w.n == 1 + (d.n - win + stride - 1) / stride, "%zu windows for %zu document ids", w.n, d.n);
    for (size_t k = 0; k < w.n; k++) {
        const size_t a = k * stride, b = a + win < d.n ? a + win : d.n, n = head + (b - a) + x.n;
        const int32_t *v = w.enc.ids + w.offset[k];
        CHECK(w.len[k] == (int32_t)n && !memcmp(v, full.ids, head * sizeof *v) &&
              !memcmp(v + head, d.ids + a, (b - a) * sizeof *v) && !memcmp(v + head + (b - a), x.ids, x.n * sizeof *v));
        CHECK(w.chunks[k].chunk == (int32_t)k && w.chunks[k].n_chunks == (int32_t)w.n);
        CHECK(w.chunks[k].token_start == (int32_t)a && w.chunks[k].token_end == (int32_t)b &&
              w.chunks[k].doc_tokens == (int32_t)d.n);
    }
    /* chunk_tokens 0: the room max_length leaves, 40 */
    lo.chunk_tokens = 0;
    CHECK(rerank_model_window_pair(g_qwen, k_query, strlen(k_query), doc, strlen(doc), &po, &lo, &w) == RERANK_OK);
    CHECK(w.n > 1 && w.len[0] == po.max_length && w.chunks[0].token_end == 40);
    /* the first window of the whole room is the truncated prompt */
    rerank_encoding_t cut = qwen_prompt(k_query, doc, &po);
    CHECK(w.len[0] == (int32_t)cut.n && !memcmp(w.enc.ids, cut.ids, cut.n * sizeof *cut.ids));
    /* a document that fits: one window, the prompt itself */
    CHECK(rerank_model_window_pair(g_qwen, k_query, strlen(k_query), "Paris.", 6, &po, &lo, &w) == RERANK_OK);
    rerank_encoding_t e = qwen_prompt(k_query, "Paris.", &po);
    CHECK(w.n == 1 && w.len[0] == (int32_t)e.n && !memcmp(w.enc.ids, e.ids, e.n * sizeof *e.ids));
    /* an empty document too */
    CHECK(rerank_model_window_pair(g_qwen, k_query, strlen(k_query), "", 0, &po, &lo, &w) == RERANK_OK);
    rerank_encoding_free(&e);
    e = qwen_prompt(k_query, "", &po);
    CHECK(w.n == 1 && w.len[0] == (int32_t)e.n && !memcmp(w.enc.ids, e.ids, e.n * sizeof *e.ids));
    /* max_tokens_per_doc in truncate mode: the prompt of the document's first 25 ids */
    lo = rerank_long_options_default();
    lo.max_tokens_per_doc = 25;
    CHECK(rerank_model_window_pair(g_qwen, k_query, strlen(k_query), doc, strlen(doc), &po, &lo, &w) == RERANK_OK);
    CHECK(w.n == 1 && w.len[0] == (int32_t)(head + 25 + x.n) && !memcmp(w.enc.ids, full.ids, (head + 25) * sizeof(int32_t)));
    CHECK(w.chunks[0].token_end == 25 && w.chunks[0].doc_tokens == 25);
    rerank_encoding_free(&e);
    rerank_encoding_free(&cut);
    rerank_encoding_free(&full);
    rerank_encoding_free(&d);
    rerank_encoding_free(&x);
    rerank_windows_free(&w);
    free(doc);
}

/* Windows one passage long: each is the prompt of (query, that passage),
 * so the chunk score is the best passage's own score, and truncation's is
 * the first passage's. All windows share the prompt up to the document:
 * scored together (shared prefix) they equal each scored alone. */
TEST(prompt_chunk_finds_passage_at_end) {
    const char *one[1];
    float sf, sbest = -INFINITY;
    size_t ibest = 0;
    rerank_encoding_t f = qwen_doc_ids(k_filler);
    one[0] = k_filler;
    CHECK(rerank_score(g_qwen, k_query, strlen(k_query), one, NULL, 1, NULL, &sf) == RERANK_OK);
    for (size_t i = 0; i < N_CAND; i++) {
        float sc;
        one[0] = k_candidates[i];
        CHECK(rerank_score(g_qwen, k_query, strlen(k_query), one, NULL, 1, NULL, &sc) == RERANK_OK);
        rerank_encoding_t c = qwen_doc_ids(k_candidates[i]);
        if (sc > sbest && c.n <= f.n) { sbest = sc; ibest = i; }
        rerank_encoding_free(&c);
    }
    CHECK_MSG(sbest > sf + 1e-4f, "no candidate above the filler (%g vs %g)", sbest, sf);
    char *doc = long_doc(6, k_candidates[ibest]);
    rerank_encoding_t d = qwen_doc_ids(doc), c = qwen_doc_ids(k_candidates[ibest]);
    CHECK(d.n == 6 * f.n + c.n && !memcmp(d.ids + 6 * f.n, c.ids, c.n * sizeof *c.ids));
    /* max_length: the prompt of one filler */
    rerank_encoding_t pf = qwen_prompt(k_query, k_filler, NULL);
    rerank_score_options_t so = rerank_score_options_default();
    so.pair.max_length = (int32_t)pf.n;
    rerank_long_options_t lo = rerank_long_options_default();
    const char *docs[2] = {doc, k_filler};
    float st[2], sc[2];
    rerank_chunk_info_t bt[2], bc[2];
    CHECK(rerank_score_long(g_qwen, k_query, strlen(k_query), docs, NULL, 2, &so, &lo, st, bt) == RERANK_OK);
    lo.mode = RERANK_LONG_DOCS_CHUNK;
    CHECK(rerank_score_long(g_qwen, k_query, strlen(k_query), docs, NULL, 2, &so, &lo, sc, bc) == RERANK_OK);
    CHECK_NEAR(st[0], sf, 1e-5);
    CHECK_NEAR(sc[0], sbest, 1e-5);
    CHECK(bc[0].n_chunks == 7 && bc[0].chunk == 6 && bc[0].token_start == (int32_t)(6 * f.n) &&
          bc[0].token_end == (int32_t)d.n && bc[0].doc_tokens == (int32_t)d.n);
    CHECK_NEAR(sc[1], sf, 1e-5);
    CHECK(bc[1].n_chunks == 1 && bc[1].token_end == (int32_t)f.n);
    /* the same with shared prefixes off: the windows in full */
    char dir[512];
    snprintf(dir, sizeof dir, "%s/fixtures/models/tiny-qwen3", t_shared());
    rerank_model_options_t mo = rerank_model_options_default();
    mo.threads = 1;
    mo.shared_prefix = RERANK_SHARED_PREFIX_OFF;
    rerank_model_t *full = NULL;
    CHECK(rerank_model_load(dir, &mo, &full) == RERANK_OK);
    float s_off[2] = {0, 0};
    CHECK(full && rerank_score_long(full, k_query, strlen(k_query), docs, NULL, 2, &so, &lo, s_off, NULL) == RERANK_OK);
    rerank_model_free(full);
    CHECK_NEAR(s_off[0], sc[0], 1e-5);
    CHECK_NEAR(s_off[1], sc[1], 1e-5);
    /* max_chunks_per_doc 2: the passage is never reached */
    lo.max_chunks_per_doc = 2;
    CHECK(rerank_score_long(g_qwen, k_query, strlen(k_query), docs, NULL, 1, &so, &lo, sc, bc) == RERANK_OK);
    CHECK(bc[0].n_chunks == 2 && bc[0].doc_tokens == (int32_t)d.n);
    CHECK_NEAR(sc[0], sf, 1e-5);
    rerank_encoding_free(&pf);
    rerank_encoding_free(&f);
    rerank_encoding_free(&d);
    rerank_encoding_free(&c);
    free(doc);
}

TEST(prompt_bad_options) {
    rerank_long_options_t lo = rerank_long_options_default();
    lo.mode = RERANK_LONG_DOCS_CHUNK;
    rerank_pair_options_t po = rerank_pair_options_default();
    rerank_windows_t w = {0};
    char *doc = long_doc(4, "Paris.");
    /* the instruction and query leave no room in max_length */
    rerank_encoding_t e = qwen_prompt(k_query, "", NULL);
    po.max_length = (int32_t)e.n - 1;
    CHECK(rerank_model_window_pair(g_qwen, k_query, strlen(k_query), doc, strlen(doc), &po, &lo, &w) == RERANK_ERR_LIMIT);
    CHECK(strstr(rerank_last_error(), "no room for the document") != NULL);
    CHECK(w.n == 0);
    /* the recipe cuts from the right only */
    po = rerank_pair_options_default();
    po.direction = RERANK_TRUNC_LEFT;
    CHECK(rerank_model_window_pair(g_qwen, k_query, strlen(k_query), doc, strlen(doc), &po, &lo, &w) ==
          RERANK_ERR_INVALID_ARGUMENT);
    /* an overlap not below the window */
    po = rerank_pair_options_default();
    lo.chunk_tokens = 8;
    lo.chunk_overlap = 8;
    CHECK(rerank_model_window_pair(g_qwen, k_query, strlen(k_query), doc, strlen(doc), &po, &lo, &w) ==
          RERANK_ERR_INVALID_ARGUMENT);
    /* invalid UTF-8 in the instruction or the document */
    lo.chunk_overlap = 0;
    CHECK(rerank_model_window_pair(g_qwen, k_query, strlen(k_query), "a\xff", 2, &po, &lo, &w) == RERANK_ERR_INVALID_UTF8);
    po.instruction = "\xc3";
    po.instruction_len = 1;
    CHECK(rerank_model_window_pair(g_qwen, k_query, strlen(k_query), doc, strlen(doc), &po, &lo, &w) ==
          RERANK_ERR_INVALID_UTF8);
    CHECK(w.n == 0);
    rerank_encoding_free(&e);
    rerank_windows_free(&w);
    free(doc);
}

/* Every allocation of an LLM reranker's windows may fail: a clean error. */
TEST(prompt_alloc_failures) {
    char *doc = long_doc(6, k_candidates[0]);
    const char *docs[2] = {doc, "Paris."};
    rerank_score_options_t so = rerank_score_options_default();
    so.pair.max_length = 200;
    rerank_long_options_t lo = rerank_long_options_default();
    lo.mode = RERANK_LONG_DOCS_CHUNK;
    lo.chunk_tokens = 40;
    lo.chunk_overlap = 4;
    alloc_failures_on(g_qwen, docs, &so, &lo);
    free(doc);
}

int main(void) {
    rr_alloc_init_json(); /* jansson's allocations count in the fault loops (the library never routes them) */
    char dir[512];
    snprintf(dir, sizeof dir, "%s/fixtures/models/tiny-xlmr", t_shared());
    rerank_model_options_t mo = rerank_model_options_default();
    mo.threads = 1;
    if (rerank_model_load(dir, &mo, &g_model) != RERANK_OK) {
        fprintf(stderr, "cannot load %s: %s\n", dir, rerank_last_error());
        return 1;
    }
    RUN(windows_are_cuts);
    RUN(chunk_score_is_best_window);
    RUN(chunk_finds_passage_at_end);
    RUN(bad_options);
    RUN(bert_windows);
    RUN(alloc_failures);
    snprintf(dir, sizeof dir, "%s/fixtures/models/tiny-qwen3", t_shared());
    if (rerank_model_load(dir, &mo, &g_qwen) != RERANK_OK) {
        fprintf(stderr, "cannot load %s: %s\n", dir, rerank_last_error());
        rerank_model_free(g_model);
        return 1;
    }
    RUN(prompt_windows_are_cuts);
    RUN(prompt_chunk_finds_passage_at_end);
    RUN(prompt_bad_options);
    RUN(prompt_alloc_failures);
    rerank_model_free(g_qwen);
    rerank_model_free(g_model);
    TEST_MAIN_END();
}
