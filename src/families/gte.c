/* gte.c — Alibaba's GTE "new" encoder as a reranker:
 * NewForSequenceClassification (gte-multilingual-reranker-base). Post-norm
 * layers with rotary positions (NTK-scaled), a gated FFN and BERT's pooler.
 *
 *   x = LayerNorm(word[id] + type[t])                         embeddings
 *   for each layer:
 *     q | k | v = x Wqkv + bqkv                         one GEMM (packed)
 *     q, k = rope(q), rope(k)         rotate-half, NTK-scaled frequencies
 *     ctx = softmax(q k^T / sqrt(d)) v                 per pair and head
 *     x = norm(x + ctx Wo + bo)
 *     x = norm(x + (up * act(gate)) Wdown + bdown)  [up | gate] = x Wug
 *   logit = Wc tanh(Wp x[first token] + bp) + bc                    head
 *
 * norm is layer_norm_type ("layer_norm" or "rms_norm"), act is hidden_act. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "common/limits.h"
#include "families/family.h"

/* More token types than this exist in no encoder we support. */
#define MAX_TYPE_VOCAB 1024
#define PRE "new."

typedef struct gte_layer {
    rr_dense_t qkv, o, up_gate, down;
    rr_norm_t attn_ln, mlp_ln;
    rr_attn_t attn;
    rr_ffn_t ffn;
} gte_layer_t;

typedef struct gte_weights {
    rr_norm_t emb_norm;
    rr_embed_t emb;
    rr_rope_t rope;
    rr_dense_t pooler;   /* new.pooler.dense: [H, H] */
    rr_classifier_t cls; /* classifier: [1, H]       */
    rr_fn_t act;
    rr_norm_type_t norm;
    int packed;
    gte_layer_t layer[];
} gte_weights_t;

/* rr_config_t.family_flags of a GTE model. */
#define GTE_SILU 1u /* hidden_act silu (else the exact GELU) */
#define GTE_RMS 2u  /* layer_norm_type rms_norm (else layer_norm) */
#define GTE_SPLIT_QKV 4u /* pack_qkv false: q_proj, k_proj, v_proj */

static rerank_status_t read_flags(json_t *root, const char *what, uint32_t *flags) {
    const char *act = NULL, *lnt = NULL;
    int packed;
    rerank_status_t st;
    if ((st = rr_cfg_str(root, what, "hidden_act", "gelu", &act)) ||
        (st = rr_cfg_str(root, what, "layer_norm_type", "layer_norm", &lnt)) ||
        (st = rr_cfg_bool(root, what, "pack_qkv", 1, &packed)))
        return st;
    *flags = packed ? 0 : GTE_SPLIT_QKV;
    if (!strcmp(act, "silu") || !strcmp(act, "swish")) *flags |= GTE_SILU;
    else if (strcmp(act, "gelu"))
        return rr_error(RERANK_ERR_UNSUPPORTED,
                        "%s: hidden_act '%.40s' is not supported (\"gelu\", the exact erf GELU, or \"silu\")", what,
                        act);
    if (!strcmp(lnt, "rms_norm")) *flags |= GTE_RMS;
    else if (strcmp(lnt, "layer_norm"))
        return rr_error(RERANK_ERR_UNSUPPORTED,
                        "%s: layer_norm_type '%.40s' is not supported (\"layer_norm\" or \"rms_norm\")", what, lnt);
    return RERANK_OK;
}

/* rope_scaling: null, or {"type": "ntk", "factor": f >= 1} (no mixed_b).
 * The "new" code applies NTK only when its cache (max_pos * f positions)
 * exceeds max_pos, i.e. for f > 1. */
static rerank_status_t read_rope_scaling(json_t *root, const char *what, double *ntk) {
    *ntk = 0;
    json_t *rs = json_object_get(root, "rope_scaling");
    if (!rs || json_is_null(rs)) return RERANK_OK;
    if (!json_is_object(rs)) return rr_error(RERANK_ERR_FORMAT, "%s: \"rope_scaling\" is not an object", what);
    const char *type = NULL;
    double f;
    rerank_status_t st;
    if ((st = rr_cfg_str(rs, what, "type", NULL, &type))) return st;
    if (!type || strcmp(type, "ntk"))
        return rr_error(RERANK_ERR_UNSUPPORTED, "%s: rope_scaling type '%.40s' is not supported (only \"ntk\")", what,
                        type ? type : "(none)");
    json_t *mb = json_object_get(rs, "mixed_b");
    if (mb && !json_is_null(mb))
        return rr_error(RERANK_ERR_UNSUPPORTED, "%s: rope_scaling \"mixed_b\" (mixed NTK) is not supported", what);
    if ((st = rr_cfg_num(rs, what, "factor", 1.0, 0.999999, 1e6, &f))) return st;
    *ntk = f > 1 ? f : 0;
    return RERANK_OK;
}

