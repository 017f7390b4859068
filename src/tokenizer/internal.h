/* internal.h — shared internals of the tokenizer module (src/tokenizer/):
 * the pipeline description (normalizers, pre-tokenizers, the model seam,
 * added tokens, templates), immutable after rerank_tokenizer_load and
 * shared by all threads.
 *
 * Pipeline of one text, exactly as Hugging Face `tokenizers`:
 *   raw text -> split on non-normalized added tokens
 *            -> each remaining piece: normalizer
 *            -> split on normalized added tokens
 *            -> pre-tokenizer (words) -> model (ids)
 */
#ifndef RR_TOKENIZER_INTERNAL_H
#define RR_TOKENIZER_INTERNAL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "rerank.h"
#include "tokenizer/bert.h"
#include "tokenizer/split_scan.h"
#include "tokenizer/tok_model.h"
#include "tokenizer/tok_util.h"
#include "tokenizer/vocab_fast.h"

/* Base64 (standard alphabet, '=' padding optional) into a new rr_malloc'd blob. */
rerank_status_t rr_base64_decode(const char *s, size_t n, unsigned char **out, size_t *out_n);

/* ---- Precompiled charsmap (SentencePiece) -------------------------------- */

typedef struct rr_precompiled rr_precompiled_t;

/* Parse the raw (base64-decoded) charsmap blob. */
rerank_status_t rr_precompiled_new(const unsigned char *blob, size_t n, rr_precompiled_t **out);
void rr_precompiled_free(rr_precompiled_t *pc);
/* Shortest-prefix replacement for s[0..n): 1 and (*rep, *rep_len) if the
 * trie has an entry that is a prefix of s, else 0. */
int rr_precompiled_transform(const rr_precompiled_t *pc, const char *s, size_t n,
                             const char **rep, size_t *rep_len);
/* HF's grapheme-wise normalization of s (valid UTF-8), appended to out. */
rerank_status_t rr_precompiled_normalize(const rr_precompiled_t *pc, const char *s, size_t n,
                                         rr_sbuf_t *out);

/* ---- tiny regex (Replace / Split patterns) ------------------------------ */

typedef struct rr_regex rr_regex_t;

/* Compile a pattern from the subset used by real tokenizer.json files:
 * concatenations of literal chars, escapes (\s \S \d \D \w \W \t \n \r and
 * escaped punctuation), '.', character classes [...] with ranges/negation,
 * each optionally quantified by ? * + {n} {n,} {n,m}; also alternation of
 * such sequences with '|'. Anything else -> RERANK_ERR_UNSUPPORTED. */
rerank_status_t rr_regex_compile(const char *pat, size_t n, rr_regex_t **out);
/* A pattern matching the literal string lit[0..n). */
rerank_status_t rr_regex_compile_literal(const char *lit, size_t n, rr_regex_t **out);
void rr_regex_free(rr_regex_t *re);
/* Leftmost-first match at or after byte `from` of s[0..n) (valid UTF-8).
 * Returns 1 and [*ms, *me) if found (possibly empty), 0 if none,
 * -1 on allocation failure. Linear time (Pike VM). */
int rr_regex_find(const rr_regex_t *re, const char *s, size_t n, size_t from, size_t *ms,
                  size_t *me);

/* ---- normalizers -------------------------------------------------------- */

typedef enum rr_norm_kind {
    RR_NORM_SEQUENCE,
    RR_NORM_PRECOMPILED,
    RR_NORM_REPLACE,
    RR_NORM_LOWERCASE,
    RR_NORM_NFC,
    RR_NORM_NFD,
    RR_NORM_NFKC,
    RR_NORM_NFKD,
    RR_NORM_STRIP,
    RR_NORM_STRIP_ACCENTS,
    RR_NORM_PREPEND,
    RR_NORM_BERT,
} rr_norm_kind_t;

typedef struct rr_normalizer {
    rr_norm_kind_t kind;
    struct rr_normalizer *children; /* SEQUENCE */
    size_t n_children;
    rr_precompiled_t *pc;           /* PRECOMPILED */
    rr_regex_t *re;                 /* REPLACE (regex form) */
    char *pattern, *content;        /* REPLACE (string form pattern), PREPEND */
    size_t pattern_len, content_len;
    int strip_left, strip_right;    /* STRIP */
    rr_bert_norm_opts_t bert;       /* BERT */
} rr_normalizer_t;

