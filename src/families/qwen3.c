/* qwen3.c — Qwen3 decoder rerankers: Qwen3ForCausalLM scored as a yes/no
 * reranker (Qwen3-Reranker) and Qwen3ForSequenceClassification (the
 * converted "seq-cls" checkpoints, a one-row `score` head). Pre-norm
 * decoder layers, causal grouped-query attention:
 *
 *   x = embed_tokens[id]                                        embeddings
 *   for each layer:
 *     h = RMSNorm(x)
 *     q | k | v = h [Wq | Wk | Wv] (+ b)                   one GEMM
 *     q, k = RoPE(RMSNorm(q)), RoPE(RMSNorm(k))            per head
 *     x = x + attention(q, k, v) Wo (+ bo)    causal, head h uses kv head h / (heads / kv_heads)
 *     x = x + (silu(RMSNorm(x) Wgate) * (RMSNorm(x) Wup)) Wdown
 *   y = RMSNorm(x[last token])                        final norm, one row per pair
 *   causal LM: logit = (lm_head["yes"] - lm_head["no"]) . y        two rows only
 *   seq-cls:   logit = score . y
 *
 * lm_head is embed_tokens when tie_word_embeddings (or when the checkpoint
 * has no lm_head.weight). The ids of "yes" and "no" come from the
 * tokenizer at load (rr_family_t.label_tokens, bind_labels). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "common/limits.h"
#include "families/family.h"
#include "tokenizer/prompt.h"

/* rr_config_t.family_flags: the Q/K/V/O projections have biases. */
#define QWEN3_ATTN_BIAS 1u

/* Qwen3-Reranker's prompt is up to 8192 tokens by default (model card). */
#define QWEN3_DEFAULT_MAX_LENGTH 8192

typedef struct qwen3_layer {
    rr_norm_t attn_norm, ffn_norm, q_norm, k_norm;
    rr_dense_t qkv, o, gate_up, down;
    rr_attn_t attn;
    rr_ffn_t ffn;
} qwen3_layer_t;

typedef struct qwen3_weights {
    rr_embed_t emb;
    rr_rope_t rope;
    rr_norm_t final_norm;
    rr_tensor_t lm_head; /* causal LM: [vocab, H] table (embed_tokens when tied) */
    rr_classifier_t cls; /* [2, H] rows "yes", "no" of lm_head; or score [1, H]  */
    qwen3_layer_t layer[];
} qwen3_weights_t;

static int is_causal(const rr_config_t *c) { return !strcmp(c->architecture, "Qwen3ForCausalLM"); }

/* rope_theta, from the field or from transformers 5's "rope_parameters";
 * only the plain (unscaled) rotary embedding is implemented. */
static rerank_status_t read_rope(json_t *root, const char *what, rr_config_t *c) {
    json_t *params = json_object_get(root, "rope_parameters");
    json_t *scaling = json_object_get(root, "rope_scaling");
    json_t *src = root;
    if (params && !json_is_null(params)) {
        if (!json_is_object(params))
            return rr_error(RERANK_ERR_FORMAT, "%s: \"rope_parameters\" must be an object", what);
        src = params;
        if (!json_object_get(params, "rope_theta")) src = root;
        if (!scaling || json_is_null(scaling)) scaling = params;
    }
    if (scaling && !json_is_null(scaling)) {
        if (!json_is_object(scaling))
            return rr_error(RERANK_ERR_FORMAT, "%s: \"rope_scaling\" must be an object", what);
        json_t *t = json_object_get(scaling, "rope_type");
        if (!t) t = json_object_get(scaling, "type");
        const char *type = json_is_string(t) ? json_string_value(t) : NULL;
        if (!type || strcmp(type, "default"))
            return rr_error(RERANK_ERR_UNSUPPORTED,
                            "%s: rope scaling of type '%.40s' is not supported (only the default rotary embedding)",
                            what, type ? type : "?");
    }
    return rr_cfg_num(src, what, "rope_theta", 10000.0, 1.0, 1e12, &c->rope.theta);
}

/* Every layer must be full (not sliding-window) attention. */
static rerank_status_t check_full_attention(json_t *root, const char *what) {
    int sliding;
    rerank_status_t st = rr_cfg_bool(root, what, "use_sliding_window", 0, &sliding);
    if (st) return st;
    if (sliding)
        return rr_error(RERANK_ERR_UNSUPPORTED,
                        "%s: \"use_sliding_window\" = true is not supported (full attention only)", what);
    json_t *types = json_object_get(root, "layer_types");
    if (!types || json_is_null(types)) return RERANK_OK;
    if (!json_is_array(types)) return rr_error(RERANK_ERR_FORMAT, "%s: \"layer_types\" must be a list", what);
    for (size_t i = 0; i < json_array_size(types); i++) {
        const char *t = json_string_value(json_array_get(types, i));
        if (!t || strcmp(t, "full_attention"))
            return rr_error(RERANK_ERR_UNSUPPORTED,
                            "%s: layer_types[%zu] '%.40s' is not supported (only \"full_attention\")", what, i,
                            t ? t : "?");
    }
    return RERANK_OK;
}