static rerank_status_t config(json_t *root, const char *what, rr_config_t *c) {
    rerank_status_t st = rr_cfg_common(root, what, "new", c);
    if (st) return st;
    if (c->kv_heads != c->heads)
        return rr_error(RERANK_ERR_UNSUPPORTED, "%s: num_key_value_heads %d != num_attention_heads %d in a GTE model",
                        what, c->kv_heads, c->heads);
    if (c->head_dim * c->heads != c->hidden || c->head_dim % 2)
        return rr_error(RERANK_ERR_FORMAT, "%s: head_dim %d x %d heads != hidden_size %d (or odd head size)", what,
                        c->head_dim, c->heads, c->hidden);
    /* type_vocab_size: NewConfig's default is 1 (BERT's 2 is not). */
    if ((st = rr_cfg_int(root, what, "type_vocab_size", 1, 0, MAX_TYPE_VOCAB, &c->type_vocab)) ||
        (st = rr_cfg_int(root, what, "pad_token_id", 0, 0, c->vocab - 1, &c->pad_id)))
        return st;
    double eps;
    if ((st = rr_cfg_num(root, what, "layer_norm_eps", 1e-12, 0, 1, &eps))) return st;
    c->norm_eps = (float)eps;

    /* Features the family implements exactly one way. */
    const char *pet = NULL;
    int logn = 0;
    if ((st = read_flags(root, what, &c->family_flags))) return st;
    if ((st = rr_cfg_str(root, what, "position_embedding_type", "rope", &pet))) return st;
    if (strcmp(pet, "rope"))
        return rr_error(RERANK_ERR_UNSUPPORTED,
                        "%s: position_embedding_type '%.40s' is not supported in a GTE model (only \"rope\")", what,
                        pet);
    if ((st = rr_cfg_bool(root, what, "logn_attention_scale", 0, &logn))) return st;
    if (logn) return rr_error(RERANK_ERR_UNSUPPORTED, "%s: logn_attention_scale is not supported", what);
    if ((st = rr_cfg_num(root, what, "rope_theta", 10000.0, 1.0, 1e12, &c->rope.theta)) ||
        (st = read_rope_scaling(root, what, &c->rope.ntk_factor)))
        return st;

    /* A reranker has exactly one output logit. */
    if ((st = rr_cfg_num_labels(root, what, &c->num_labels))) return st;
    if (c->num_labels != 1)
        return rr_error(RERANK_ERR_UNSUPPORTED,
                        "%s: %d labels; only single-logit (num_labels = 1) rerankers are supported", what,
                        c->num_labels);
    c->pooling = RR_POOL_FIRST;
    return RERANK_OK;
}

static rerank_status_t bind_layer(rr_weights_t *w, const rr_config_t *c, const gte_weights_t *W, int32_t l,
                                  gte_layer_t *L) {
    const int32_t H = c->hidden, I = c->ffn;
    char n[8][96];
    const char *part[8] = {"attention.qkv_proj", "attention.o_proj", "mlp.up_gate_proj", "mlp.down_proj",
                           "attn_ln",            "mlp_ln",           "attention.q_proj", "attention.k_proj"};
    for (int i = 0; i < 8; i++) snprintf(n[i], sizeof n[i], "encoder.layer.%d.%s", l, part[i]);
    char v[96];
    snprintf(v, sizeof v, "encoder.layer.%d.attention.v_proj", l);
    const int ln_bias = W->norm == RR_NORM_LAYER;
    rerank_status_t st;
    if (W->packed) st = rr_weights_dense(w, PRE, n[0], 3 * H, H, 1, &L->qkv);
    else {
        const char *qkv[3] = {n[6], n[7], v};
        const int32_t outs[3] = {H, H, H};
        st = rr_weights_dense_stacked(w, PRE, qkv, outs, 3, H, 1, &L->qkv);
    }
    if (st || (st = rr_weights_dense(w, PRE, n[1], H, H, 1, &L->o)) ||
        (st = rr_weights_dense(w, PRE, n[2], 2 * I, H, 0, &L->up_gate)) ||
        (st = rr_weights_dense(w, PRE, n[3], H, I, 1, &L->down)) ||
        (st = rr_weights_norm(w, PRE, n[4], H, ln_bias, W->norm, c->norm_eps, &L->attn_ln)) ||
        (st = rr_weights_norm(w, PRE, n[5], H, ln_bias, W->norm, c->norm_eps, &L->mlp_ln)))
        return st;
    L->attn = (rr_attn_t){.qkv = &L->qkv, .heads = c->heads, .kv_heads = c->heads, .head_dim = c->head_dim,
                          .rope = &W->rope, .scale = 1.0f / sqrtf((float)c->head_dim)};
    L->ffn = (rr_ffn_t){.up = &L->up_gate, .down = &L->down, .act = W->act, .gate = RR_GATE_SECOND};
    return RERANK_OK;
}

