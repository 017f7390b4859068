/* PLACEHOLDER — replaced by the real tokenizer implementation. */
#include "common/alloc.h"
#include "common/error.h"

void rerank_encoding_free(rerank_encoding_t *enc) {
    if (!enc) return;
    rr_free(enc->ids);
    rr_free(enc->type_ids);
    enc->ids = enc->type_ids = NULL;
    enc->n = enc->cap = 0;
}
rerank_status_t rerank_tokenizer_load(const char *path, rerank_tokenizer_t **out) {
    *out = NULL;
    return rr_error(RERANK_ERR_UNSUPPORTED, "tokenizer not implemented yet: %s", path);
}
void rerank_tokenizer_free(rerank_tokenizer_t *tok) { (void)tok; }
rerank_status_t rerank_tokenize(const rerank_tokenizer_t *tok, const char *text, size_t len,
                                rerank_encoding_t *enc) {
    return rr_error(RERANK_ERR_UNSUPPORTED, "tokenizer not implemented yet");
}
rerank_status_t rerank_tokenize_pair(const rerank_tokenizer_t *tok, const char *q, size_t ql,
                                     const char *d, size_t dl, int32_t max_length,
                                     rerank_truncation_t tr, rerank_encoding_t *enc) {
    return rr_error(RERANK_ERR_UNSUPPORTED, "tokenizer not implemented yet");
}
int32_t rerank_tokenizer_pair_overhead(const rerank_tokenizer_t *tok) { return 0; }
int32_t rerank_tokenizer_vocab_size(const rerank_tokenizer_t *tok) { return 0; }
