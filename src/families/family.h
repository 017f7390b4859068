/* family.h — a model family: how its config.json is read, which tensors it
 * binds (names and shapes), and its forward pass written in the shared
 * blocks of src/engine/blocks.h. One file per family in src/families/; the
 * registry (registry.c) lists them. Adding a family: see docs/architecture.md. */
#ifndef RR_FAMILIES_FAMILY_H
#define RR_FAMILIES_FAMILY_H

#include <jansson.h>

#include "engine/blocks.h"
#include "model/config.h"
#include "model/weights.h"

struct rr_prompt_recipe; /* tokenizer/prompt.h */

/* What a family's forward steps run with. */
typedef struct rr_run {
    const rr_blocks_t *B; /* the backend's blocks      */
    void *be;             /* and its state             */
    const rr_config_t *cfg;
    const void *w;        /* the family's weights (rr_weights_t.family) */
} rr_run_t;

/* Call block `op` of the run's backend. */
#define RR_BLOCK(r, op, ...) ((r)->B->op((r)->be, __VA_ARGS__))

typedef struct rr_family {
    const char *name;                  /* "xlm-roberta", "bert", ...           */
    const char *const *architectures;  /* "architectures" values it runs; NULL-terminated */
    /* Fill c from config.json (rr_cfg_* readers), rejecting what the family
     * does not implement with RERANK_ERR_UNSUPPORTED. */
    rerank_status_t (*config)(json_t *root, const char *what, rr_config_t *c);
    /* Bind every tensor into w->family (a struct of the family's own,
     * allocated with rr_weights_alloc). */
    rerank_status_t (*bind)(rr_weights_t *w, const rr_config_t *c);
    /* Position ids of a pair's n tokens. */
    void (*positions)(const rr_config_t *c, const int32_t *ids, int64_t n, int32_t *pos);
    /* The forward pass: embeddings, then layers 0..L-1 (each run group by
     * group), then the head writing one logit per pair. */
    rerank_status_t (*embed)(const rr_run_t *r);
    rerank_status_t (*layer)(const rr_run_t *r, int32_t l);
    rerank_status_t (*head)(const rr_run_t *r, float *logits);
    /* Pair length when the caller names none (capped at the positions). */
    int32_t default_max_length;
    /* How text becomes ids: NULL = the tokenizer's pair template (a
     * cross-encoder); else an LLM reranker's prompt recipe. */
    const struct rr_prompt_recipe *prompt;
    /* An LLM reranker scoring with rows of its LM head: the tokens whose ids
     * the engine looks up in the tokenizer at load (NULL-terminated, e.g.
     * "yes", "no"; each must be one token), then hands to bind_labels
     * (after bind). NULL: none. */
    const char *const *label_tokens;
    rerank_status_t (*bind_labels)(rr_weights_t *w, const rr_config_t *c, const int32_t *ids);
    /* A decoder: token i attends to tokens <= i only (FLOP counts; pairs
     * sharing a prefix share its keys and values). */
    int causal;
} rr_family_t;

/* The family that runs `architecture` ("architectures"[0]), or NULL. */
const rr_family_t *rr_family_find(const char *architecture);

/* Parse config JSON text (len bytes; `what` names it in errors): find the
 * family by its architecture, let it fill *cfg. */
rerank_status_t rr_family_config_parse(const char *text, size_t len, const char *what, rr_config_t *cfg,
                                       const rr_family_t **fam);
/* The same for DIR/config.json (or `path` itself if it ends in .json). */
rerank_status_t rr_family_config_load(const char *path, rr_config_t *cfg, const rr_family_t **fam);

/* Position ids counting from 0 (BERT, rotary families). */
void rr_positions_from_zero(const rr_config_t *c, const int32_t *ids, int64_t n, int32_t *pos);

/* Rotary tables for head size dim (even) and positions [0, positions):
 * cos/sin of pos * inv_freq[i], i < dim/2, computed in double, with
 * inv_freq[i] = theta^(-2i/dim); ntk_factor f > 0 scales it NTK-style as
 * GTE's "new" code does: inv_freq[i] = (theta f)^(-2i/dim) / f^(2/dim).
 * The tables live with the weights (rr_weights_alloc). */
rerank_status_t rr_rope_build(rr_weights_t *w, double theta, double ntk_factor, int32_t dim, int32_t positions,
                              rr_rope_t *rope);

/* The layer shapes several families share, written in blocks (a family's
 * own layer() names its tensors and says which shape it is):
 *   post-norm (BERT, XLM-R, GTE):  x = n1(x + attn(x) Wo); x = n2(x + ffn(x))
 *   pre-norm (ModernBERT, Qwen3):  x = x + attn(n1(x)) Wo; x = x + ffn(n2(x))
 *                                  (attn_norm NULL: attention reads x itself) */
rerank_status_t rr_layer_post_norm(const rr_run_t *r, const rr_attn_t *attn, const rr_dense_t *o,
                                   const rr_norm_t *attn_norm, const rr_ffn_t *ffn, const rr_norm_t *ffn_norm);
rerank_status_t rr_layer_pre_norm(const rr_run_t *r, const rr_norm_t *attn_norm, const rr_attn_t *attn,
                                  const rr_dense_t *o, const rr_norm_t *ffn_norm, const rr_ffn_t *ffn);
/* A classifier head over one pooled row per pair:
 * logit = cls(norm(epi(pool(x) Wd + bd))) (norm NULL: none). */
rerank_status_t rr_head_dense(const rr_run_t *r, rr_pooling_t how, const rr_dense_t *dense, rr_epilogue_t epi,
                              const rr_norm_t *norm, const rr_classifier_t *cls, float *logits);

#endif
