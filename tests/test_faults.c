/* test_faults.c — end-to-end fault injection: every allocation of
 * load → tokenize → score → free may fail (rr_alloc_fail_at), and every run
 * must end in the exact reference scores or in a clean error (status != OK,
 * a message, outputs untouched or zeroed), never a crash or a leak (`make
 * asan` runs this under ASan/LSan). Also truncated copies of the model files
 * (short reads) must fail cleanly.
 *
 * The byte-level BPE tokenizers (Qwen3, ModernBERT) are also covered on
 * their own (faults_tokenizer); tiny-gte and tiny-modernbert load and score
 * under the same phases as tiny-xlmr, tiny-qwen3 runs every phase below.
 *
 * Phases per fixture model:
 *  - load: the whole sequence armed at N for every allocation of the load,
 *    except inside the tokenizer: loading tokenizer.json makes hundreds
 *    (XLM-R, whose vocabulary has a fast path) to ~90 000 (BERT: jansson's
 *    allocations, routed through rr_malloc by rr_alloc_init_json)
 *    allocations, and a failed XLM-R tokenizer load takes ~0.25 s, so the
 *    tokenizer's first allocations are each failed (100 for BERT, 30 for
 *    XLM-R) and then a stride covers the rest in about RR_FAULTS_LOAD_MID
 *    runs (default 200 for BERT, 30 for XLM-R). The output says which N ran.
 *  - tokenize+score: the model is loaded once unarmed, then EVERY allocation
 *    of rerank_tokenize_pair + rerank_score is failed in turn.
 *  - short reads: model.safetensors truncated at every 1/64 of the file and at
 *    each of its first 64 bytes, config.json and tokenizer.json at several
 *    offsets. */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "engine/engine.h"
#include "test.h"

#define N_DOCS 3
#define SENTINEL (-12345.0f)

static const char *k_query = "what is the capital of france?";
static const char *k_docs[N_DOCS] = {
    "Paris is the capital and most populous city of France.",
    "Berlin ist die Hauptstadt Deutschlands. Ça va? 東京は日本の首都です。",
    "",
};

typedef struct ref {
    int32_t ids[1024];
    int32_t types[1024];
    size_t n;
    float scores[N_DOCS];
} ref_t;

static void fixture_dir(char *dir, size_t n, const char *name) {
    snprintf(dir, n, "%s/fixtures/models/%s", t_shared(), name);
}

static rerank_model_options_t model_opts(void) {
    rerank_model_options_t o = rerank_model_options_default();
    o.threads = 1; /* the machine is shared; also makes results deterministic */
    return o;
}

/* tokenize_pair + score on a loaded model. */
static rerank_status_t tok_and_score(rerank_model_t *m, rerank_encoding_t *enc, float *scores) {
    rerank_status_t st = rerank_model_tokenize_pair(m, k_query, strlen(k_query), k_docs[0], strlen(k_docs[0]), NULL, enc);
    if (st) return st;
    return rerank_score(m, k_query, strlen(k_query), k_docs, NULL, N_DOCS, NULL, scores);
}

static int make_reference(const char *dir, ref_t *ref) {
    rerank_model_options_t o = model_opts();
    rerank_model_t *m = NULL;
    rerank_encoding_t enc = {0};
    memset(ref, 0, sizeof *ref);
    rerank_status_t st = rerank_model_load(dir, &o, &m);
    if (!st) st = tok_and_score(m, &enc, ref->scores);
    if (!st && enc.n <= 1024) {
        ref->n = enc.n;
        memcpy(ref->ids, enc.ids, enc.n * sizeof *enc.ids);
        memcpy(ref->types, enc.type_ids, enc.n * sizeof *enc.type_ids);
    }
    rerank_encoding_free(&enc);
    rerank_model_free(m);
    if (st) fprintf(stderr, "  reference run failed: %s\n", rerank_last_error());
    return st == RERANK_OK && ref->n > 0 ? 0 : -1;
}

