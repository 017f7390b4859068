/* window.h — chunked pairs at the token level (rerank_windows_t): the
 * query and the document tokenized once each, the document's ids cut into
 * windows, each wrapped in the tokenizer's pair template. */
#ifndef RR_TOKENIZER_WINDOW_H
#define RR_TOKENIZER_WINDOW_H

#include "rerank.h"

/* The windows of (query, doc) under lo (see rerank_model_window_pair) with
 * the tokenizer's pair template: chunk mode, or truncate mode with
 * max_tokens_per_doc > 0 (the document cut first, then the pair
 * truncation on the counts). po->max_length must be resolved (> 0). */
rerank_status_t rr_tokenize_windows(const rerank_tokenizer_t *tok, const char *query, size_t query_len,
                                    const char *doc, size_t doc_len, const rerank_pair_options_t *po,
                                    const rerank_long_options_t *lo, rerank_windows_t *out);

/* Append encoding e to out as its next window, placed at `info`. */
rerank_status_t rr_windows_append(const rerank_encoding_t *e, rerank_chunk_info_t info, rerank_windows_t *out);

/* Wrap the document ids d[0, nd) of one window (d NULL when nd is 0) in
 * what surrounds them and append the result to out as the next window. */
typedef rerank_status_t (*rr_window_wrap_fn)(void *ctx, const int32_t *d, size_t nd, rerank_chunk_info_t info,
                                             rerank_windows_t *out);

/* lo's windows of the document ids d[0, nd) with `room` ids free for them
 * in each (> 0): min(chunk_tokens, room) ids each, the first at 0, each next
 * one chunk_overlap ids before the end of the one before, the last ending
 * at nd, at most max_chunks_per_doc of them; each handed to wrap.
 * RERANK_ERR_INVALID_ARGUMENT when chunk_overlap is not below the window. */
rerank_status_t rr_windows_cut(const int32_t *d, size_t nd, size_t room, const rerank_long_options_t *lo,
                               rr_window_wrap_fn wrap, void *ctx, rerank_windows_t *out);

/* Check lo's values (RERANK_ERR_INVALID_ARGUMENT naming the field). */
rerank_status_t rr_long_options_check(const rerank_long_options_t *lo);

#endif
