/* bert.c — the BERT family of cross-encoders: BertForSequenceClassification
 * (ms-marco-MiniLM) and XLMRobertaForSequenceClassification /
 * RobertaForSequenceClassification (bge-reranker-v2-m3). Post-norm encoder
 * layers; the two differ in tensor prefix, position ids and head.
 *
 *   x = LayerNorm(word[id] + type[t] + pos[p])                  embeddings
 *   for each layer:
 *     q | k | v = x [Wq | Wk | Wv] + [bq | bk | bv]        one GEMM
 *     ctx = softmax(q k^T / sqrt(d)) v         per pair and head
 *     x = LayerNorm(x + ctx Wo + bo)
 *     x = LayerNorm(x + gelu(x W1 + b1) W2 + b2)
 *   logit = Wout tanh(Wd x[first token] + bd) + bout              head
 *
 * XLM-R: head = classifier.dense + classifier.out_proj; RoBERTa position ids
 * count non-padding tokens from pad_id + 1. BERT: head = pooler.dense +
 * classifier; positions count from 0. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "common/limits.h"
#include "families/family.h"

/* More token types than this exist in no encoder we support. */
#define MAX_TYPE_VOCAB 1024

typedef struct bert_layer {
    rr_dense_t qkv, o, up, down;
    rr_norm_t attn_norm, ffn_norm;
    rr_attn_t attn;
    rr_ffn_t ffn;
} bert_layer_t;

typedef struct bert_weights {
    rr_norm_t emb_norm;
    rr_embed_t emb;
    rr_dense_t head_dense; /* XLM-R classifier.dense / BERT pooler.dense: [H, H] */
    rr_classifier_t cls;   /* XLM-R classifier.out_proj / BERT classifier: [1, H] */
    bert_layer_t layer[];
} bert_weights_t;

static int is_bert(const rr_config_t *c) { return !strcmp(c->architecture, "BertForSequenceClassification"); }

static rerank_status_t config(json_t *root, const char *what, rr_config_t *c) {
    rerank_status_t st = rr_cfg_common(root, what, "", c);
    if (st) return st;
    const int bert = is_bert(c);
    if (!c->model_type[0]) snprintf(c->model_type, sizeof c->model_type, "%s", bert ? "bert" : "xlm-roberta");
    if (c->kv_heads != c->heads)
        return rr_error(RERANK_ERR_UNSUPPORTED, "%s: num_key_value_heads %d != num_attention_heads %d in a %s model",
                        what, c->kv_heads, c->heads, bert ? "BERT" : "RoBERTa");
    if (c->head_dim * c->heads != c->hidden)
        return rr_error(RERANK_ERR_FORMAT, "%s: head_dim %d x %d heads != hidden_size %d", what, c->head_dim, c->heads,
                        c->hidden);
    if (c->max_pos > RR_MAX_SEQ_TOKENS + 2)
        return rr_error(RERANK_ERR_LIMIT, "%s: \"max_position_embeddings\" = %d is outside the supported range [1, %d]",
                        what, c->max_pos, RR_MAX_SEQ_TOKENS + 2);
    if ((st = rr_cfg_int(root, what, "type_vocab_size", 2, 1, MAX_TYPE_VOCAB, &c->type_vocab)) ||
        (st = rr_cfg_int(root, what, "pad_token_id", bert ? 0 : 1, 0, c->vocab - 1, &c->pad_id)))
        return st;

    /* RoBERTa numbers positions from pad_token_id + 1. */
    int64_t usable = c->max_pos;
    if (!bert) usable -= (int64_t)c->pad_id + 1;
    if (usable < 1)
        return rr_error(RERANK_ERR_FORMAT,
                        "%s: max_position_embeddings %d leaves no usable position after pad_token_id %d", what,
                        c->max_pos, c->pad_id);
    c->usable_pos = (int32_t)(usable > RR_MAX_SEQ_TOKENS ? RR_MAX_SEQ_TOKENS : usable);

    double eps;
    if ((st = rr_cfg_num(root, what, "layer_norm_eps", 1e-12, 0, 1, &eps))) return st;
    c->norm_eps = (float)eps;

    /* Features the family implements exactly one way. */
    const char *act = NULL, *pet = NULL;
    if ((st = rr_cfg_str(root, what, "hidden_act", "gelu", &act))) return st;
    if (strcmp(act, "gelu"))
        return rr_error(RERANK_ERR_UNSUPPORTED,
                        "%s: hidden_act '%.40s' is not supported (only \"gelu\", the exact erf GELU)", what, act);
    if ((st = rr_cfg_str(root, what, "position_embedding_type", "absolute", &pet))) return st;
    if (strcmp(pet, "absolute"))
        return rr_error(RERANK_ERR_UNSUPPORTED,
                        "%s: position_embedding_type '%.40s' is not supported (only \"absolute\")", what, pet);

    /* A reranker has exactly one output logit. */
    if ((st = rr_cfg_num_labels(root, what, &c->num_labels))) return st;
    if (c->num_labels != 1)
        return rr_error(RERANK_ERR_UNSUPPORTED,
                        "%s: %d labels; only single-logit (num_labels = 1) rerankers are supported", what,
                        c->num_labels);
    c->pooling = RR_POOL_FIRST;
    return RERANK_OK;
}