/* Check one run's result: correct outputs, or a clean error. `stage` names
 * how far it got: 0 load failed, 1 tokenize failed, 2 score failed, 3 ok. */
static void check_result(const char *what, unsigned long n, rerank_status_t st, int stage,
                         const rerank_encoding_t *enc, const float *scores, const ref_t *ref) {
    if (st == RERANK_OK) {
        CHECK_MSG(enc->n == ref->n && !memcmp(enc->ids, ref->ids, ref->n * sizeof *ref->ids) &&
                      !memcmp(enc->type_ids, ref->types, ref->n * sizeof *ref->types),
                  "%s N=%lu: encoding differs from the reference", what, n);
        for (int i = 0; i < N_DOCS; i++)
            CHECK_MSG(fabsf(scores[i] - ref->scores[i]) <= 1e-6f, "%s N=%lu: score %d = %.9g, reference %.9g",
                      what, n, i, scores[i], ref->scores[i]);
        return;
    }
    const char *msg = rerank_last_error();
    CHECK_MSG(msg && *msg, "%s N=%lu: status %d (%s) with an empty error message", what, n, st,
              rerank_status_str(st));
    /* Outputs untouched (or zeroed, as the API allows). */
    if (stage <= 1) CHECK_MSG(enc->n == 0, "%s N=%lu: encoding has %zu tokens after an error", what, n, enc->n);
    if (stage <= 2)
        for (int i = 0; i < N_DOCS; i++)
            CHECK_MSG(scores[i] == SENTINEL || scores[i] == 0.0f, "%s N=%lu: score %d = %g after an error", what, n,
                      i, scores[i]);
}

/* One armed run of the whole sequence (load, tokenize, score, free). */
static int run_full(const char *dir, unsigned long n, const ref_t *ref) {
    rerank_model_options_t o = model_opts();
    rerank_model_t *m = NULL;
    rerank_encoding_t enc = {0};
    float scores[N_DOCS] = {SENTINEL, SENTINEL, SENTINEL};
    int stage = 0;
    rr_alloc_fail_at(n);
    rerank_status_t st = rerank_model_load(dir, &o, &m);
    if (!st) {
        CHECK_MSG(m != NULL, "load N=%lu: OK without a model", n);
        stage = 1;
        st = rerank_model_tokenize_pair(m, k_query, strlen(k_query), k_docs[0], strlen(k_docs[0]), NULL, &enc);
        if (!st) {
            stage = 2;
            st = rerank_score(m, k_query, strlen(k_query), k_docs, NULL, N_DOCS, NULL, scores);
        }
    } else {
        CHECK_MSG(m == NULL, "load N=%lu: failed but returned a model", n);
    }
    if (!st) stage = 3;
    int injected = rr_alloc_failed();
    rr_alloc_fail_at(0);
    if (!injected) CHECK_MSG(st == RERANK_OK, "load N=%lu: no injected failure but status %d (%s)", n, st,
                             rerank_last_error());
    check_result("load", n, st, stage, &enc, scores, ref);
    rerank_encoding_free(&enc);
    rerank_model_free(m);
    return injected;
}

/* Allocations made by the whole sequence, unarmed (counted, never failing). */
static unsigned long count_allocs(const char *dir, unsigned long *load_allocs) {
    rerank_model_options_t o = model_opts();
    rerank_model_t *m = NULL;
    rerank_encoding_t enc = {0};
    float scores[N_DOCS];
    rr_alloc_fail_at(ULONG_MAX);
    rerank_status_t st = rerank_model_load(dir, &o, &m);
    *load_allocs = rr_alloc_count();
    if (!st) st = tok_and_score(m, &enc, scores);
    unsigned long total = rr_alloc_count();
    rr_alloc_fail_at(0);
    rerank_encoding_free(&enc);
    rerank_model_free(m);
    return st ? 0 : total;
}

