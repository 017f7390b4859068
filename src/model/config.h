/* config.h — the parts of a Hugging Face config.json the engine needs, as
 * one struct every model family fills (src/families/), and the field
 * readers the families parse it with (bounds from src/common/limits.h). */
#ifndef RR_MODEL_CONFIG_H
#define RR_MODEL_CONFIG_H

#include <jansson.h>
#include <stdint.h>

#include "rerank.h"

typedef enum rr_pooling {
    RR_POOL_FIRST = 0, /* the first token ([CLS], <s>)     */
    RR_POOL_LAST = 1,  /* the last token (decoders)        */
    RR_POOL_MEAN = 2,  /* the mean over the pair's tokens  */
} rr_pooling_t;

/* Rotary position embeddings (rotate-half layout). */
typedef struct rr_rope_config {
    double theta;        /* base of the frequencies (rope_theta)               */
    double local_theta;  /* ModernBERT's local layers (0: same as theta)       */
    double ntk_factor;   /* GTE's NTK scaling (rope_scaling {"type": "ntk"}); 0: none */
} rr_rope_config_t;

typedef struct rr_config {
    char architecture[96]; /* as written in "architectures"[0]                    */
    char model_type[32];
    int32_t hidden;        /* hidden_size                                         */
    int32_t layers;        /* num_hidden_layers                                   */
    int32_t heads;         /* num_attention_heads                                 */
    int32_t kv_heads;      /* num_key_value_heads (= heads without grouped query) */
    int32_t head_dim;      /* head_dim (hidden / heads unless the config says)    */
    int32_t ffn;           /* intermediate_size                                   */
    int32_t max_pos;       /* max_position_embeddings (table rows)                */
    int32_t usable_pos;    /* longest input the model accepts                     */
    int32_t type_vocab;    /* type_vocab_size (0: no token types)                 */
    int32_t vocab;         /* vocab_size                                          */
    int32_t pad_id;        /* pad_token_id                                        */
    int32_t num_labels;    /* outputs of the head: 1 for a reranker               */
    float norm_eps;        /* layer_norm_eps / rms_norm_eps / norm_eps            */
    rr_rope_config_t rope; /* theta 0: no rotary positions                        */
    int32_t window;        /* sliding-window attention: |i - j| <= window (0: none) */
    int32_t global_every;  /* every Nth layer is global, the others local          */
    rr_pooling_t pooling;
    int tie_embeddings;    /* the LM head is the embedding table                   */
    uint32_t family_flags; /* a family's own switches (its config sets, its bind reads) */
} rr_config_t;

/* Field readers for a family's config parser. `what` names the file in
 * errors. A missing (or null) field takes `def`; pass RR_CFG_REQUIRED to
 * make it required. Out-of-range values are RERANK_ERR_LIMIT. */
#define RR_CFG_REQUIRED INT64_MIN
rerank_status_t rr_cfg_int(json_t *root, const char *what, const char *key, int64_t def, int64_t lo, int64_t hi,
                           int32_t *out);
rerank_status_t rr_cfg_str(json_t *root, const char *what, const char *key, const char *def, const char **out);
/* A number in the open interval (lo, hi). */
rerank_status_t rr_cfg_num(json_t *root, const char *what, const char *key, double def, double lo, double hi,
                           double *out);
/* A boolean (JSON true/false). */
rerank_status_t rr_cfg_bool(json_t *root, const char *what, const char *key, int def, int *out);
/* "architectures"[0] (RERANK_ERR_UNSUPPORTED if there is none). */
rerank_status_t rr_cfg_architecture(json_t *root, const char *what, const char **out);
/* The number of labels: the size of "id2label", else "num_labels" (default 2). */
rerank_status_t rr_cfg_num_labels(json_t *root, const char *what, int32_t *out);

/* The fields every transformer has: hidden_size, num_hidden_layers,
 * num_attention_heads (+ num_key_value_heads, head_dim when present),
 * intermediate_size, max_position_embeddings, vocab_size, with the
 * project's limits; architecture and model_type (default `model_type`). */
rerank_status_t rr_cfg_common(json_t *root, const char *what, const char *model_type, rr_config_t *c);

#endif
