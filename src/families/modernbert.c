/* modernbert.c — ModernBERT as a reranker: ModernBertForSequenceClassification
 * (gte-reranker-modernbert-base). Pre-norm layers, rotary positions with a
 * global and a local theta, every global_attn_every_n_layers-th layer global
 * and the others attending to |i - j| <= local_attention / 2 only, GeGLU, no
 * biases unless the config asks for them.
 *
 *   x = norm(tok[id])                                         embeddings
 *   for each layer l:
 *     h = l ? attn_norm(x) : x                    (layer 0: no attn_norm)
 *     q | k | v = h Wqkv                                       one GEMM
 *     q, k = rope(q), rope(k)        theta global or local by the layer
 *     x = x + softmax(q k^T / sqrt(d), window if local) v Wo
 *     x = x + (gelu(a) * g) Wo2                [a | g] = mlp_norm(x) Wi
 *   x = final_norm(x)
 *   p = mean of the pair's rows of x, or its first row (classifier_pooling)
 *   logit = Wc norm(gelu(p Wd)) + bc                                 head */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "common/limits.h"
#include "families/family.h"

#define PRE "model."

/* rr_config_t.family_flags of a ModernBERT model: which layers have biases. */
#define MB_NORM_BIAS 1u       /* norm_bias       */
#define MB_ATTN_BIAS 2u       /* attention_bias  */
#define MB_MLP_BIAS 4u        /* mlp_bias        */
#define MB_CLASSIFIER_BIAS 8u /* classifier_bias (head.dense) */

typedef struct mb_layer {
    rr_dense_t qkv, o, wi, wo;
    rr_norm_t attn_norm, mlp_norm;
    int has_attn_norm; /* every layer but 0 */
    rr_attn_t attn;
    rr_ffn_t ffn;
} mb_layer_t;

typedef struct mb_weights {
    rr_norm_t emb_norm, final_norm, head_norm;
    rr_embed_t emb;
    rr_rope_t rope_global, rope_local;
    rr_dense_t head_dense; /* head.dense: [H, H]  */
    rr_classifier_t cls;   /* classifier: [1, H]  */
    mb_layer_t layer[];
} mb_weights_t;

/* Layer l attends globally (every global_every-th layer, from 0). */
static int is_global(const rr_config_t *c, int32_t l) { return l % c->global_every == 0; }

static rerank_status_t read_flag(json_t *root, const char *what, const char *key, uint32_t bit, uint32_t *flags) {
    int on;
    rerank_status_t st = rr_cfg_bool(root, what, key, 0, &on);
    if (!st && on) *flags |= bit;
    return st;
}

/* Only the exact GELU ("gelu") is implemented for both activations. */
static rerank_status_t need_gelu(json_t *root, const char *what, const char *key) {
    const char *act = NULL;
    rerank_status_t st = rr_cfg_str(root, what, key, "gelu", &act);
    if (st) return st;
    if (strcmp(act, "gelu"))
        return rr_error(RERANK_ERR_UNSUPPORTED, "%s: %s '%.40s' is not supported (only \"gelu\", the exact erf GELU)",
                        what, key, act);
    return RERANK_OK;
}

/* Defaults of transformers' ModernBertConfig for fields a config.json may
 * leave out (ModernBERT-base's values). */
#define MB_GLOBAL_EVERY 3
#define MB_GLOBAL_THETA 160000.0
#define MB_LOCAL_THETA 10000.0

/* transformers 5 writes the thetas as "rope_parameters": {"full_attention":
 * {"rope_type": "default", "rope_theta": g}, "sliding_attention": {...}}
 * instead of global_rope_theta / local_rope_theta. *theta: that kind's
 * rope_theta, left as it is when the kind or its theta is absent; only the
 * plain rotary embedding is implemented. */
static rerank_status_t need_default_rope(json_t *p, const char *what, const char *name) {
    if (!json_is_object(p)) return rr_error(RERANK_ERR_FORMAT, "%s: %s must be an object", what, name);
    json_t *t = json_object_get(p, "rope_type");
    if (!t) t = json_object_get(p, "type");
    const char *type = !t || json_is_null(t) ? "default" : json_string_value(t);
    if (!type || strcmp(type, "default"))
        return rr_error(RERANK_ERR_UNSUPPORTED, "%s: %s rope_type '%.40s' is not supported (only \"default\")", what,
                        name, type ? type : "?");
    return RERANK_OK;
}