/* First N (in [lo, hi]) at which a tokenizer-less load fails in the backend,
 * i.e. after config.json and the weights. Loads without the tokenizer are
 * cheap, so a binary search is. */
static unsigned long first_backend_alloc(const char *dir, unsigned long lo, unsigned long hi) {
    rerank_model_options_t o = model_opts();
    while (lo < hi) {
        unsigned long mid = lo + (hi - lo) / 2;
        rerank_model_t *m = NULL;
        rr_alloc_fail_at(mid);
        rerank_status_t st = rr_model_load(dir, &o, RR_LOAD_NO_TOKENIZER, &m);
        rr_alloc_fail_at(0);
        rerank_model_free(m);
        if (st && strstr(rerank_last_error(), " backend")) hi = mid;
        else lo = mid + 1;
    }
    return lo;
}

/* The whole sequence armed at N for the allocations of the load. The load
 * has three regions: config.json + weights (cw allocations, cheap: every N),
 * the tokenizer (tok allocations: every N of the first tok_head, then a
 * stride so that about mid_runs runs cover the rest, then every N of the
 * last tok_tail: what the model binds to its tokenizer, e.g. an LLM
 * reranker's label tokens and prompt recipe), the backend (be
 * allocations: every N). Tokenize + score are covered N by N in
 * faults_score; here the run after the load's last allocation checks that
 * the unfailed sequence ends with the reference scores. */
static void faults_load(const char *name, unsigned long tok_head, unsigned long mid_runs, unsigned long tok_tail) {
    char dir[512];
    fixture_dir(dir, sizeof dir, name);
    ref_t ref;
    if (make_reference(dir, &ref)) { CHECK(!"reference run"); return; }
    unsigned long load_allocs = 0, total = count_allocs(dir, &load_allocs);
    CHECK(total > 0);
    if (!total) return;
    rerank_model_options_t o = model_opts();
    rerank_model_t *m = NULL;
    rr_alloc_fail_at(ULONG_MAX);
    rerank_status_t st = rr_model_load(dir, &o, RR_LOAD_NO_TOKENIZER, &m);
    unsigned long no_tok = rr_alloc_count();
    rr_alloc_fail_at(0);
    rerank_model_free(m);
    CHECK(st == RERANK_OK && no_tok < load_allocs);
    if (st || no_tok >= load_allocs) return;
    unsigned long cw = first_backend_alloc(dir, 1, no_tok + 1) - 1, be = no_tok - cw, tok = load_allocs - no_tok;
    const char *e = getenv("RR_FAULTS_LOAD_MID");
    if (e && *e) mid_runs = strtoul(e, NULL, 10);
    unsigned long tok_lo = cw + 1, tok_hi = cw + tok; /* the tokenizer's allocations */
    unsigned long dense_hi = tok_lo + tok_head < tok_hi ? tok_lo + tok_head : tok_hi;
    unsigned long tail_lo = tok_hi - tok_tail > dense_hi ? tok_hi - tok_tail : dense_hi; /* every N again from here */
    unsigned long stride = 1;
    if (tok_hi > dense_hi && mid_runs) stride = (tok_hi - dense_hi + mid_runs - 1) / mid_runs;
    if (tok_hi > dense_hi && !mid_runs) stride = tok_hi - dense_hi + 1;
    if (!stride) stride = 1;
    double t0 = rr_now_s();
    unsigned long tried = 0, n = 1, last_n = 0;
    for (;;) {
        int injected = run_full(dir, n, &ref);
        tried++;
        last_n = n;
        if (!injected || t_cur_failed > 20) break;
        if (n > load_allocs) { CHECK_MSG(0, "%s: N=%lu failed past the load", name, n); break; }
        if (n == load_allocs) n = total + 1; /* tokenize + score: faults_score */
        else if (n < dense_hi || n >= tail_lo) n++;
        else n = tail_lo - n > stride ? n + stride : tail_lo;
    }
    printf("# %s load: %lu allocations (config+weights %lu, tokenizer %lu, backend %lu); tried %lu N: every N "
           "in 1..%lu and %lu..%lu, stride %lu in %lu..%lu (tokenizer; then every N from %lu: what is bound to it); "
           "N=%lu (past the load) ran without an injected failure; %.1f s\n",
           name, load_allocs, cw, tok, be, tried, dense_hi, tok_hi + 1, load_allocs, stride, dense_hi, tail_lo,
           tail_lo, last_n, rr_now_s() - t0);
    CHECK_MSG(last_n == total + 1, "%s: first run without an injected failure at N=%lu, expected %lu", name, last_n,
              total + 1);
}

