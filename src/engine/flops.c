/* flops.c — the useful FLOPs of scoring one pair, for `rerank bench`: read
 * from what the family bound (every linear layer's shape, so grouped-query
 * projections and gated FFNs count as they are), attention over the full
 * square or, for a decoder, the causal triangle, and the head's few rows;
 * also for the tokens after a shared prefix (what is computed). */
#include "engine/engine.h"

void rr_model_span_flops(const rerank_model_t *m, int32_t layers, double shared, double n, rr_pair_flops_t *f) {
    const rr_config_t *c = &m->cfg;
    const double L = layers > 0 && layers < c->layers ? layers : c->layers;
    /* Linear layers: 2 rows cols per token for the layers' own (all layers
     * have the same shapes), per pair for a head's (keep_fp32). */
    double per_token = 0, per_pair = 0;
    for (int32_t i = 0; i < m->w.n_dense; i++) {
        const rr_dense_t *d = m->w.dense[i];
        const double mk = 2.0 * (double)d->w.rows * (double)d->w.cols;
        if (d->keep_fp32) per_pair += mk;
        else per_token += mk;
    }
    f->linear = n * per_token * L / c->layers;
    /* Attention: q k^T and the weighted sum of v, 2 d per (query, key)
     * each per head: n n keys, of which a causal mask leaves half
     * (sliding-window layers, e.g. ModernBERT's local ones, are counted as
     * full: an overcount); after a shared prefix the n queries also see
     * its `shared` keys */
    const double per_key = 4.0 * (double)c->heads * (double)c->head_dim * L;
    f->attention = per_key * (m->family->causal ? n * shared + n * n / 2 : n * (n + shared));
    /* Head: its dense layers and the classifier's one or two rows (two LM
     * head rows, never the vocabulary). */
    f->head = per_pair + 2.0 * (m->family->label_tokens ? 2 : 1) * (double)c->hidden;
}

void rr_model_pair_flops(const rerank_model_t *m, int32_t layers, double n, rr_pair_flops_t *f) {
    rr_model_span_flops(m, layers, 0, n, f);
}
