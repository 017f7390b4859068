/* prompt.h — an LLM reranker's prompt recipe at the tokenizer level: the
 * ids of (instruction, query, document) as the model scores them. A recipe
 * is constant text (prefix, a middle template, suffix, default
 * instruction); bound to a tokenizer (rr_prompt_new) it keeps the prefix
 * and suffix ids, tokenized once on their own. */
#ifndef RR_TOKENIZER_PROMPT_H
#define RR_TOKENIZER_PROMPT_H

#include <stddef.h>
#include <stdint.h>

#include "rerank.h"

typedef struct rr_prompt_recipe {
    const char *name;                /* e.g. "qwen3-reranker"                    */
    const char *prefix, *suffix;     /* tokenized on their own, never cut        */
    /* The middle: {instruction}, {query} and {doc} are replaced by the texts;
     * tokenized as one text and cut from the right to fit max_length. */
    const char *middle;
    const char *default_instruction; /* when the caller gives none (NULL)        */
} rr_prompt_recipe_t;

/* Qwen3-Reranker (model card and transformers code): system prompt prefix,
 * "<Instruct>: {instruction}\n<Query>: {query}\n<Document>: {doc}", and
 * the assistant turn with an empty think block as the suffix. */
extern const rr_prompt_recipe_t rr_prompt_qwen3_reranker;

typedef struct rr_prompt rr_prompt_t;

/* Bind a recipe to a tokenizer (both must outlive the prompt). */
rerank_status_t rr_prompt_new(const rerank_tokenizer_t *tok, const rr_prompt_recipe_t *recipe, rr_prompt_t **out);
void rr_prompt_free(rr_prompt_t *p);

/* Ids of the prefix and suffix together: the shortest max_length is that + 1. */
size_t rr_prompt_fixed_ids(const rr_prompt_t *p);

/* prefix + middle + suffix into enc (type ids all 0). instruction NULL: the
 * recipe's default (an empty one, length 0, is kept empty). max_length > 0:
 * the middle is cut from the right to max_length - rr_prompt_fixed_ids(p)
 * ids (RERANK_ERR_INVALID_ARGUMENT if that leaves none); 0: no limit.
 * Texts must be valid UTF-8 of at most RR_MAX_TEXT_BYTES each. Thread-safe
 * on a shared prompt. */
rerank_status_t rr_prompt_encode(const rr_prompt_t *p, const char *instruction, size_t instruction_len,
                                 const char *query, size_t query_len, const char *doc, size_t doc_len,
                                 int32_t max_length, rerank_encoding_t *enc);

/* The windows of (instruction, query, doc) under lo, as
 * rerank_model_window_pair gives them for an LLM reranker. The middle is
 * tokenized in full; the document's ids are its ids past those it shares
 * with the middle of an empty document (the stem: instruction, query and
 * the labels). Each window is prefix + stem + a cut of the document's ids
 * + suffix, so a document that fits is one window equal to
 * rr_prompt_encode's prompt. max_length: resolved (> 0) for chunks; in
 * truncate mode (only useful with max_tokens_per_doc, which cuts the
 * document first) 0 means no cut. RERANK_ERR_LIMIT when the stem leaves no
 * room for the document in a chunk. Thread-safe on a shared prompt. */
rerank_status_t rr_prompt_windows(const rr_prompt_t *p, const char *instruction, size_t instruction_len,
                                  const char *query, size_t query_len, const char *doc, size_t doc_len,
                                  int32_t max_length, const rerank_long_options_t *lo, rerank_windows_t *out);

#endif
