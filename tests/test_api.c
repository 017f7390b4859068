/* test_api.c — JSON request decoding / response encoding of the server API,
 * with a mutation fuzz loop and allocation-failure injection. */
#include <jansson.h>

#include "common/alloc.h"
#include "server/api.h"
#include "server/auth.h"
#include "test.h"

static const rr_api_limits_t k_lim = {.max_body_bytes = 1 << 20, .max_docs = 100, .max_text_bytes = 1000};

static rr_api_status_t tei(const char *s, rr_rerank_req_t *r) {
    char err[256];
    return rr_api_parse_tei(s, strlen(s), &k_lim, r, err, sizeof err);
}
static rr_api_status_t coh(const char *s, rr_rerank_req_t *r) {
    char err[256];
    return rr_api_parse_cohere(s, strlen(s), RR_API_COHERE_V1, &k_lim, r, err, sizeof err);
}

TEST(tei_ok) {
    rr_rerank_req_t r;
    CHECK(tei("{\"query\":\"q\",\"texts\":[\"a\",\"bb\"],\"raw_scores\":true,\"return_text\":true,\"truncate\":false,"
              "\"truncation_direction\":\"right\",\"unknown\":{\"x\":[1]}}", &r) == RR_API_OK);
    CHECK(r.kind == RR_API_TEI && r.n_docs == 2 && r.query.n == 1 && r.docs[1].n == 2 && !memcmp(r.docs[1].s, "bb", 2));
    CHECK(r.raw_scores == 1 && r.return_text == 1 && r.truncate == 0 && r.top_n == 0);
    CHECK(r.direction == RERANK_TRUNC_RIGHT);
    rr_rerank_req_release(&r);
    CHECK(tei("{\"query\":\"q\",\"texts\":[\"a\"],\"truncate\":null,\"raw_scores\":null}", &r) == RR_API_OK);
    CHECK(r.truncate == -1 && r.raw_scores == 0 && r.direction == RERANK_TRUNC_RIGHT);
    rr_rerank_req_release(&r);
    /* truncation_direction: Left / Right in any case; null = absent = Right */
    const struct { const char *v; rerank_trunc_direction_t want; } dirs[] = {
        {"\"Left\"", RERANK_TRUNC_LEFT}, {"\"left\"", RERANK_TRUNC_LEFT}, {"\"LEFT\"", RERANK_TRUNC_LEFT},
        {"\"Right\"", RERANK_TRUNC_RIGHT}, {"\"RIGHT\"", RERANK_TRUNC_RIGHT}, {"null", RERANK_TRUNC_RIGHT},
    };
    for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
        char body[128];
        snprintf(body, sizeof body, "{\"query\":\"q\",\"texts\":[\"a\"],\"truncate\":true,\"truncation_direction\":%s}",
                 dirs[i].v);
        CHECK_MSG(tei(body, &r) == RR_API_OK, "%s", dirs[i].v);
        CHECK_MSG(r.direction == dirs[i].want && r.truncate == 1, "%s", dirs[i].v);
        rr_rerank_req_release(&r);
    }
    /* Cohere has no such member: always Right */
    CHECK(coh("{\"query\":\"q\",\"documents\":[\"a\"],\"truncation_direction\":\"Left\"}", &r) == RR_API_OK);
    CHECK(r.direction == RERANK_TRUNC_RIGHT);
    rr_rerank_req_release(&r);
    CHECK(tei("{\"query\":\"a\\u0000b\",\"texts\":[\"\"]}", &r) == RR_API_OK);
    CHECK(r.query.n == 3 && r.docs[0].n == 0);
    rr_rerank_req_release(&r);
}

TEST(cohere_ok) {
    rr_rerank_req_t r;
    CHECK(coh("{\"model\":\"m\",\"query\":\"q\",\"documents\":[\"a\",{\"text\":\"bb\",\"id\":7}],\"top_n\":5,"
              "\"return_documents\":true}", &r) == RR_API_OK);
    CHECK(r.n_docs == 2 && r.top_n == 2 && r.return_text == 1 && r.model.n == 1 && r.docs[1].n == 2);
    rr_rerank_req_release(&r);
    CHECK(coh("{\"query\":\"q\",\"documents\":[\"a\"],\"top_n\":null}", &r) == RR_API_OK);
    CHECK(r.top_n == 0 && r.return_text == 0);
    rr_rerank_req_release(&r);
}