static rerank_status_t config(json_t *root, const char *what, rr_config_t *c) {
    rerank_status_t st = rr_cfg_common(root, what, "qwen3", c);
    if (st) return st;
    const char *act;
    double eps;
    int bias;
    if ((st = rr_cfg_str(root, what, "hidden_act", "silu", &act))) return st;
    if (strcmp(act, "silu"))
        return rr_error(RERANK_ERR_UNSUPPORTED, "%s: hidden_act '%.40s' is not supported (only \"silu\")", what, act);
    if ((st = rr_cfg_num(root, what, "rms_norm_eps", 1e-6, 0, 1, &eps)) || (st = read_rope(root, what, c)) ||
        (st = check_full_attention(root, what)) || (st = rr_cfg_bool(root, what, "attention_bias", 0, &bias)) ||
        (st = rr_cfg_bool(root, what, "tie_word_embeddings", 0, &c->tie_embeddings)))
        return st;
    c->norm_eps = (float)eps;
    if (bias) c->family_flags |= QWEN3_ATTN_BIAS;
    if (c->head_dim % 2)
        return rr_error(RERANK_ERR_FORMAT, "%s: head_dim %d must be even (rotary embeddings)", what, c->head_dim);
    if (is_causal(c)) {
        c->num_labels = 1; /* one score: logit("yes") - logit("no") */
    } else {
        if ((st = rr_cfg_num_labels(root, what, &c->num_labels))) return st;
        if (c->num_labels != 1)
            return rr_error(RERANK_ERR_UNSUPPORTED,
                            "%s: %d labels; only single-logit (num_labels = 1) rerankers are supported", what,
                            c->num_labels);
    }
    c->type_vocab = 0;
    c->pooling = RR_POOL_LAST;
    return RERANK_OK;
}

static rerank_status_t bind_layer(rr_weights_t *w, const rr_config_t *c, int32_t l, qwen3_layer_t *L) {
    const char *pre = "model.";
    const int32_t H = c->hidden, I = c->ffn, d = c->head_dim, Q = c->heads * d, KV = c->kv_heads * d;
    const int bias = (c->family_flags & QWEN3_ATTN_BIAS) != 0;
    char n[9][96];
    const char *part[9] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                           "self_attn.o_proj", "self_attn.q_norm", "self_attn.k_norm",
                           "mlp.gate_proj",    "mlp.up_proj",      "mlp.down_proj"};
    for (int i = 0; i < 9; i++) snprintf(n[i], sizeof n[i], "layers.%d.%s", l, part[i]);
    char in_norm[96], post_norm[96];
    snprintf(in_norm, sizeof in_norm, "layers.%d.input_layernorm", l);
    snprintf(post_norm, sizeof post_norm, "layers.%d.post_attention_layernorm", l);
    const char *qkv[3] = {n[0], n[1], n[2]}, *gu[2] = {n[6], n[7]};
    const int32_t qkv_out[3] = {Q, KV, KV}, gu_out[2] = {I, I};
    rerank_status_t st;
    if ((st = rr_weights_norm(w, pre, in_norm, H, 0, RR_NORM_RMS, c->norm_eps, &L->attn_norm)) ||
        (st = rr_weights_dense_stacked(w, pre, qkv, qkv_out, 3, H, bias, &L->qkv)) ||
        (st = rr_weights_norm(w, pre, n[4], d, 0, RR_NORM_RMS, c->norm_eps, &L->q_norm)) ||
        (st = rr_weights_norm(w, pre, n[5], d, 0, RR_NORM_RMS, c->norm_eps, &L->k_norm)) ||
        (st = rr_weights_dense(w, pre, n[3], H, Q, bias, &L->o)) ||
        (st = rr_weights_norm(w, pre, post_norm, H, 0, RR_NORM_RMS, c->norm_eps, &L->ffn_norm)) ||
        (st = rr_weights_dense_stacked(w, pre, gu, gu_out, 2, H, 0, &L->gate_up)) ||
        (st = rr_weights_dense(w, pre, n[8], H, I, 0, &L->down)))
        return st;
    return RERANK_OK;
}

