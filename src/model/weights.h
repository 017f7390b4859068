/* weights.h — the model's tensors, by role, each with its shape.
 *
 * F32 tensors are views into the safetensors mapping (copied only when the
 * file leaves them misaligned); F16/BF16 tensors are converted to F32 once
 * at load — except the word-embedding table, which stays in the mapping in
 * its own dtype (1 GB in F32 for bge-m3): the lookup converts only the rows
 * it reads. */
#ifndef RR_MODEL_WEIGHTS_H
#define RR_MODEL_WEIGHTS_H

#include <stdint.h>

#include "model/config.h"
#include "model/safetensors.h"

typedef struct rr_vec { const float *p; int32_t n; } rr_vec_t;               /* [n]          */
typedef struct rr_mat { const float *p; int32_t rows, cols; } rr_mat_t;      /* [rows, cols] */
typedef struct rr_table {                                                    /* [rows, cols] */
    const void *p;     /* in the mapping, possibly unaligned */
    rr_dtype_t dtype;
    int32_t rows, cols;
} rr_table_t;

/* A linear layer y = x W^T + b, W as stored by PyTorch: [out, in]. */
typedef struct rr_dense { rr_mat_t w; rr_vec_t b; } rr_dense_t;
typedef struct rr_norm { rr_vec_t g, b; } rr_norm_t; /* LayerNorm weight, bias: [H] */

typedef struct rr_layer_weights {
    rr_dense_t q, k, v;   /* attention.self.{query,key,value}: [H, H], [H]     */
    rr_dense_t attn_out;  /* attention.output.dense: [H, H], [H]              */
    rr_norm_t attn_norm;  /* attention.output.LayerNorm                       */
    rr_dense_t ffn_up;    /* intermediate.dense: [I, H], [I]                  */
    rr_dense_t ffn_down;  /* output.dense: [H, I], [H]                        */
    rr_norm_t ffn_norm;   /* output.LayerNorm                                 */
} rr_layer_weights_t;

typedef struct rr_weights {
    rr_table_t word_emb;  /* embeddings.word_embeddings: [vocab, H]           */
    rr_mat_t pos_emb;     /* embeddings.position_embeddings: [max_pos, H]     */
    rr_mat_t type_emb;    /* embeddings.token_type_embeddings: [type_vocab, H]*/
    rr_norm_t emb_norm;   /* embeddings.LayerNorm                             */
    rr_layer_weights_t *layer; /* [layers]                                    */
    rr_dense_t head_dense; /* XLM-R classifier.dense / BERT pooler.dense: [H, H] */
    rr_dense_t head_out;   /* XLM-R classifier.out_proj / BERT classifier: [1, H] */

    rr_st_set_t files;     /* the mappings the views point into               */
    float **owned;         /* converted / realigned copies                    */
    int32_t n_owned, cap_owned;
} rr_weights_t;

/* Map every tensor the architecture needs; errors name the tensor. */
rerank_status_t rr_weights_load(const char *dir, const rr_config_t *cfg, rr_weights_t *w);
void rr_weights_free(rr_weights_t *w);
/* Fault in the mapped pages of the F32 views (not the word embeddings). */
void rr_weights_prefault(const rr_weights_t *w, const rr_config_t *cfg);
/* A backend that converted the tensor at p (n bytes) no longer reads it:
 * drop the mapped pages it covers (a no-op for converted copies). */
void rr_weights_drop_pages(const rr_weights_t *w, const void *p, size_t n);

#endif