/* Build from a "normalizer" member (NULL/json null -> *out = NULL, no normalizer). */
rerank_status_t rr_normalizer_new(const json_t *j, rr_normalizer_t **out);
void rr_normalizer_free(rr_normalizer_t *n);
/* Normalize s[0..n) into out (out is reset first). */
rerank_status_t rr_normalize(const rr_normalizer_t *nz, const char *s, size_t n, rr_sbuf_t *out);

/* ---- pre-tokenizers ------------------------------------------------------ */

typedef enum rr_pretok_kind {
    RR_PRETOK_SEQUENCE,
    RR_PRETOK_METASPACE,
    RR_PRETOK_WHITESPACE_SPLIT,
    RR_PRETOK_BERT,
    RR_PRETOK_SPLIT,
    RR_PRETOK_BYTE_LEVEL,
} rr_pretok_kind_t;

typedef enum { RR_PREPEND_ALWAYS, RR_PREPEND_FIRST, RR_PREPEND_NEVER } rr_prepend_t;

typedef struct rr_pretok {
    rr_pretok_kind_t kind;
    struct rr_pretok *children;
    size_t n_children;
    char replacement[4]; /* METASPACE: UTF-8 of the replacement char */
    int replacement_len;
    rr_prepend_t prepend;
    int split;
    /* SPLIT: a dedicated scanner for a known pattern, else a regex.c one;
     * `removed`: matches are dropped (Removed), else kept (Isolated).
     * BYTE_LEVEL: scan = GPT-2's scanner when use_regex, else NULL. */
    rr_split_scanner_t scan;
    rr_regex_t *re;
    int removed, add_prefix_space;
} rr_pretok_t;

/* Split (parse and apply) and ByteLevel (pretok_split.c). */
rerank_status_t rr_pretok_split_parse(const json_t *j, rr_pretok_t *p);
rerank_status_t rr_pretok_byte_level_parse(const json_t *j, rr_pretok_t *p);
rerank_status_t rr_pretok_split_apply(const rr_pretok_t *p, const char *s, size_t n, int first, rr_words_t *out);
rerank_status_t rr_pretok_byte_level_apply(const rr_pretok_t *p, const char *s, size_t n, int first, rr_words_t *out);

/* Build from a "pre_tokenizer" member (NULL/json null -> *out = NULL). */
rerank_status_t rr_pretok_new(const json_t *j, rr_pretok_t **out);
void rr_pretok_free(rr_pretok_t *p);
/* Pre-tokenize s[0..n) (one piece of normalized text; `first`: it starts at
 * offset 0 of the input) into *out (reset first). */
rerank_status_t rr_pretokenize(const rr_pretok_t *p, const char *s, size_t n, int first,
                               rr_words_t *out);

/* ---- Unigram model: test hooks (the tokenizer reaches it through rr_unigram_ops) */

typedef struct rr_unigram rr_unigram_t;

/* Build from arrays: pieces[i] NUL-terminated, scores[i]. unk_id < 0: none. */
rerank_status_t rr_unigram_new_raw(const char *const *pieces, const double *scores, size_t n, int32_t unk_id,
                                   int byte_fallback, rr_unigram_t **out);
void rr_unigram_free(rr_unigram_t *u);
/* Exact piece lookup: 1 and *id if found. */
int rr_unigram_lookup(const rr_unigram_t *u, const char *s, size_t n, int32_t *id);
/* Viterbi-segment one word and append its ids. */
rerank_status_t rr_unigram_encode(const rr_unigram_t *u, const char *s, size_t n, rr_ids_t *ids);

/* ---- added tokens ------------------------------------------------------- */

typedef struct rr_added {
    char *content;
    size_t len;
    int32_t id;
    int single_word, lstrip, rstrip, normalized, special;
} rr_added_t;

/* A split of a text: an added token (id >= 0) or text [start, end) (id < 0). */
typedef struct rr_split {
    size_t start, end;
    int32_t id;
} rr_split_t;

typedef struct rr_splits {
    rr_split_t *v;
    size_t n, cap;
} rr_splits_t;

/* The added tokens of one class (normalized or not) as a byte trie. */
typedef struct rr_added_trie rr_added_trie_t;

/* Build the trie of toks[] with `normalized` == want_normalized; *out =
 * NULL when there is none. */