/* Load once unarmed, then fail every allocation of tokenize + score. */
static void faults_score(const char *name) {
    char dir[512];
    fixture_dir(dir, sizeof dir, name);
    ref_t ref;
    if (make_reference(dir, &ref)) { CHECK(!"reference run"); return; }
    rerank_model_options_t o = model_opts();
    rerank_model_t *m = NULL;
    if (rerank_model_load(dir, &o, &m)) { CHECK(!"load"); return; }
    double t0 = rr_now_s();
    unsigned long n = 1;
    for (;; n++) {
        rerank_encoding_t enc = {0};
        float scores[N_DOCS] = {SENTINEL, SENTINEL, SENTINEL};
        int stage = 1;
        rr_alloc_fail_at(n);
        rerank_status_t st = rerank_model_tokenize_pair(m, k_query, strlen(k_query), k_docs[0], strlen(k_docs[0]), NULL, &enc);
        if (!st) {
            stage = 2;
            st = rerank_score(m, k_query, strlen(k_query), k_docs, NULL, N_DOCS, NULL, scores);
        }
        if (!st) stage = 3;
        int injected = rr_alloc_failed();
        rr_alloc_fail_at(0);
        if (injected) CHECK_MSG(st == RERANK_ERR_NOMEM, "score N=%lu: status %d (%s), expected nomem", n, st,
                                rerank_last_error());
        else CHECK_MSG(st == RERANK_OK, "score N=%lu: no injected failure but status %d (%s)", n, st,
                       rerank_last_error());
        check_result("score", n, st, stage, &enc, scores, &ref);
        rerank_encoding_free(&enc);
        if (!injected || t_cur_failed > 20) break;
        /* The model must still work after a failed call. */
        if (n % 16 == 1) {
            rerank_encoding_t e2 = {0};
            float s2[N_DOCS];
            CHECK(tok_and_score(m, &e2, s2) == RERANK_OK);
            for (int i = 0; i < N_DOCS; i++) CHECK_NEAR(s2[i], ref.scores[i], 1e-6);
            rerank_encoding_free(&e2);
        }
    }
    rerank_model_free(m);
    printf("# %s tokenize+score: every N in 1..%lu (N=%lu ran without an injected failure); %.1f s\n", name, n - 1,
           n, rr_now_s() - t0);
}

/* ---- short reads ------------------------------------------------------------ */

static int copy_file(const char *from, const char *to) {
    FILE *in = fopen(from, "rb"), *out = in ? fopen(to, "wb") : NULL;
    if (!in || !out) {
        if (in) fclose(in);
        return -1;
    }
    char buf[1 << 16];
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, k, out) != k) break;
    int bad = ferror(in) || ferror(out);
    fclose(in);
    return fclose(out) || bad ? -1 : 0;
}

/* tmp/<every file of src> as symlinks; the file `name` a real copy. */
static int stage_dir(const char *src, const char *tmp, const char *name) {
    DIR *d = opendir(src);
    if (!d) return -1;
    struct dirent *de;
    char a[PATH_MAX + 256], b[PATH_MAX + 256];
    int rc = 0;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        snprintf(a, sizeof a, "%s/%s", src, de->d_name);
        snprintf(b, sizeof b, "%s/%s", tmp, de->d_name);
        unlink(b);
        if (!strcmp(de->d_name, name)) rc |= copy_file(a, b);
        else rc |= symlink(a, b);
    }
    closedir(d);
    return rc;
}

