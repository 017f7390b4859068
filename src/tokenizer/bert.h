/* bert.h — the BERT stages of Hugging Face `tokenizers` that the generic
 * pipeline (normalizer.c, pretok.c) runs: BertNormalizer and
 * BertPreTokenizer, id-for-id identical to tokenizers 0.23 with the
 * WordPiece model (wordpiece.c) on the uncased BERT vocab.
 *
 * Input text must be valid UTF-8 (the framework validates it) and contain no
 * added/special tokens (the framework splits those out first). */
#ifndef RR_TOKENIZER_BERT_H
#define RR_TOKENIZER_BERT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "rerank.h"
#include "tokenizer/tok_util.h"

/* ---- BertNormalizer ------------------------------------------------------ */

typedef struct rr_bert_norm_opts {
    int clean_text;           /* drop NUL, U+FFFD, Cc/Cf(8.0)/Co; whitespace -> ' ' */
    int handle_chinese_chars; /* ' ' around CJK ideographs (HF's ranges)      */
    int strip_accents;        /* NFD, drop Mn (8.0) (resolved: null -> lowercase) */
    int lowercase;            /* Rust char::to_lowercase                       */
} rr_bert_norm_opts_t;

/* Parse a tokenizer.json BertNormalizer object; the HF defaults (true,
 * true, null, true) fill absent fields. */
rerank_status_t rr_bert_norm_opts_parse(const json_t *normalizer, rr_bert_norm_opts_t *out);

/* Normalize text[0..len) and append the UTF-8 result to out. */
rerank_status_t rr_bert_normalize(const rr_bert_norm_opts_t *o, const char *text, size_t len, rr_sbuf_t *out);

/* ---- BertPreTokenizer ---------------------------------------------------- */

/* Split on whitespace (Rust char::is_whitespace, removed) and isolate each
 * punctuation char (ASCII punctuation or Unicode 8.0 P*, as HF's
 * unicode_categories crate); append the non-empty words to out (text and
 * word list). `first`: text starts at offset 0 of the input. */
rerank_status_t rr_bert_pretokenize(const char *text, size_t len, int first, rr_words_t *out);

/* ASCII punctuation or a Unicode 8.0 P* char. */
int rr_bert_is_punct(uint32_t cp);

#endif