rerank_status_t rr_added_trie_new(const rr_added_t *toks, size_t n_toks, int want_normalized, rr_added_trie_t **out);
void rr_added_trie_free(rr_added_trie_t *t);

/* Split s[0..n) on the tokens of `trie` (indices into toks[]), as HF's
 * AddedVocabulary::find_matches: leftmost-longest matches, single_word /
 * lstrip / rstrip. Appends to *out. */
rerank_status_t rr_added_split(const rr_added_t *toks, const rr_added_trie_t *trie, const char *s, size_t n,
                               rr_splits_t *out);

/* ---- post-processor template ------------------------------------------- */

typedef struct rr_tpl_item {
    int seq;          /* -1: special tokens; 0: sequence A; 1: sequence B */
    int32_t *ids;     /* special token ids */
    size_t n_ids;
    int32_t type_id;
} rr_tpl_item_t;

typedef struct rr_template {
    rr_tpl_item_t *single, *pair;
    size_t n_single, n_pair;
} rr_template_t;

/* Parse "post_processor" (null -> plain A / A B with type ids 0 / 1). */
rerank_status_t rr_template_parse(const json_t *j, rr_template_t *out);
void rr_template_release(rr_template_t *t);
/* Number of special ids in the single (is_pair 0) or pair template. */
size_t rr_template_overhead(const rr_template_t *t, int is_pair);
/* Fill enc from a (and b, for the pair template when b != NULL). */
rerank_status_t rr_template_apply(const rr_template_t *t, const int32_t *a, size_t na,
                                  const int32_t *b, size_t nb, rerank_encoding_t *enc);

/* ---- truncation (pure arithmetic, for tests) ---------------------------- */

/* Lengths after pair truncation. max_length <= 0: unchanged. *na and *nb
 * are the sides' counts in (their lengths, or for LONGEST_FIRST the counts of
 * rr_enc_limit_t's early exit at max_length) and the kept lengths out. */
void rr_truncate_pair(size_t *na, size_t *nb, int32_t max_length, size_t overhead,
                      rerank_truncation_t strategy);

/* ---- the tokenizer -------------------------------------------------------- */

struct rerank_tokenizer {
    rr_normalizer_t *normalizer; /* may be NULL */
    rr_pretok_t *pretok;         /* may be NULL */
    rr_tok_model_t model;
    rr_added_t *added;
    size_t n_added;
    rr_added_trie_t *raw_added, *norm_added; /* NULL: no such tokens */
    rr_template_t tpl;
    int32_t vocab_size;
};

/* Build a tokenizer from a parsed tokenizer.json root (`pre`: the tables
 * rr_vocab_fast_parse took out of it; may be NULL). */
rerank_status_t rr_tokenizer_from_json(const json_t *root, const rr_vocab_t *pre,
                                       rerank_tokenizer_t **out);
/* Hugging Face tokenizers' (>= 0.23) early exit under truncation
 * (PreTokenizedString::tokenize_with_limit): a sequence is tokenized only up
 * to the pre-tokenized word at which its ids reach `max`, counted from its
 * start (added tokens count, but only the end of a word stops it). Pair
 * truncation splits those counts, not the full lengths: with both sides
 * longer than `max`, both count as about `max`. */
typedef struct rr_enc_limit {
    size_t max;   /* in: 0 = no limit                                         */
    int full;     /* in: 1 = Left truncation: tokenize the whole text (its    */
                  /*     end is kept) and measure the count as HF's Left      */
                  /*     early exit does, words taken from the end            */
    size_t count; /* out: the ids the early exit leaves (all of them if the  */
                  /*      text never reaches max)                             */
} rr_enc_limit_t;

/* Tokenize without special tokens, appending ids. lim (may be NULL: no
 * limit): see rr_enc_limit_t; without lim->full, ids get only the first
 * lim->count ids. */
rerank_status_t rr_tokenizer_encode(const rerank_tokenizer_t *tok, const char *text, size_t len,
                                    rr_enc_limit_t *lim, rr_ids_t *ids);
/* A text the caller passed (named `what` in the message): not NULL unless
 * empty, at most RR_MAX_TEXT_BYTES, valid UTF-8. */
rerank_status_t rr_tokenizer_check_text(const char *what, const char *s, size_t n);

#endif