static void unstage_dir(const char *tmp) {
    DIR *d = opendir(tmp);
    if (!d) return;
    struct dirent *de;
    char b[PATH_MAX + 256];
    while ((de = readdir(d)))
        if (de->d_name[0] != '.') {
            snprintf(b, sizeof b, "%s/%s", tmp, de->d_name);
            unlink(b);
        }
    closedir(d);
}

static int cmp_desc(const void *a, const void *b) {
    long x = *(const long *)a, y = *(const long *)b;
    return (x < y) - (x > y);
}

/* Truncate tmp/name to each offset (descending, so one copy suffices) and
 * load: each must fail cleanly. */
static int truncations(const char *tmp, const char *name, long *offs, int n_offs) {
    char path[PATH_MAX + 256];
    snprintf(path, sizeof path, "%s/%s", tmp, name);
    qsort(offs, (size_t)n_offs, sizeof *offs, cmp_desc);
    rerank_model_options_t o = model_opts();
    int tried = 0;
    rerank_model_t *m0 = NULL;
    CHECK_MSG(rerank_model_load(tmp, &o, &m0) == RERANK_OK, "staged copy for %s does not load: %s", name,
              rerank_last_error());
    rerank_model_free(m0);
    for (int i = 0; i < n_offs; i++) {
        if (i && offs[i] == offs[i - 1]) continue;
        if (truncate(path, offs[i])) { CHECK_MSG(0, "truncate %s to %ld", path, offs[i]); continue; }
        rerank_model_t *m = NULL;
        rerank_status_t st = rerank_model_load(tmp, &o, &m);
        CHECK_MSG(st != RERANK_OK, "%s truncated to %ld bytes: loaded", name, offs[i]);
        CHECK_MSG(m == NULL, "%s truncated to %ld bytes: model returned", name, offs[i]);
        CHECK_MSG(*rerank_last_error(), "%s truncated to %ld bytes: empty error message", name, offs[i]);
        rerank_model_free(m);
        tried++;
    }
    return tried;
}

/* The offset of the last byte of path that is not white space (the JSON
 * text's closing brace): cut there, the text is incomplete. */
static long last_non_space(const char *path) {
    FILE *f = fopen(path, "rb");
    long at = -1, i = 0;
    int c;
    while (f && (c = fgetc(f)) != EOF) {
        if (c != ' ' && c != '\n' && c != '\r' && c != '\t') at = i;
        i++;
    }
    if (f) fclose(f);
    return at;
}