static rerank_status_t read_rope_kind(json_t *params, const char *what, const char *kind, double *theta) {
    json_t *p = json_object_get(params, kind);
    if (!p || json_is_null(p)) return RERANK_OK;
    char name[64];
    snprintf(name, sizeof name, "\"rope_parameters\".\"%s\"", kind);
    rerank_status_t st = need_default_rope(p, what, name);
    return st ? st : rr_cfg_num(p, what, "rope_theta", *theta, 1.0, 1e12, theta);
}

/* The global and local thetas: rope_parameters (transformers 5) over
 * global_rope_theta / local_rope_theta (transformers 4) over the defaults
 * 160000 / 10000. A local_rope_theta of null means the global one (4.x). */
static rerank_status_t read_thetas(json_t *root, const char *what, rr_config_t *c) {
    rerank_status_t st;
    if ((st = rr_cfg_num(root, what, "global_rope_theta", MB_GLOBAL_THETA, 1.0, 1e12, &c->rope.theta))) return st;
    json_t *local = json_object_get(root, "local_rope_theta");
    c->rope.local_theta = local && json_is_null(local) ? c->rope.theta : MB_LOCAL_THETA;
    if ((st = rr_cfg_num(root, what, "local_rope_theta", c->rope.local_theta, 1.0, 1e12, &c->rope.local_theta)))
        return st;
    json_t *scaling = json_object_get(root, "rope_scaling");
    if (scaling && !json_is_null(scaling) && (st = need_default_rope(scaling, what, "\"rope_scaling\""))) return st;
    json_t *params = json_object_get(root, "rope_parameters");
    if (!params || json_is_null(params)) return RERANK_OK;
    if (!json_is_object(params))
        return rr_error(RERANK_ERR_FORMAT, "%s: \"rope_parameters\" must be an object", what);
    if ((st = read_rope_kind(params, what, "full_attention", &c->rope.theta))) return st;
    return read_rope_kind(params, what, "sliding_attention", &c->rope.local_theta);
}

/* Which layers attend globally: every global_attn_every_n_layers-th from 0
 * (default 3). transformers 5 also writes "layer_types" ("full_attention"
 * or "sliding_attention" per layer), which its model follows: it must be
 * that pattern (and gives N when the field is absent). */
static rerank_status_t read_layer_types(json_t *root, const char *what, rr_config_t *c) {
    json_t *types = json_object_get(root, "layer_types");
    int has_types = types && !json_is_null(types);
    if (has_types && (!json_is_array(types) || json_array_size(types) != (size_t)c->layers))
        return rr_error(RERANK_ERR_FORMAT, "%s: \"layer_types\" must be a list of %d strings (one per layer)", what,
                        c->layers);
    int32_t every = MB_GLOBAL_EVERY;
    if (has_types) { /* N from the list: the first global layer after layer 0 */
        every = c->layers;
        for (int32_t l = c->layers - 1; l > 0; l--) {
            const char *t = json_string_value(json_array_get(types, (size_t)l));
            if (t && !strcmp(t, "full_attention")) every = l;
        }
    }
    rerank_status_t st = rr_cfg_int(root, what, "global_attn_every_n_layers", every, 1, RR_MAX_LAYERS, &c->global_every);
    for (int32_t l = 0; !st && has_types && l < c->layers; l++) {
        const char *t = json_string_value(json_array_get(types, (size_t)l));
        const char *want = is_global(c, l) ? "full_attention" : "sliding_attention";
        if (!t || strcmp(t, want))
            return rr_error(RERANK_ERR_UNSUPPORTED,
                            "%s: layer_types[%d] is '%.40s', not \"%s\": only every global_attn_every_n_layers-th "
                            "(%d) layer global is supported", what, l, t ? t : "?", want, c->global_every);
    }
    return st;
}