TEST(statuses) {
    rr_rerank_req_t r;
    struct { const char *s; int cohere; rr_api_status_t want; } cases[] = {
        {"", 0, RR_API_BAD_REQUEST},
        {"nul", 0, RR_API_BAD_REQUEST},
        {"\"x\"", 0, RR_API_BAD_REQUEST},
        {"{\"query\":\"q\",\"texts\":[\"a\"]} trailing", 0, RR_API_BAD_REQUEST},
        {"{\"query\":null,\"texts\":[\"a\"]}", 0, RR_API_BAD_REQUEST},
        {"{\"query\":\"q\",\"texts\":[]}", 0, RR_API_BAD_REQUEST},
        {"{\"query\":\"q\",\"texts\":{}}", 0, RR_API_BAD_REQUEST},
        {"{\"query\":\"q\",\"texts\":[null]}", 0, RR_API_BAD_REQUEST},
        {"{\"query\":\"q\",\"texts\":[\"a\"],\"return_text\":1}", 0, RR_API_BAD_REQUEST},
        {"{\"query\":\"q\",\"texts\":[\"a\"],\"truncation_direction\":\"Up\"}", 0, RR_API_BAD_REQUEST},
        {"{\"query\":\"q\",\"texts\":[\"a\"],\"truncation_direction\":\"\"}", 0, RR_API_BAD_REQUEST},
        {"{\"query\":\"q\",\"texts\":[\"a\"],\"truncation_direction\":\"lefty\"}", 0, RR_API_BAD_REQUEST},
        {"{\"query\":\"q\",\"texts\":[\"a\"],\"truncation_direction\":\"left\\u0000\"}", 0, RR_API_BAD_REQUEST},
        {"{\"query\":\"q\",\"texts\":[\"a\"],\"truncation_direction\":3}", 0, RR_API_BAD_REQUEST},
        {"{\"query\":\"\\udc00\",\"texts\":[\"a\"]}", 0, RR_API_BAD_REQUEST},
        {"{\"query\":\"q\",\"documents\":[1]}", 1, RR_API_BAD_REQUEST},
        {"{\"query\":\"q\",\"documents\":[{\"text\":1}]}", 1, RR_API_BAD_REQUEST},
        {"{\"query\":\"q\",\"documents\":[{}]}", 1, RR_API_BAD_REQUEST},
        {"{\"query\":\"q\",\"documents\":[\"a\"],\"top_n\":-1}", 1, RR_API_UNPROCESSABLE},
        {"{\"query\":\"q\",\"documents\":[\"a\"],\"top_n\":1.5}", 1, RR_API_BAD_REQUEST},
        {"{\"query\":\"q\",\"documents\":[\"a\"],\"model\":5}", 1, RR_API_BAD_REQUEST},
        {"{\"query\":\"q\",\"documents\":[\"a\"],\"return_documents\":\"true\"}", 1, RR_API_BAD_REQUEST},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        rr_api_status_t st = cases[i].cohere ? coh(cases[i].s, &r) : tei(cases[i].s, &r);
        CHECK_MSG(st == cases[i].want, "case %zu: %d", i, (int)st);
        CHECK(r.docs == NULL && r.root_ == NULL);
    }
    /* size limits */
    char *big = malloc(4000);
    snprintf(big, 4000, "{\"query\":\"q\",\"texts\":[\"%01500d\"]}", 0);
    CHECK(tei(big, &r) == RR_API_TOO_LARGE);
    snprintf(big, 4000, "{\"query\":\"%01500d\",\"texts\":[\"a\"]}", 0);
    CHECK(tei(big, &r) == RR_API_TOO_LARGE);
    char *p = big;
    p += sprintf(p, "{\"query\":\"q\",\"documents\":[");
    for (int i = 0; i < 101; i++) p += sprintf(p, "%s\"a\"", i ? "," : "");
    sprintf(p, "]}");
    CHECK(coh(big, &r) == RR_API_TOO_LARGE);
    free(big);
    char err[128];
    rr_api_limits_t small = k_lim;
    small.max_body_bytes = 10;
    CHECK(rr_api_parse_tei("{\"query\":\"q\",\"texts\":[\"a\"]}", 26, &small, &r, err, sizeof err) == RR_API_TOO_LARGE);
    CHECK(strstr(err, "limit") != NULL);
    CHECK(rr_api_parse_tei("{\"query\":\"q\xff\",\"texts\":[\"a\"]}", 27, &k_lim, &r, err, sizeof err) == RR_API_BAD_REQUEST);
    CHECK(strstr(err, "UTF-8") != NULL);
    CHECK(rr_api_parse_tei(NULL, 0, &k_lim, &r, err, sizeof err) == RR_API_BAD_REQUEST);
}

