/* fuzz_api — arbitrary bytes through the server's request decoders
 * (TEI `/rerank`, Cohere `/v1|v2/rerank`), then the response encoders.
 * The first byte picks the API. Properties: the status is one of OK, 400,
 * 413, 422 with a message; an accepted request has 1..max_docs documents, a
 * non-empty query, every text valid UTF-8 within max_text_bytes, top_n <=
 * n_docs, long-document fields absent (-1) or in their ranges; its response
 * (with a winning window per document when chunked) renders and parses back
 * with the right number of results; everything is released (ASan). */
#include <jansson.h>
#include <stdint.h>
#include <string.h>

#include "common/alloc.h"
#include "common/limits.h"
#include "common/utf8.h"
#include "fuzz.h"
#include "server/api.h"

RR_FUZZ_TARGET(api);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc; (void)argv;
    rr_alloc_init_json();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int kind = data[0] % 3;
    const char *body = (const char *)data + 1;
    size_t n = size - 1;
    rr_api_limits_t lim = {.max_body_bytes = 1 << 16, .max_docs = 64, .max_text_bytes = 4096};
    rr_rerank_req_t r;
    char err[256] = "";
    rr_api_status_t st = kind == 0 ? rr_api_parse_tei(body, n, &lim, &r, err, sizeof err)
                                   : rr_api_parse_cohere(body, n, kind == 1 ? RR_API_COHERE_V1 : RR_API_COHERE_V2, &lim,
                                                         &r, err, sizeof err);
    if (st != RR_API_OK) {
        RR_FUZZ_CHECK(st == RR_API_BAD_REQUEST || st == RR_API_TOO_LARGE || st == RR_API_UNPROCESSABLE);
        RR_FUZZ_CHECK(err[0] != 0);
        RR_FUZZ_CHECK(r.docs == NULL && r.n_docs == 0);
        return 0;
    }
    RR_FUZZ_CHECK(r.n_docs >= 1 && r.n_docs <= lim.max_docs);
    RR_FUZZ_CHECK(r.query.n <= lim.max_text_bytes && rr_utf8_valid(r.query.s, r.query.n, NULL));
    for (size_t i = 0; i < r.n_docs; i++)
        RR_FUZZ_CHECK(r.docs[i].n <= lim.max_text_bytes && rr_utf8_valid(r.docs[i].s, r.docs[i].n, NULL));
    RR_FUZZ_CHECK(r.top_n <= r.n_docs);
    /* only TEI has "truncation_direction" */
    RR_FUZZ_CHECK(r.direction == RERANK_TRUNC_RIGHT || (kind == 0 && r.direction == RERANK_TRUNC_LEFT));
    /* long documents: absent, or in range; an overlap below the window */
    RR_FUZZ_CHECK(r.long_docs >= -1 && r.long_docs <= RERANK_LONG_DOCS_CHUNK);
    RR_FUZZ_CHECK(r.chunk_tokens == -1 || (r.chunk_tokens >= 1 && r.chunk_tokens <= RR_MAX_SEQ_TOKENS));
    RR_FUZZ_CHECK(r.chunk_overlap >= -1 && r.chunk_overlap <= RR_MAX_SEQ_TOKENS);
    RR_FUZZ_CHECK(r.chunk_tokens <= 0 || r.chunk_overlap < r.chunk_tokens);
    RR_FUZZ_CHECK(r.max_chunks_per_doc == -1 || r.max_chunks_per_doc >= 1);
    RR_FUZZ_CHECK(r.max_tokens_per_doc == -1 || r.max_tokens_per_doc >= 1);
    RR_FUZZ_CHECK(r.long_docs != RERANK_LONG_DOCS_TRUNCATE ||
                  (r.chunk_tokens < 0 && r.chunk_overlap < 0 && r.max_chunks_per_doc < 0));
    float *scores = rr_malloc(r.n_docs * sizeof *scores);
    rerank_chunk_info_t *best = rr_calloc(r.n_docs, sizeof *best);
    RR_FUZZ_CHECK(scores != NULL && best != NULL);
    if (r.long_docs == RERANK_LONG_DOCS_CHUNK) r.best = best;
    for (size_t i = 0; i < r.n_docs; i++) scores[i] = (float)((i * 7919) % 13) / 13.0f;
    size_t len = 0;
    char *out = kind == 0 ? rr_api_render_tei(&r, scores, &len) : rr_api_render_cohere(&r, scores, "id", "m", 1, &len);
    RR_FUZZ_CHECK(out != NULL && len == strlen(out));
    json_error_t je;
    json_t *j = json_loads(out, JSON_ALLOW_NUL, &je);
    RR_FUZZ_CHECK(j != NULL);
    json_t *res = kind == 0 ? j : json_object_get(j, "results");
    RR_FUZZ_CHECK(json_array_size(res) == (kind == 0 || !r.top_n ? r.n_docs : r.top_n));
    RR_FUZZ_CHECK(!json_array_size(res) || (json_object_get(json_array_get(res, 0), "chunk") != NULL) == (r.best != NULL));
    /* best first */
    for (size_t k = 1; k < json_array_size(res); k++) {
        const char *key = kind == 0 ? "score" : "relevance_score";
        RR_FUZZ_CHECK(json_real_value(json_object_get(json_array_get(res, k - 1), key)) >=
                      json_real_value(json_object_get(json_array_get(res, k), key)));
    }
    json_decref(j);
    rr_free(out);
    rr_free(scores);
    rr_free(best);
    rr_rerank_req_release(&r);
    return 0;
}