static rerank_status_t bind_layer(rr_weights_t *w, const char *pre, const rr_config_t *c, int32_t l,
                                  bert_layer_t *L) {
    const int32_t H = c->hidden, I = c->ffn;
    char n[6][96], q[96], k[96], v[96];
    const char *part[6] = {"attention.output.dense", "attention.output.LayerNorm", "intermediate.dense",
                           "output.dense", "output.LayerNorm", ""};
    for (int i = 0; i < 5; i++) snprintf(n[i], sizeof n[i], "encoder.layer.%d.%s", l, part[i]);
    snprintf(q, sizeof q, "encoder.layer.%d.attention.self.query", l);
    snprintf(k, sizeof k, "encoder.layer.%d.attention.self.key", l);
    snprintf(v, sizeof v, "encoder.layer.%d.attention.self.value", l);
    const char *qkv[3] = {q, k, v};
    const int32_t outs[3] = {H, H, H};
    rerank_status_t st;
    if ((st = rr_weights_dense_stacked(w, pre, qkv, outs, 3, H, 1, &L->qkv)) ||
        (st = rr_weights_dense(w, pre, n[0], H, H, 1, &L->o)) ||
        (st = rr_weights_norm(w, pre, n[1], H, 1, RR_NORM_LAYER, c->norm_eps, &L->attn_norm)) ||
        (st = rr_weights_dense(w, pre, n[2], I, H, 1, &L->up)) ||
        (st = rr_weights_dense(w, pre, n[3], H, I, 1, &L->down)) ||
        (st = rr_weights_norm(w, pre, n[4], H, 1, RR_NORM_LAYER, c->norm_eps, &L->ffn_norm)))
        return st;
    L->attn = (rr_attn_t){.qkv = &L->qkv, .heads = c->heads, .kv_heads = c->heads, .head_dim = c->head_dim,
                          .scale = 1.0f / sqrtf((float)c->head_dim)};
    L->ffn = (rr_ffn_t){.up = &L->up, .down = &L->down, .act = RR_FN_GELU, .gate = RR_GATE_NONE};
    return RERANK_OK;
}