static void short_reads(const char *name) {
    char rel[512], src[PATH_MAX], tmp[] = "/tmp/rr-faults-XXXXXX";
    fixture_dir(rel, sizeof rel, name);
    if (!realpath(rel, src)) { CHECK(!"realpath"); return; } /* symlinks in tmp must be absolute */
    if (!mkdtemp(tmp)) { CHECK(!"mkdtemp"); return; }
    double t0 = rr_now_s();
    struct stat sb;
    char path[PATH_MAX + 256];
    long offs[256];
    int k, tried_st = 0, tried_cfg = 0, tried_tok = 0;

    /* model.safetensors: each of the first 64 bytes, every 1/64 of the file. */
    snprintf(path, sizeof path, "%s/model.safetensors", src);
    if (stat(path, &sb) == 0 && stage_dir(src, tmp, "model.safetensors") == 0) {
        k = 0;
        for (long i = 0; i < 64; i++) offs[k++] = i;
        for (long i = 1; i < 64; i++) offs[k++] = (long)((double)sb.st_size * i / 64);
        offs[k++] = sb.st_size - 1;
        tried_st = truncations(tmp, "model.safetensors", offs, k);
    } else CHECK(!"stage model.safetensors");
    unstage_dir(tmp);

    /* config.json: a few offsets, including inside the first bytes. */
    snprintf(path, sizeof path, "%s/config.json", src);
    if (stat(path, &sb) == 0 && stage_dir(src, tmp, "config.json") == 0) {
        k = 0;
        long fixed[] = {0, 1, 2, 10, 50};
        for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
            if (fixed[i] < sb.st_size) offs[k++] = fixed[i];
        for (long i = 1; i < 16; i++) offs[k++] = (long)((double)sb.st_size * i / 16);
        offs[k++] = last_non_space(path);
        tried_cfg = truncations(tmp, "config.json", offs, k);
    } else CHECK(!"stage config.json");
    unstage_dir(tmp);

    /* tokenizer.json: a few offsets (each failed parse of the XLM-R one is
     * up to ~0.3 s). */
    snprintf(path, sizeof path, "%s/tokenizer.json", src);
    if (stat(path, &sb) == 0 && stage_dir(src, tmp, "tokenizer.json") == 0) {
        k = 0;
        long fixed[] = {0, 1, 17, 100, 1000};
        for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
            if (fixed[i] < sb.st_size) offs[k++] = fixed[i];
        for (long i = 1; i < 8; i++) offs[k++] = (long)((double)sb.st_size * i / 8);
        offs[k++] = sb.st_size - 2;
        offs[k++] = sb.st_size - 1;
        tried_tok = truncations(tmp, "tokenizer.json", offs, k);
    } else CHECK(!"stage tokenizer.json");
    unstage_dir(tmp);
    rmdir(tmp);
    printf("# %s short reads: model.safetensors at %d offsets, config.json at %d, tokenizer.json at %d; %.1f s\n",
           name, tried_st, tried_cfg, tried_tok, rr_now_s() - t0);
}

/* A tokenizer alone (byte-level BPE ones, ahead of their model families):
 * load + tokenize_pair armed at N for every N in 1..head, then a stride
 * covering the rest in about mid_runs runs (each failed Qwen3 load parses
 * up to 11 MB), then past the end. Each run ends in the reference ids or in
 * a clean error (a status and a message, nothing returned): NOMEM, or FORMAT
 * where jansson reports its own failed allocation as a parse error. */
static int tok_run(const char *dir, unsigned long n, rerank_encoding_t *enc, rerank_status_t *st,
                   unsigned long *allocs) {
    rerank_tokenizer_t *t = NULL;
    rerank_pair_options_t po = rerank_pair_options_default();
    po.max_length = 64;
    po.truncation = RERANK_TRUNC_LONGEST_FIRST;
    rr_alloc_fail_at(n);
    *st = rerank_tokenizer_load(dir, &t);
    if (*st) CHECK(t == NULL);
    if (!*st) *st = rerank_tokenize_pair(t, k_query, strlen(k_query), k_docs[1], strlen(k_docs[1]), &po, enc);
    int injected = rr_alloc_failed();
    if (allocs) *allocs = rr_alloc_count(); /* before disarming resets it */
    rr_alloc_fail_at(0);
    rerank_tokenizer_free(t);
    return injected;
}