TEST(rank_order) {
    float s[6] = {0.5f, NAN, 2.0f, 0.5f, -1.0f, 2.0f};
    size_t o[6];
    rr_api_rank(s, 6, o);
    size_t want[6] = {2, 5, 0, 3, 4, 1};
    for (int i = 0; i < 6; i++) CHECK(o[i] == want[i]);
    /* the allocation-free fallback gives the same order */
    rr_alloc_fail_at(1);
    rr_api_rank(s, 6, o);
    rr_alloc_fail_at(0);
    for (int i = 0; i < 6; i++) CHECK(o[i] == want[i]);
}

TEST(render) {
    rr_rerank_req_t r;
    CHECK(coh("{\"query\":\"q\",\"documents\":[\"a\",\"b\\u0000c\",\"d\"],\"top_n\":2,\"return_documents\":true}", &r) == RR_API_OK);
    float sc[3] = {0.1f, 0.9f, 0.5f};
    size_t len = 0;
    char *s = rr_api_render_cohere(&r, sc, "id-1", "model-x", 42, &len);
    CHECK(s && len == strlen(s));
    json_error_t e;
    json_t *j = json_loads(s, JSON_ALLOW_NUL, &e);
    json_t *res = json_object_get(j, "results");
    CHECK(json_array_size(res) == 2);
    CHECK(json_integer_value(json_object_get(json_array_get(res, 0), "index")) == 1);
    CHECK(json_string_length(json_object_get(json_object_get(json_array_get(res, 0), "document"), "text")) == 3);
    CHECK(json_integer_value(json_object_get(json_object_get(j, "usage"), "total_tokens")) == 42);
    CHECK(!strcmp(json_string_value(json_object_get(j, "id")), "id-1"));
    json_decref(j);
    rr_free(s);
    sc[0] = INFINITY;
    CHECK(rr_api_render_cohere(&r, sc, "id", "m", 1, &len) == NULL);
    rr_rerank_req_release(&r);
    CHECK(tei("{\"query\":\"q\",\"texts\":[\"a\",\"b\"],\"return_text\":true}", &r) == RR_API_OK);
    float t[2] = {0.25f, 0.75f};
    s = rr_api_render_tei(&r, t, &len);
    CHECK(s && !strcmp(s, "[{\"index\":1,\"score\":0.75,\"text\":\"b\"},{\"index\":0,\"score\":0.25,\"text\":\"a\"}]"));
    rr_free(s);
    rr_rerank_req_release(&r);
    s = rr_api_render_error(400, "validation", "bad \"thing\"", &len);
    CHECK(s && !strcmp(s, "{\"error\":{\"message\":\"bad \\\"thing\\\"\",\"type\":\"validation\",\"code\":400}}"));
    rr_free(s);    /* a message cut inside a UTF-8 character (and a stray byte): still a
     * JSON body, the broken bytes as '?' */
    s = rr_api_render_error(404, "not_found", "model 'caf\xc3' \xff \xe2\x82 ok \xc3\xa9", &len);
    CHECK_MSG(s && !strcmp(s, "{\"error\":{\"message\":\"model 'caf?' ? ?? ok \xc3\xa9\",\"type\":\"not_found\",\"code\":404}}"),
              "%s", s ? s : "(null)");
    rr_free(s);
}

TEST(alloc_failures) {
    const char *body = "{\"query\":\"q\",\"documents\":[\"a\",{\"text\":\"b\"}],\"top_n\":1,\"return_documents\":true}";
    int completed = 0;
    for (unsigned long n = 1; n < 500 && !completed; n++) {
        rr_rerank_req_t r;
        char err[128];
        rr_alloc_fail_at(n);
        rr_api_status_t st = rr_api_parse_cohere(body, strlen(body), RR_API_COHERE_V2, &k_lim, &r, err, sizeof err);
        char *s = NULL;
        if (st == RR_API_OK) {
            float sc[2] = {1, 2};
            size_t len;
            s = rr_api_render_cohere(&r, sc, "id", "m", 3, &len);
        }
        int failed = rr_alloc_failed();
        rr_alloc_fail_at(0);
        if (!failed) {
            completed = 1;
            CHECK(st == RR_API_OK && s != NULL);
        } else {
            /* any outcome is fine: no crash, no leak (ASan) */
        }
        rr_free(s);
        rr_rerank_req_release(&r);
    }
    CHECK(completed);
}