static rerank_status_t bind(rr_weights_t *w, const rr_config_t *c) {
    const int32_t H = c->hidden;
    qwen3_weights_t *W = rr_weights_alloc(w, sizeof *W + (size_t)c->layers * sizeof W->layer[0]);
    if (!W) return rr_error(RERANK_ERR_NOMEM, "out of memory for %d layers", c->layers);
    w->family = W;
    rerank_status_t st;

    /* Embeddings (no norm, no positions: rotary in attention) and the
     * rotary tables, shared by every layer. */
    if ((st = rr_weights_table(w, "model.", "embed_tokens.weight", c->vocab, H, &W->emb.word)) ||
        (st = rr_rope_build(w, c->rope.theta, 0, c->head_dim, c->usable_pos, &W->rope)))
        return st;

    /* Decoder layers. */
    for (int32_t l = 0; l < c->layers; l++) {
        qwen3_layer_t *L = &W->layer[l];
        if ((st = bind_layer(w, c, l, L))) return st;
        L->attn = (rr_attn_t){.qkv = &L->qkv,
                              .heads = c->heads,
                              .kv_heads = c->kv_heads,
                              .head_dim = c->head_dim,
                              .q_norm = &L->q_norm,
                              .k_norm = &L->k_norm,
                              .rope = &W->rope,
                              .causal = 1,
                              .scale = 1.0f / sqrtf((float)c->head_dim)};
        L->ffn = (rr_ffn_t){.up = &L->gate_up, .down = &L->down, .act = RR_FN_SILU, .gate = RR_GATE_FIRST};
    }

    /* Final norm; the head: the score row, or (causal) the LM head table
     * whose two rows bind_labels copies once the tokenizer names them. */
    if ((st = rr_weights_norm(w, "model.", "norm", H, 0, RR_NORM_RMS, c->norm_eps, &W->final_norm))) return st;
    W->cls.f = RR_FN_NONE;
    if (!is_causal(c)) return rr_weights_f32(w, "", "score.weight", 1, H, &W->cls.w);
    if (c->tie_embeddings || !rr_weights_has(w, "", "lm_head.weight")) {
        W->lm_head = W->emb.word;
        return RERANK_OK;
    }
    return rr_weights_table(w, "", "lm_head.weight", c->vocab, H, &W->lm_head);
}

/* Causal LM: the classifier is lm_head[yes] - lm_head[no] (ids[0], ids[1]). */
static rerank_status_t bind_labels(rr_weights_t *w, const rr_config_t *c, const int32_t *ids) {
    qwen3_weights_t *W = w->family;
    if (!is_causal(c)) return RERANK_OK;
    rerank_status_t st = rr_weights_rows(w, &W->lm_head, ids, 2, &W->cls.w);
    if (st) rr_error_prefix("lm_head rows of \"yes\" (%d) and \"no\" (%d)", ids[0], ids[1]);
    return st;
}

static rerank_status_t embed(const rr_run_t *r) {
    const qwen3_weights_t *W = r->w;
    return RR_BLOCK(r, embed, &W->emb);
}

static rerank_status_t layer(const rr_run_t *r, int32_t l) {
    const qwen3_layer_t *L = &((const qwen3_weights_t *)r->w)->layer[l];
    /* h = RMSNorm(x); x = x + causal GQA attention(h) Wo (q, k: per-head
     * RMSNorm, then RoPE); x = x + (silu(h2 Wgate) * (h2 Wup)) Wdown, h2 = RMSNorm(x) */
    return rr_layer_pre_norm(r, &L->attn_norm, &L->attn, &L->o, &L->ffn_norm, &L->ffn);
}

static rerank_status_t head(const rr_run_t *r, float *logits) {
    const qwen3_weights_t *W = r->w;
    if (!W->cls.w.p)
        return rr_error(RERANK_ERR_INVALID_ARGUMENT,
                        "%s was loaded without its tokenizer: the ids of \"yes\" and "
                        "\"no\" are unknown",
                        r->cfg->architecture);
    rerank_status_t st;
    /* y = RMSNorm(x[last token]): the final norm on one row per pair */
    if ((st = RR_BLOCK(r, pool, RR_POOL_LAST)) || (st = RR_BLOCK(r, norm, &W->final_norm, RR_ACT_POOL, RR_ACT_POOL)))
        return st;
    /* logit = (lm_head[yes] - lm_head[no]) . y, or score . y */
    return RR_BLOCK(r, classify, &W->cls, RR_ACT_POOL, logits);
}

static const char *const k_causal_archs[] = {"Qwen3ForCausalLM", NULL};
static const char *const k_seqcls_archs[] = {"Qwen3ForSequenceClassification", NULL};
static const char *const k_yes_no[] = {"yes", "no", NULL};

const rr_family_t rr_family_qwen3 = {
    .name = "qwen3",
    .architectures = k_causal_archs,
    .config = config,
    .bind = bind,
    .positions = rr_positions_from_zero,
    .embed = embed,
    .layer = layer,
    .head = head,
    .default_max_length = QWEN3_DEFAULT_MAX_LENGTH,
    .prompt = &rr_prompt_qwen3_reranker,
    .label_tokens = k_yes_no,
    .bind_labels = bind_labels,
    .causal = 1,
};

const rr_family_t rr_family_qwen3_seqcls = {
    .name = "qwen3",
    .architectures = k_seqcls_archs,
    .config = config,
    .bind = bind,
    .positions = rr_positions_from_zero,
    .embed = embed,
    .layer = layer,
    .head = head,
    .default_max_length = QWEN3_DEFAULT_MAX_LENGTH,
    .prompt = &rr_prompt_qwen3_reranker,
    .causal = 1,
};
