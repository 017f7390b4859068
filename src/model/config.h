/* config.h — the parts of a Hugging Face config.json the engine needs,
 * validated against src/common/limits.h. */
#ifndef RR_MODEL_CONFIG_H
#define RR_MODEL_CONFIG_H

#include <stdint.h>

#include "rerank.h"

typedef enum rr_arch {
    RR_ARCH_XLMR = 0, /* XLMRobertaForSequenceClassification / RobertaFor... */
    RR_ARCH_BERT = 1, /* BertForSequenceClassification                      */
} rr_arch_t;

typedef struct rr_config {
    rr_arch_t arch;
    char architecture[96]; /* as written in "architectures"[0]              */
    char model_type[32];
    int32_t hidden;        /* hidden_size                                   */
    int32_t layers;        /* num_hidden_layers                             */
    int32_t heads;         /* num_attention_heads                           */
    int32_t head_dim;      /* hidden / heads                                */
    int32_t ffn;           /* intermediate_size                             */
    int32_t max_pos;       /* max_position_embeddings (table rows)          */
    int32_t usable_pos;    /* longest input: max_pos, minus pad_id+1 for RoBERTa */
    int32_t type_vocab;    /* type_vocab_size                               */
    int32_t vocab;         /* vocab_size                                    */
    int32_t pad_id;        /* pad_token_id                                  */
    int32_t num_labels;    /* from id2label (or num_labels); must be 1      */
    float ln_eps;          /* layer_norm_eps                                */
} rr_config_t;

/* Parse DIR/config.json (or the file itself if `path` ends in .json). */
rerank_status_t rr_config_load(const char *path, rr_config_t *cfg);
/* Parse config JSON text (len bytes); `what` names it in error messages. */
rerank_status_t rr_config_parse(const char *text, size_t len, const char *what, rr_config_t *cfg);

#endif