static rerank_status_t config(json_t *root, const char *what, rr_config_t *c) {
    rerank_status_t st = rr_cfg_common(root, what, "modernbert", c);
    if (st) return st;
    if (c->kv_heads != c->heads)
        return rr_error(RERANK_ERR_UNSUPPORTED,
                        "%s: num_key_value_heads %d != num_attention_heads %d in a ModernBERT model", what,
                        c->kv_heads, c->heads);
    if (c->head_dim * c->heads != c->hidden || c->head_dim % 2)
        return rr_error(RERANK_ERR_FORMAT, "%s: head_dim %d x %d heads != hidden_size %d (or odd head size)", what,
                        c->head_dim, c->heads, c->hidden);
    c->type_vocab = 0; /* no token types */
    int32_t local;
    double eps;
    if ((st = rr_cfg_int(root, what, "pad_token_id", 0, 0, c->vocab - 1, &c->pad_id)) ||
        (st = rr_cfg_num(root, what, "norm_eps", 1e-5, 0, 1, &eps)) ||
        (st = read_layer_types(root, what, c)) ||
        (st = rr_cfg_int(root, what, "local_attention", 128, 2, RR_MAX_SEQ_TOKENS * 2, &local)) ||
        (st = read_thetas(root, what, c)))
        return st;
    c->norm_eps = (float)eps;
    c->window = local / 2;

    /* Biases, activations, pooling. */
    c->family_flags = 0;
    if ((st = read_flag(root, what, "norm_bias", MB_NORM_BIAS, &c->family_flags)) ||
        (st = read_flag(root, what, "attention_bias", MB_ATTN_BIAS, &c->family_flags)) ||
        (st = read_flag(root, what, "mlp_bias", MB_MLP_BIAS, &c->family_flags)) ||
        (st = read_flag(root, what, "classifier_bias", MB_CLASSIFIER_BIAS, &c->family_flags)) ||
        (st = need_gelu(root, what, "hidden_activation")) || (st = need_gelu(root, what, "classifier_activation")))
        return st;
    const char *pool = NULL;
    if ((st = rr_cfg_str(root, what, "classifier_pooling", "cls", &pool))) return st;
    if (!strcmp(pool, "cls")) c->pooling = RR_POOL_FIRST;
    else if (!strcmp(pool, "mean")) c->pooling = RR_POOL_MEAN;
    else
        return rr_error(RERANK_ERR_UNSUPPORTED, "%s: classifier_pooling '%.40s' is not supported (\"cls\" or \"mean\")",
                        what, pool);

    /* A reranker has exactly one output logit. */
    if ((st = rr_cfg_num_labels(root, what, &c->num_labels))) return st;
    if (c->num_labels != 1)
        return rr_error(RERANK_ERR_UNSUPPORTED,
                        "%s: %d labels; only single-logit (num_labels = 1) rerankers are supported", what,
                        c->num_labels);
    return RERANK_OK;
}

static rerank_status_t bind_layer(rr_weights_t *w, const rr_config_t *c, const mb_weights_t *W, int32_t l,
                                  mb_layer_t *L) {
    const int32_t H = c->hidden, I = c->ffn;
    const uint32_t f = c->family_flags;
    const int nb = !!(f & MB_NORM_BIAS), ab = !!(f & MB_ATTN_BIAS), mb = !!(f & MB_MLP_BIAS);
    char n[6][96];
    const char *part[6] = {"attn.Wqkv", "attn.Wo", "mlp.Wi", "mlp.Wo", "attn_norm", "mlp_norm"};
    for (int i = 0; i < 6; i++) snprintf(n[i], sizeof n[i], "layers.%d.%s", l, part[i]);
    rerank_status_t st;
    if ((st = rr_weights_dense(w, PRE, n[0], 3 * H, H, ab, &L->qkv)) ||
        (st = rr_weights_dense(w, PRE, n[1], H, H, ab, &L->o)) ||
        (st = rr_weights_dense(w, PRE, n[2], 2 * I, H, mb, &L->wi)) ||
        (st = rr_weights_dense(w, PRE, n[3], H, I, mb, &L->wo)) ||
        (st = rr_weights_norm(w, PRE, n[5], H, nb, RR_NORM_LAYER, c->norm_eps, &L->mlp_norm)))
        return st;
    L->has_attn_norm = l > 0;
    if (l > 0 && (st = rr_weights_norm(w, PRE, n[4], H, nb, RR_NORM_LAYER, c->norm_eps, &L->attn_norm))) return st;
    const int global = is_global(c, l);
    L->attn = (rr_attn_t){.qkv = &L->qkv, .heads = c->heads, .kv_heads = c->heads, .head_dim = c->head_dim,
                          .rope = global ? &W->rope_global : &W->rope_local, .window = global ? 0 : c->window,
                          .scale = 1.0f / sqrtf((float)c->head_dim)};
    L->ffn = (rr_ffn_t){.up = &L->wi, .down = &L->wo, .act = RR_FN_GELU, .gate = RR_GATE_FIRST};
    return RERANK_OK;
}

