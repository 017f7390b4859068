/* api.h — JSON request decoding and response encoding of the rerank routes,
 * independent of HTTP (fuzzable): TEI (`POST /rerank`) and Cohere / Jina
 * (`POST /v1/rerank`, `POST /v2/rerank`). */
#ifndef RR_SERVER_API_H
#define RR_SERVER_API_H

#include <stddef.h>

#include "rerank.h"

typedef enum rr_api_kind { RR_API_TEI = 0, RR_API_COHERE_V1 = 1, RR_API_COHERE_V2 = 2 } rr_api_kind_t;

/* Decoder outcome; the value is the HTTP status it maps to. */
typedef enum rr_api_status {
    RR_API_OK = 0,
    RR_API_BAD_REQUEST = 400,   /* malformed JSON, wrong types, bad UTF-8, empty */
    RR_API_TOO_LARGE = 413,     /* beyond a size limit                           */
    RR_API_UNPROCESSABLE = 422, /* well-formed but unsupported / invalid value   */
    RR_API_NOMEM = 503,         /* out of memory while decoding                  */
} rr_api_status_t;

typedef struct rr_api_limits {
    size_t max_body_bytes;
    size_t max_docs;
    size_t max_text_bytes;
} rr_api_limits_t;

typedef struct rr_text {
    const char *s; /* points into the request's JSON tree; may hold NULs */
    size_t n;
} rr_text_t;

typedef struct rr_rerank_req {
    rr_api_kind_t kind;
    void *root_;        /* json_t owning every string below                 */
    rr_text_t query;
    rr_text_t *docs;
    size_t n_docs;
    size_t top_n;       /* 0 = all                                           */
    int truncate;       /* -1 unset (server default), 0, 1                   */
    rerank_trunc_direction_t direction; /* TEI "truncation_direction" (Right) */
    int raw_scores;     /* 1: raw logits instead of sigmoid                  */
    int return_text;    /* TEI return_text / Cohere return_documents         */
    rr_text_t model;    /* Cohere "model" (n == 0 if absent)                 */
    /* Long documents (api_long.c), -1 where the request says nothing:
     * "long_docs" ("truncate" | "chunk"), "chunk_tokens", "chunk_overlap",
     * "max_chunks_per_doc" (Cohere v1; implies chunk), "max_tokens_per_doc"
     * (Cohere v2), in every API. */
    int long_docs;
    int32_t chunk_tokens, chunk_overlap, max_chunks_per_doc, max_tokens_per_doc;
    /* Set by the server when it scored in windows: each document's best
     * one, rendered as "chunk", "chunks", "token_start", "token_end",
     * "doc_tokens" in its result. NULL: not chunked. */
    const rerank_chunk_info_t *best;
    rr_text_t instruction; /* an LLM reranker's task instruction (s NULL if absent) */
} rr_rerank_req_t;

/* Decode a request body. On failure returns the status, writes a message to
 * err (cap bytes, NUL-terminated) and leaves *out empty (releasing it is a no-op). */
rr_api_status_t rr_api_parse_tei(const char *body, size_t n, const rr_api_limits_t *lim,
                                 rr_rerank_req_t *out, char *err, size_t cap);
rr_api_status_t rr_api_parse_cohere(const char *body, size_t n, rr_api_kind_t kind,
                                    const rr_api_limits_t *lim, rr_rerank_req_t *out,
                                    char *err, size_t cap);
/* Release the buffers of a decoded request (the struct is the caller's). */
void rr_rerank_req_release(rr_rerank_req_t *req);

/* Fill order[0..n) with indices sorted by score, best first (ties: lower
 * index first; NaN last). */
void rr_api_rank(const float *scores, size_t n, size_t *order);
/* TEI's compute_chars: the characters (code points; valid UTF-8) of the
 * query once per document, plus the documents'. */
size_t rr_api_compute_chars(const rr_text_t *query, const rr_text_t *docs, size_t n);

/* Responses (malloc'd via rr_malloc, NUL-terminated, length in *len; NULL on
 * out of memory or a non-finite score). `scores` are the final values
 * (sigmoid already applied unless raw). */
char *rr_api_render_tei(const rr_rerank_req_t *req, const float *scores, size_t *len);
char *rr_api_render_cohere(const rr_rerank_req_t *req, const float *scores, const char *id,
                           const char *model, size_t total_tokens, size_t *len);
/* {"error":{"message":msg,"type":type,"code":code}}; bytes of msg that are
 * not valid UTF-8 (a character cut by truncation) are sent as '?'. */
char *rr_api_render_error(int code, const char *type, const char *msg, size_t *len);

#endif
