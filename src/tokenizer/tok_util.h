/* tok_util.h — the tokenizer module's small growable containers (ids, bytes,
 * word lists) and tokenizer.json helpers. Containers follow one convention:
 * start zeroed ({0}), grow with rr_realloc, give their buffers back with
 * *_release (the struct itself is the caller's). */
#ifndef RR_TOKENIZER_TOK_UTIL_H
#define RR_TOKENIZER_TOK_UTIL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "rerank.h"

typedef struct rr_ids {
    int32_t *v;
    size_t n, cap;
} rr_ids_t;

typedef struct rr_sbuf {
    char *p;
    size_t n, cap;
} rr_sbuf_t;

/* Make *p hold at least `need` elements of `elem` bytes (RERANK_ERR_NOMEM /
 * LIMIT on failure, *p unchanged). */
rerank_status_t rr_grow(void **p, size_t *cap, size_t need, size_t elem);

/* Ensure room for `extra` more elements. */
rerank_status_t rr_ids_reserve(rr_ids_t *v, size_t extra);
rerank_status_t rr_ids_push(rr_ids_t *v, int32_t id);
void rr_ids_release(rr_ids_t *v);

rerank_status_t rr_sbuf_reserve(rr_sbuf_t *b, size_t extra);
rerank_status_t rr_sbuf_append(rr_sbuf_t *b, const char *s, size_t n);
rerank_status_t rr_sbuf_append_cp(rr_sbuf_t *b, uint32_t cp);
void rr_sbuf_release(rr_sbuf_t *b);

/* A word list: words are byte ranges of `text`; `first` marks a word that
 * starts at offset 0 of the original input (Metaspace prepend_scheme first). */
typedef struct rr_word {
    size_t start, len;
    int first;
} rr_word_t;

typedef struct rr_words {
    rr_sbuf_t text;
    rr_word_t *w;
    size_t n, cap;
} rr_words_t;

rerank_status_t rr_words_push(rr_words_t *ws, size_t start, size_t len, int first);
/* Append s[0..n) to the text and make it one word. */
rerank_status_t rr_words_push_text(rr_words_t *ws, const char *s, size_t n, int first);
void rr_words_reset(rr_words_t *ws);
void rr_words_release(rr_words_t *ws);

/* Object member "type" as a string, or NULL. */
const char *rr_json_type(const json_t *obj);
/* Optional boolean member: *out = default when absent/null; error if not bool. */
rerank_status_t rr_json_bool(const json_t *obj, const char *key, int dflt, int *out, const char *ctx);

#endif
