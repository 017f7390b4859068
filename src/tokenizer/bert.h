/* bert.h — the BERT tokenizer path of Hugging Face `tokenizers`:
 * BertNormalizer + BertPreTokenizer + WordPiece, id-for-id identical to
 * tokenizers 0.23 on the uncased BERT vocab (cross-encoder/ms-marco-MiniLM).
 *
 * Growable outputs use the (pointer, length, capacity) triple convention:
 * start from {NULL, 0, 0}; calls append and grow with rr_realloc; the caller
 * rr_free()s the pointer. On failure the triple stays valid (possibly with
 * some elements appended) and nothing leaks.
 *
 * Input text must be valid UTF-8 (the framework validates it) and contain no
 * added/special tokens (the framework splits those out first). Everything
 * here is reentrant: a created rr_wordpiece_t is immutable and may be shared
 * by any number of threads. */
#ifndef RR_TOKENIZER_BERT_H
#define RR_TOKENIZER_BERT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "rerank.h"

/* ---- stage 1: BertNormalizer ------------------------------------------- */

typedef struct rr_bert_norm_opts {
    int enabled;              /* 0: no normalizer at all (text passes through) */
    int clean_text;           /* drop NUL, U+FFFD, Cc/Cf(8.0)/Co; whitespace -> ' ' */
    int handle_chinese_chars; /* ' ' around CJK ideographs (HF's ranges)      */
    int strip_accents;        /* NFD, drop Mn (8.0) (resolved: null -> lowercase) */
    int lowercase;            /* Rust char::to_lowercase                       */
} rr_bert_norm_opts_t;

/* Parse a tokenizer.json "normalizer" object (NULL or json null -> disabled).
 * Only "BertNormalizer" is accepted (RERANK_ERR_UNSUPPORTED otherwise); the
 * HF defaults (true, true, null, true) fill absent fields. */
rerank_status_t rr_bert_norm_opts_parse(const json_t *normalizer, rr_bert_norm_opts_t *out);

/* Normalize text[0..len) and append the UTF-8 result to (*buf, *n, *cap). */
rerank_status_t rr_bert_normalize(const rr_bert_norm_opts_t *o, const char *text, size_t len,
                                  char **buf, size_t *n, size_t *cap);

/* ---- stage 2: BertPreTokenizer ----------------------------------------- */

typedef struct rr_bert_span {
    size_t start, len; /* byte range in the pre-tokenized text */
} rr_bert_span_t;

/* Split on whitespace (Rust char::is_whitespace, removed) and isolate each
 * punctuation char (ASCII punctuation or Unicode 8.0 P*, as HF's
 * unicode_categories crate); append the non-empty words as spans to
 * (*spans, *n, *cap). */
rerank_status_t rr_bert_pretokenize(const char *text, size_t len, rr_bert_span_t **spans,
                                    size_t *n, size_t *cap);

/* Character classes used above, exposed for tests. */
int rr_bert_is_whitespace(uint32_t cp); /* Rust char::is_whitespace */
int rr_bert_is_punct(uint32_t cp);

/* ---- stage 3: WordPiece + the whole path -------------------------------- */

typedef struct rr_wordpiece rr_wordpiece_t;

/* Build from tokenizer.json's "model" (type WordPiece: vocab, unk_token,
 * continuing_subword_prefix, max_input_chars_per_word), "normalizer" and
 * "pre_tokenizer" (each may be NULL or json null; otherwise must be
 * BertNormalizer / BertPreTokenizer). No pre-tokenizer means the whole
 * normalized text is one word. */
rerank_status_t rr_wordpiece_create(const json_t *model, const json_t *normalizer,
                                    const json_t *pre_tokenizer, rr_wordpiece_t **out);
void rr_wordpiece_free(rr_wordpiece_t *wp);

/* Normalize + pre-tokenize + WordPiece one text segment; append ids. */
rerank_status_t rr_wordpiece_encode(const rr_wordpiece_t *wp, const char *text, size_t len,
                                    int32_t **ids, size_t *n, size_t *cap);

/* WordPiece one already pre-tokenized word (greedy longest match first,
 * "##"-style continuation prefix; a word longer than max_input_chars_per_word
 * chars or with an unmatchable piece becomes the single unk id). */
rerank_status_t rr_wordpiece_word(const rr_wordpiece_t *wp, const char *word, size_t len,
                                  int32_t **ids, size_t *n, size_t *cap);

/* Vocabulary lookup (tests/debugging): 1 and *id if found, else 0. */
int rr_wordpiece_lookup(const rr_wordpiece_t *wp, const char *piece, size_t len, int32_t *id);
int32_t rr_wordpiece_unk_id(const rr_wordpiece_t *wp);

/* 1 if cp lies in one of the n sorted, disjoint [lo, hi] ranges of r
 * (binary search); the Unicode-8.0 category tables use it. */
int rr_cp_in_ranges(const uint32_t (*r)[2], size_t n, uint32_t cp);

#endif