static rerank_status_t bind(rr_weights_t *w, const rr_config_t *c) {
    const int32_t H = c->hidden;
    gte_weights_t *W = rr_weights_alloc(w, sizeof *W + (size_t)c->layers * sizeof W->layer[0]);
    if (!W) return rr_error(RERANK_ERR_NOMEM, "out of memory for %d layers", c->layers);
    w->family = W;
    W->act = c->family_flags & GTE_SILU ? RR_FN_SILU : RR_FN_GELU;
    W->norm = c->family_flags & GTE_RMS ? RR_NORM_RMS : RR_NORM_LAYER;
    W->packed = !(c->family_flags & GTE_SPLIT_QKV);
    rerank_status_t st;

    /* Embeddings: word + type, LayerNorm (always with bias); no position table. */
    rr_embed_t *e = &W->emb;
    if ((st = rr_weights_table(w, PRE, "embeddings.word_embeddings.weight", c->vocab, H, &e->word)) ||
        (c->type_vocab > 0 &&
         (st = rr_weights_f32(w, PRE, "embeddings.token_type_embeddings.weight", c->type_vocab, H, &e->type))) ||
        (st = rr_weights_norm(w, PRE, "embeddings.LayerNorm", H, 1, RR_NORM_LAYER, c->norm_eps, &W->emb_norm)))
        return st;
    e->norm = &W->emb_norm;

    /* Rotary tables for every usable position. */
    if ((st = rr_rope_build(w, c->rope.theta, c->rope.ntk_factor, c->head_dim, c->usable_pos, &W->rope))) return st;

    /* Encoder layers. */
    for (int32_t l = 0; l < c->layers; l++)
        if ((st = bind_layer(w, c, W, l, &W->layer[l]))) return st;

    /* Pooler on the first token, then the classifier. */
    if ((st = rr_weights_dense(w, PRE, "pooler.dense", H, H, 1, &W->pooler)) ||
        (st = rr_weights_f32(w, "", "classifier.weight", c->num_labels, H, &W->cls.w)) ||
        (st = rr_weights_f32(w, "", "classifier.bias", c->num_labels, -1, &W->cls.b)))
        return st;
    W->pooler.keep_fp32 = 1;
    W->cls.f = RR_FN_TANH;
    return RERANK_OK;
}

static rerank_status_t embed(const rr_run_t *r) {
    const gte_weights_t *W = r->w;
    /* x = LayerNorm(word[id] + type[t]) */
    return RR_BLOCK(r, embed, &W->emb);
}

static rerank_status_t layer(const rr_run_t *r, int32_t l) {
    const gte_layer_t *L = &((const gte_weights_t *)r->w)->layer[l];
    /* x = attn_ln(x + softmax(rope(q) rope(k)^T / sqrt(d)) v Wo + bo), q | k | v = x Wqkv + b;
     * x = mlp_ln(x + (up * act(gate)) Wdown + bdown), [up | gate] = x Wug */
    return rr_layer_post_norm(r, &L->attn, &L->o, &L->attn_ln, &L->ffn, &L->mlp_ln);
}

static rerank_status_t head(const rr_run_t *r, float *logits) {
    const gte_weights_t *W = r->w;
    /* logit = Wc tanh(Wp x[first token] + bp) + bc */
    return rr_head_dense(r, RR_POOL_FIRST, &W->pooler, RR_EPI_NONE, NULL, &W->cls, logits);
}

static const char *const k_gte_archs[] = {"NewForSequenceClassification", NULL};

const rr_family_t rr_family_gte = {
    .name = "gte",
    .architectures = k_gte_archs,
    .config = config,
    .bind = bind,
    .positions = rr_positions_from_zero,
    .embed = embed,
    .layer = layer,
    .head = head,
    .default_max_length = RR_MAX_SEQ_TOKENS,
};