static rerank_status_t bind(rr_weights_t *w, const rr_config_t *c) {
    const int32_t H = c->hidden;
    const int nb = !!(c->family_flags & MB_NORM_BIAS);
    mb_weights_t *W = rr_weights_alloc(w, sizeof *W + (size_t)c->layers * sizeof W->layer[0]);
    if (!W) return rr_error(RERANK_ERR_NOMEM, "out of memory for %d layers", c->layers);
    w->family = W;
    rerank_status_t st;

    /* Embeddings: the token table, then a norm; no types, no position table. */
    if ((st = rr_weights_table(w, PRE, "embeddings.tok_embeddings.weight", c->vocab, H, &W->emb.word)) ||
        (st = rr_weights_norm(w, PRE, "embeddings.norm", H, nb, RR_NORM_LAYER, c->norm_eps, &W->emb_norm)))
        return st;
    W->emb.norm = &W->emb_norm;

    /* Rotary tables of the global and the local layers. */
    if ((st = rr_rope_build(w, c->rope.theta, 0, c->head_dim, c->usable_pos, &W->rope_global)) ||
        (st = rr_rope_build(w, c->rope.local_theta, 0, c->head_dim, c->usable_pos, &W->rope_local)))
        return st;

    /* Encoder layers. */
    for (int32_t l = 0; l < c->layers; l++)
        if ((st = bind_layer(w, c, W, l, &W->layer[l]))) return st;

    /* final_norm; head: dense, GELU, norm; classifier. */
    if ((st = rr_weights_norm(w, PRE, "final_norm", H, nb, RR_NORM_LAYER, c->norm_eps, &W->final_norm)) ||
        (st = rr_weights_dense(w, "", "head.dense", H, H, !!(c->family_flags & MB_CLASSIFIER_BIAS), &W->head_dense)) ||
        (st = rr_weights_norm(w, "", "head.norm", H, nb, RR_NORM_LAYER, c->norm_eps, &W->head_norm)) ||
        (st = rr_weights_f32(w, "", "classifier.weight", c->num_labels, H, &W->cls.w)) ||
        (st = rr_weights_f32(w, "", "classifier.bias", c->num_labels, -1, &W->cls.b)))
        return st;
    W->head_dense.keep_fp32 = 1;
    W->cls.f = RR_FN_NONE;
    return RERANK_OK;
}

static rerank_status_t embed(const rr_run_t *r) {
    const mb_weights_t *W = r->w;
    /* x = norm(tok[id]) */
    return RR_BLOCK(r, embed, &W->emb);
}

static rerank_status_t layer(const rr_run_t *r, int32_t l) {
    const mb_layer_t *L = &((const mb_weights_t *)r->w)->layer[l];
    /* h = attn_norm(x) (layer 0: h = x);
     * x = x + softmax(rope(q) rope(k)^T / sqrt(d), window) v Wo, q | k | v = h Wqkv;
     * x = x + (gelu(a) * g) Wo2, [a | g] = mlp_norm(x) Wi */
    return rr_layer_pre_norm(r, L->has_attn_norm ? &L->attn_norm : NULL, &L->attn, &L->o, &L->mlp_norm, &L->ffn);
}

static rerank_status_t head(const rr_run_t *r, float *logits) {
    const mb_weights_t *W = r->w;
    rerank_status_t st;
    /* x = final_norm(x) */
    if ((st = RR_BLOCK(r, norm, &W->final_norm, RR_ACT_X, RR_ACT_X))) return st;
    /* logit = Wc norm(gelu(p Wd)) + bc, p = mean or first row of each pair */
    return rr_head_dense(r, r->cfg->pooling, &W->head_dense, RR_EPI_GELU, &W->head_norm, &W->cls, logits);
}

static const char *const k_modernbert_archs[] = {"ModernBertForSequenceClassification", NULL};

const rr_family_t rr_family_modernbert = {
    .name = "modernbert",
    .architectures = k_modernbert_archs,
    .config = config,
    .bind = bind,
    .positions = rr_positions_from_zero,
    .embed = embed,
    .layer = layer,
    .head = head,
    .default_max_length = RR_MAX_SEQ_TOKENS,
};