static rerank_status_t bind(rr_weights_t *w, const rr_config_t *c) {
    const int bert = is_bert(c);
    const char *pre = bert ? "bert." : "roberta.";
    const int32_t H = c->hidden;
    bert_weights_t *W = rr_weights_alloc(w, sizeof *W + (size_t)c->layers * sizeof W->layer[0]);
    if (!W) return rr_error(RERANK_ERR_NOMEM, "out of memory for %d layers", c->layers);
    w->family = W;
    rerank_status_t st;

    /* Embeddings. */
    rr_embed_t *e = &W->emb;
    if ((st = rr_weights_table(w, pre, "embeddings.word_embeddings.weight", c->vocab, H, &e->word)) ||
        (st = rr_weights_f32(w, pre, "embeddings.position_embeddings.weight", c->max_pos, H, &e->pos)) ||
        (st = rr_weights_f32(w, pre, "embeddings.token_type_embeddings.weight", c->type_vocab, H, &e->type)) ||
        (st = rr_weights_norm(w, pre, "embeddings.LayerNorm", H, 1, RR_NORM_LAYER, c->norm_eps, &W->emb_norm)))
        return st;
    e->norm = &W->emb_norm;

    /* Encoder layers. */
    for (int32_t l = 0; l < c->layers; l++)
        if ((st = bind_layer(w, pre, c, l, &W->layer[l]))) return st;

    /* Classification head on the first token. */
    if (bert) {
        st = rr_weights_dense(w, pre, "pooler.dense", H, H, 1, &W->head_dense);
        if (!st) st = rr_weights_f32(w, "", "classifier.weight", c->num_labels, H, &W->cls.w);
        if (!st) st = rr_weights_f32(w, "", "classifier.bias", c->num_labels, -1, &W->cls.b);
    } else {
        st = rr_weights_dense(w, "", "classifier.dense", H, H, 1, &W->head_dense);
        if (!st) st = rr_weights_f32(w, "", "classifier.out_proj.weight", c->num_labels, H, &W->cls.w);
        if (!st) st = rr_weights_f32(w, "", "classifier.out_proj.bias", c->num_labels, -1, &W->cls.b);
    }
    W->head_dense.keep_fp32 = 1;
    W->cls.f = RR_FN_TANH;
    return st;
}

/* RoBERTa counts non-padding tokens from pad_id + 1 and gives padding
 * tokens pad_id. */
static void roberta_positions(const rr_config_t *c, const int32_t *ids, int64_t n, int32_t *pos) {
    int32_t count = 0;
    for (int64_t i = 0; i < n; i++) {
        if (ids[i] != c->pad_id) count++;
        pos[i] = ids[i] != c->pad_id ? c->pad_id + count : c->pad_id;
    }
}

static rerank_status_t embed(const rr_run_t *r) {
    const bert_weights_t *W = r->w;
    return RR_BLOCK(r, embed, &W->emb);
}

static rerank_status_t layer(const rr_run_t *r, int32_t l) {
    const bert_layer_t *L = &((const bert_weights_t *)r->w)->layer[l];
    /* x = LayerNorm(x + softmax(q k^T / sqrt(d)) v Wo + bo), q | k | v = x Wqkv + b;
     * x = LayerNorm(x + gelu(x W1 + b1) W2 + b2) */
    return rr_layer_post_norm(r, &L->attn, &L->o, &L->attn_norm, &L->ffn, &L->ffn_norm);
}

static rerank_status_t head(const rr_run_t *r, float *logits) {
    const bert_weights_t *W = r->w;
    /* logit = Wout tanh(Wd x[first token] + bd) + bout */
    return rr_head_dense(r, RR_POOL_FIRST, &W->head_dense, RR_EPI_NONE, NULL, &W->cls, logits);
}

static const char *const k_xlmr_archs[] = {"XLMRobertaForSequenceClassification", "RobertaForSequenceClassification",
                                           NULL};
static const char *const k_bert_archs[] = {"BertForSequenceClassification", NULL};

const rr_family_t rr_family_xlmr = {
    .name = "xlm-roberta",
    .architectures = k_xlmr_archs,
    .config = config,
    .bind = bind,
    .positions = roberta_positions,
    .embed = embed,
    .layer = layer,
    .head = head,
    .default_max_length = RR_DEFAULT_MAX_LENGTH,
};

const rr_family_t rr_family_bert = {
    .name = "bert",
    .architectures = k_bert_archs,
    .config = config,
    .bind = bind,
    .positions = rr_positions_from_zero,
    .embed = embed,
    .layer = layer,
    .head = head,
    .default_max_length = RR_DEFAULT_MAX_LENGTH,
};
