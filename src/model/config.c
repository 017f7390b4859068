/* config.c — typed, bounded readers of config.json fields. */
#include "model/config.h"

#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "common/limits.h"

/* Bounds that limits.h does not name: an FFN wider than 8x hidden exists in
 * no model we support. */
#define RR_MAX_FFN_FACTOR 8

rerank_status_t rr_cfg_int(json_t *root, const char *what, const char *key, int64_t def, int64_t lo, int64_t hi,
                           int32_t *out) {
    json_t *v = json_object_get(root, key);
    int64_t x;
    if (!v || json_is_null(v)) {
        if (def == RR_CFG_REQUIRED) return rr_error(RERANK_ERR_FORMAT, "%s: missing required field \"%s\"", what, key);
        x = def;
    } else if (json_is_integer(v)) {
        x = (int64_t)json_integer_value(v);
    } else {
        return rr_error(RERANK_ERR_FORMAT, "%s: field \"%s\" must be an integer", what, key);
    }
    if (x < lo || x > hi)
        return rr_error(RERANK_ERR_LIMIT, "%s: \"%s\" = %lld is outside the supported range [%lld, %lld]", what, key,
                        (long long)x, (long long)lo, (long long)hi);
    *out = (int32_t)x;
    return RERANK_OK;
}

rerank_status_t rr_cfg_str(json_t *root, const char *what, const char *key, const char *def, const char **out) {
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v)) {
        *out = def;
        return RERANK_OK;
    }
    if (!json_is_string(v)) return rr_error(RERANK_ERR_FORMAT, "%s: field \"%s\" must be a string", what, key);
    *out = json_string_value(v);
    return RERANK_OK;
}

rerank_status_t rr_cfg_num(json_t *root, const char *what, const char *key, double def, double lo, double hi,
                           double *out) {
    json_t *v = json_object_get(root, key);
    double x = def;
    if (v && !json_is_null(v)) {
        if (!json_is_number(v)) return rr_error(RERANK_ERR_FORMAT, "%s: \"%s\" must be a number", what, key);
        x = json_number_value(v);
    }
    if (!(x > lo && x < hi))
        return rr_error(RERANK_ERR_FORMAT, "%s: \"%s\" = %g must be in (%g, %g)", what, key, x, lo, hi);
    *out = x;
    return RERANK_OK;
}

rerank_status_t rr_cfg_bool(json_t *root, const char *what, const char *key, int def, int *out) {
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v)) {
        *out = def;
        return RERANK_OK;
    }
    if (!json_is_boolean(v)) return rr_error(RERANK_ERR_FORMAT, "%s: \"%s\" must be true or false", what, key);
    *out = json_is_true(v);
    return RERANK_OK;
}

rerank_status_t rr_cfg_architecture(json_t *root, const char *what, const char **out) {
    json_t *archs = json_object_get(root, "architectures");
    if (!json_is_array(archs) || json_array_size(archs) == 0 || !json_is_string(json_array_get(archs, 0)))
        return rr_error(RERANK_ERR_UNSUPPORTED,
                        "%s: no \"architectures\" list; expected e.g. [\"XLMRobertaForSequenceClassification\"]",
                        what);
    *out = json_string_value(json_array_get(archs, 0));
    return RERANK_OK;
}

rerank_status_t rr_cfg_num_labels(json_t *root, const char *what, int32_t *out) {
    json_t *id2label = json_object_get(root, "id2label");
    if (id2label && !json_is_null(id2label)) {
        if (!json_is_object(id2label)) return rr_error(RERANK_ERR_FORMAT, "%s: \"id2label\" must be an object", what);
        size_t n = json_object_size(id2label);
        *out = (int32_t)(n > 1000000 ? 1000000 : n);
        return RERANK_OK;
    }
    return rr_cfg_int(root, what, "num_labels", 2, 0, 1000000, out);
}

rerank_status_t rr_cfg_common(json_t *root, const char *what, const char *model_type, rr_config_t *c) {
    if (!json_is_object(root)) return rr_error(RERANK_ERR_FORMAT, "%s: not a JSON object", what);
    const char *arch, *mt;
    rerank_status_t st;
    if ((st = rr_cfg_architecture(root, what, &arch)) || (st = rr_cfg_str(root, what, "model_type", model_type, &mt)))
        return st;
    snprintf(c->architecture, sizeof c->architecture, "%s", arch);
    snprintf(c->model_type, sizeof c->model_type, "%s", mt);
    if ((st = rr_cfg_int(root, what, "hidden_size", RR_CFG_REQUIRED, 1, RR_MAX_HIDDEN, &c->hidden)) ||
        (st = rr_cfg_int(root, what, "num_hidden_layers", RR_CFG_REQUIRED, 1, RR_MAX_LAYERS, &c->layers)) ||
        (st = rr_cfg_int(root, what, "num_attention_heads", RR_CFG_REQUIRED, 1, RR_MAX_HEADS, &c->heads)) ||
        (st = rr_cfg_int(root, what, "num_key_value_heads", c->heads, 1, c->heads, &c->kv_heads)) ||
        (st = rr_cfg_int(root, what, "intermediate_size", RR_CFG_REQUIRED, 1,
                         (int64_t)RR_MAX_FFN_FACTOR * RR_MAX_HIDDEN, &c->ffn)) ||
        (st = rr_cfg_int(root, what, "max_position_embeddings", RR_CFG_REQUIRED, 1, RR_MAX_POSITIONS, &c->max_pos)) ||
        (st = rr_cfg_int(root, what, "vocab_size", RR_CFG_REQUIRED, 1, RR_MAX_VOCAB, &c->vocab)))
        return st;
    if (c->heads % c->kv_heads)
        return rr_error(RERANK_ERR_FORMAT, "%s: num_attention_heads %d is not a multiple of num_key_value_heads %d",
                        what, c->heads, c->kv_heads);
    /* head_dim: given (Qwen3: not hidden / heads), else hidden / heads. */
    json_t *hd = json_object_get(root, "head_dim");
    if (hd && !json_is_null(hd)) {
        if ((st = rr_cfg_int(root, what, "head_dim", RR_CFG_REQUIRED, 1, RR_MAX_HEAD_DIM, &c->head_dim))) return st;
    } else {
        if (c->hidden % c->heads)
            return rr_error(RERANK_ERR_FORMAT, "%s: hidden_size %d is not a multiple of num_attention_heads %d", what,
                            c->hidden, c->heads);
        c->head_dim = c->hidden / c->heads;
        if (c->head_dim > RR_MAX_HEAD_DIM)
            return rr_error(RERANK_ERR_LIMIT,
                            "%s: head size hidden_size / num_attention_heads = %d / %d = %d is above the supported %d",
                            what, c->hidden, c->heads, c->head_dim, RR_MAX_HEAD_DIM);
    }
    c->usable_pos = c->max_pos > RR_MAX_SEQ_TOKENS ? RR_MAX_SEQ_TOKENS : c->max_pos;
    return RERANK_OK;
}