/* Mutation fuzz: random byte edits of valid requests never crash, leak or
 * return an unknown status. */
static unsigned long long rng = 88172645463325252ull;
static unsigned xr(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return (unsigned)rng; }

TEST(mutation_fuzz) {
    const char *seeds[] = {
        "{\"query\":\"q\",\"texts\":[\"a\",\"bb\"],\"raw_scores\":true,\"return_text\":true,\"truncate\":false}",
        "{\"model\":\"m\",\"query\":\"q\",\"documents\":[\"a\",{\"text\":\"bb\"}],\"top_n\":1,\"return_documents\":true}",
    };
    const char alphabet[] = "{}[]\",:\\u0aZ \xc3\xa9\xff\x00" "0123456789tfn-.eE";
    char buf[512];
    int ok = 0, bad = 0;
    for (int it = 0; it < 20000; it++) {
        const char *seed = seeds[it & 1];
        size_t n = strlen(seed);
        memcpy(buf, seed, n);
        int edits = 1 + (int)(xr() % 4);
        for (int e = 0; e < edits; e++) {
            unsigned op = xr() % 3;
            size_t pos = n ? xr() % n : 0;
            char ch = alphabet[xr() % (sizeof alphabet - 1)];
            if (op == 0) buf[pos] = ch;
            else if (op == 1 && n + 1 < sizeof buf) { memmove(buf + pos + 1, buf + pos, n - pos); buf[pos] = ch; n++; }
            else if (n > 1) { memmove(buf + pos, buf + pos + 1, n - pos - 1); n--; }
        }
        rr_rerank_req_t r;
        char err[256];
        rr_api_status_t st = (it & 1) ? rr_api_parse_cohere(buf, n, RR_API_COHERE_V2, &k_lim, &r, err, sizeof err)
                                      : rr_api_parse_tei(buf, n, &k_lim, &r, err, sizeof err);
        if (st == RR_API_OK) {
            ok++;
            CHECK(r.n_docs >= 1 && r.query.n <= k_lim.max_text_bytes);
            float *sc = calloc(r.n_docs, sizeof *sc);
            size_t len;
            char *s = (it & 1) ? rr_api_render_cohere(&r, sc, "i", "m", 1, &len) : rr_api_render_tei(&r, sc, &len);
            CHECK(s != NULL);
            rr_free(s);
            free(sc);
        } else {
            bad++;
            CHECK(st == RR_API_BAD_REQUEST || st == RR_API_TOO_LARGE || st == RR_API_UNPROCESSABLE);
            CHECK(err[0] != 0);
        }
        rr_rerank_req_release(&r);
    }
    CHECK(ok > 100 && bad > 100);
}

TEST(auth_compare) {
    CHECK(rr_auth_check(NULL, NULL) == 1);
    CHECK(rr_auth_check(NULL, "k") == 0);
    CHECK(rr_auth_check("Bearer k", "k") == 1);
    CHECK(rr_auth_check("bearer  k ", "k") == 1);
    CHECK(rr_auth_check("Bearer k2", "k") == 0);
    CHECK(rr_auth_check("Bearer ", "k") == 0);
    CHECK(rr_auth_check("Bearerk", "k") == 0);
    CHECK(rr_auth_check("Basic k", "k") == 0);
    CHECK(rr_auth_check("Bearer K", "k") == 0);
    CHECK(rr_ct_equal("abc", 3, "abc", 3) == 1);
    CHECK(rr_ct_equal("abc", 3, "abd", 3) == 0);
    CHECK(rr_ct_equal("ab", 2, "abc", 3) == 0);
    CHECK(rr_ct_equal("abcd", 4, "abc", 3) == 0);
    CHECK(rr_ct_equal("", 0, "", 0) == 1);
}

int main(void) {
    rr_alloc_init_json();
    RUN(tei_ok);
    RUN(cohere_ok);
    RUN(statuses);
    RUN(rank_order);
    RUN(render);
    RUN(alloc_failures);
    RUN(mutation_fuzz);
    RUN(auth_compare);
    TEST_MAIN_END();
}