static void faults_tokenizer(const char *name, unsigned long head, unsigned long mid_runs) {
    char dir[512];
    fixture_dir(dir, sizeof dir, name);
    rerank_encoding_t ref = {0}, enc = {0};
    rerank_status_t st;
    tok_run(dir, 0, &ref, &st, NULL); /* unarmed; also makes this thread's word cache */
    CHECK_MSG(st == RERANK_OK && ref.n > 0, "%s: %s", name, rerank_last_error());
    if (st) return;
    unsigned long total = 0;
    tok_run(dir, ULONG_MAX, &enc, &st, &total);
    CHECK(total > head);
    unsigned long stride = total > head && mid_runs ? (total - head + mid_runs - 1) / mid_runs : 1;
    double t0 = rr_now_s();
    unsigned long tried = 0, n = 1;
    for (;; tried++) {
        enc.n = 0;
        int injected = tok_run(dir, n, &enc, &st, NULL);
        int same = st == RERANK_OK && enc.n == ref.n && !memcmp(enc.ids, ref.ids, ref.n * sizeof *ref.ids);
        if (injected) {
            /* a clean error, or (an allocation whose failure jansson absorbs)
             * the reference ids */
            CHECK_MSG(st ? enc.n == 0 && rerank_last_error()[0] : same, "%s N=%lu: status %d (%s)", name, n, (int)st,
                      rerank_last_error());
        } else {
            CHECK_MSG(same, "%s N=%lu: no failure injected, status %d", name, n, (int)st);
            break;
        }
        if (t_cur_failed > 20 || tried > head + mid_runs + 10) {
            CHECK_MSG(0, "%s: still failing after %lu runs", name, tried);
            break;
        }
        n = n < head ? n + 1 : n + stride;
        if (n > total) n = total + 1;
    }
    CHECK_MSG(n == total + 1, "%s: first run without an injected failure at N=%lu, expected %lu", name, n, total + 1);
    printf("# %s tokenizer load + tokenize_pair: %lu allocations; tried %lu N (every N in 1..%lu, then stride %lu); "
           "%.1f s\n", name, total, tried + 1, head, stride, rr_now_s() - t0);
    rerank_encoding_free(&ref);
    rerank_encoding_free(&enc);
}

TEST(faults_tokenizer_qwen3) { faults_tokenizer("tiny-qwen3", 40, 25); }
TEST(faults_tokenizer_modernbert) { faults_tokenizer("tiny-modernbert", 150, 60); }
TEST(faults_load_tiny_bert) { faults_load("tiny-bert", 100, 200, 0); }
TEST(faults_load_tiny_xlmr) { faults_load("tiny-xlmr", 30, 30, 0); }
/* Qwen3: after its tokenizer, the label tokens ("yes", "no"), the lm_head
 * rows and the prompt recipe are bound (the tokenizer's last tok_tail). */
TEST(faults_load_tiny_qwen3) { faults_load("tiny-qwen3", 40, 25, 80); }
TEST(faults_score_tiny_qwen3) { faults_score("tiny-qwen3"); }
TEST(short_reads_tiny_qwen3) { short_reads("tiny-qwen3"); }
TEST(faults_score_tiny_bert) { faults_score("tiny-bert"); }
TEST(faults_score_tiny_xlmr) { faults_score("tiny-xlmr"); }
TEST(short_reads_tiny_bert) { short_reads("tiny-bert"); }
TEST(short_reads_tiny_xlmr) { short_reads("tiny-xlmr"); }
TEST(faults_load_tiny_gte) { faults_load("tiny-gte", 30, 30, 0); }
TEST(faults_score_tiny_gte) { faults_score("tiny-gte"); }
TEST(faults_load_tiny_modernbert) { faults_load("tiny-modernbert", 150, 60, 0); }
TEST(faults_score_tiny_modernbert) { faults_score("tiny-modernbert"); }

int main(void) {
    rr_alloc_init_json(); /* jansson's allocations count in the fault loops (the library never routes them) */
    RUN(faults_score_tiny_bert);
    RUN(faults_score_tiny_xlmr);
    RUN(faults_load_tiny_bert);
    RUN(faults_load_tiny_xlmr);
    RUN(short_reads_tiny_bert);
    RUN(short_reads_tiny_xlmr);
    RUN(faults_load_tiny_qwen3);
    RUN(faults_score_tiny_qwen3);
    RUN(short_reads_tiny_qwen3);
    RUN(faults_tokenizer_qwen3);
    RUN(faults_tokenizer_modernbert);
    RUN(faults_load_tiny_gte);
    RUN(faults_score_tiny_gte);
    RUN(faults_load_tiny_modernbert);
    RUN(faults_score_tiny_modernbert);
    TEST_MAIN_END();
}
