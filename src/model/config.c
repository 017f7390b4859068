/* config.c — parse and validate config.json. */
#include "model/config.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/limits.h"
#include "model/json_load.h"

/* Bounds that limits.h does not name: an FFN wider than 8x hidden or more
 * than 1024 token types exists in no encoder we support. */
#define RR_MAX_FFN_FACTOR 8
#define RR_MAX_TYPE_VOCAB 1024

static const struct {
    const char *name;
    rr_arch_t arch;
} k_archs[] = {
    {"XLMRobertaForSequenceClassification", RR_ARCH_XLMR},
    {"RobertaForSequenceClassification", RR_ARCH_XLMR},
    {"BertForSequenceClassification", RR_ARCH_BERT},
};

/* Reads an integer field into *out; missing fields take `def` unless
 * def < INT64_MIN+1 marks it required. */
#define REQUIRED INT64_MIN
static rerank_status_t get_int(json_t *root, const char *what, const char *key, int64_t def,
                               int64_t lo, int64_t hi, int32_t *out) {
    json_t *v = json_object_get(root, key);
    int64_t x;
    if (!v || json_is_null(v)) {
        if (def == REQUIRED)
            return rr_error(RERANK_ERR_FORMAT, "%s: missing required field \"%s\"", what, key);
        x = def;
    } else if (json_is_integer(v)) {
        x = (int64_t)json_integer_value(v);
    } else {
        return rr_error(RERANK_ERR_FORMAT, "%s: field \"%s\" must be an integer", what, key);
    }
    if (x < lo || x > hi)
        return rr_error(RERANK_ERR_LIMIT, "%s: \"%s\" = %lld is outside the supported range [%lld, %lld]",
                        what, key, (long long)x, (long long)lo, (long long)hi);
    *out = (int32_t)x;
    return RERANK_OK;
}

static rerank_status_t get_str(json_t *root, const char *what, const char *key, const char *def,
                               const char **out) {
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v)) { *out = def; return RERANK_OK; }
    if (!json_is_string(v))
        return rr_error(RERANK_ERR_FORMAT, "%s: field \"%s\" must be a string", what, key);
    *out = json_string_value(v);
    return RERANK_OK;
}

static rerank_status_t parse_root(json_t *root, const char *what, rr_config_t *c) {
    if (!json_is_object(root)) return rr_error(RERANK_ERR_FORMAT, "%s: not a JSON object", what);
    rerank_status_t st;

    /* Architecture: the first entry of "architectures". */
    json_t *archs = json_object_get(root, "architectures");
    if (!json_is_array(archs) || json_array_size(archs) == 0 || !json_is_string(json_array_get(archs, 0)))
        return rr_error(RERANK_ERR_UNSUPPORTED,
                        "%s: no \"architectures\" list; expected e.g. [\"XLMRobertaForSequenceClassification\"]",
                        what);
    const char *arch = json_string_value(json_array_get(archs, 0));
    size_t i = 0, n_archs = sizeof k_archs / sizeof k_archs[0];
    while (i < n_archs && strcmp(k_archs[i].name, arch)) i++;
    if (i == n_archs)
        return rr_error(RERANK_ERR_UNSUPPORTED,
                        "%s: architecture '%.80s' is not supported (supported: "
                        "XLMRobertaForSequenceClassification, RobertaForSequenceClassification, "
                        "BertForSequenceClassification)", what, arch);
    c->arch = k_archs[i].arch;
    snprintf(c->architecture, sizeof c->architecture, "%s", arch);

    const char *mt = NULL;
    if ((st = get_str(root, what, "model_type", c->arch == RR_ARCH_BERT ? "bert" : "xlm-roberta", &mt)))
        return st;
    snprintf(c->model_type, sizeof c->model_type, "%s", mt);

    /* Dimensions. */
    if ((st = get_int(root, what, "hidden_size", REQUIRED, 1, RR_MAX_HIDDEN, &c->hidden)) ||
        (st = get_int(root, what, "num_hidden_layers", REQUIRED, 1, RR_MAX_LAYERS, &c->layers)) ||
        (st = get_int(root, what, "num_attention_heads", REQUIRED, 1, RR_MAX_HEADS, &c->heads)) ||
        (st = get_int(root, what, "intermediate_size", REQUIRED, 1,
                      (int64_t)RR_MAX_FFN_FACTOR * RR_MAX_HIDDEN, &c->ffn)) ||
        (st = get_int(root, what, "max_position_embeddings", REQUIRED, 1, RR_MAX_SEQ_TOKENS + 2,
                      &c->max_pos)) ||
        (st = get_int(root, what, "vocab_size", REQUIRED, 1, RR_MAX_VOCAB, &c->vocab)) ||
        (st = get_int(root, what, "type_vocab_size", 2, 1, RR_MAX_TYPE_VOCAB, &c->type_vocab)) ||
        (st = get_int(root, what, "pad_token_id", c->arch == RR_ARCH_BERT ? 0 : 1, 0, c->vocab - 1,
                      &c->pad_id)))
        return st;
    if (c->hidden % c->heads)
        return rr_error(RERANK_ERR_FORMAT, "%s: hidden_size %d is not a multiple of num_attention_heads %d",
                        what, c->hidden, c->heads);
    c->head_dim = c->hidden / c->heads;

    /* RoBERTa numbers positions from pad_token_id + 1. */
    int64_t usable = c->max_pos;
    if (c->arch == RR_ARCH_XLMR) usable -= (int64_t)c->pad_id + 1;
    if (usable < 1)
        return rr_error(RERANK_ERR_FORMAT,
                        "%s: max_position_embeddings %d leaves no usable position after pad_token_id %d",
                        what, c->max_pos, c->pad_id);
    c->usable_pos = (int32_t)(usable > RR_MAX_SEQ_TOKENS ? RR_MAX_SEQ_TOKENS : usable);

    json_t *eps = json_object_get(root, "layer_norm_eps");
    double e = 1e-12;
    if (eps && !json_is_null(eps)) {
        if (!json_is_number(eps))
            return rr_error(RERANK_ERR_FORMAT, "%s: \"layer_norm_eps\" must be a number", what);
        e = json_number_value(eps);
    }
    if (!(e > 0 && e < 1))
        return rr_error(RERANK_ERR_FORMAT, "%s: \"layer_norm_eps\" = %g must be in (0, 1)", what, e);
    c->ln_eps = (float)e;

    /* Features the engine implements exactly one way. */
    const char *act = NULL, *pet = NULL;
    if ((st = get_str(root, what, "hidden_act", "gelu", &act))) return st;
    if (strcmp(act, "gelu"))
        return rr_error(RERANK_ERR_UNSUPPORTED,
                        "%s: hidden_act '%.40s' is not supported (only \"gelu\", the exact erf GELU)", what,
                        act);
    if ((st = get_str(root, what, "position_embedding_type", "absolute", &pet))) return st;
    if (strcmp(pet, "absolute"))
        return rr_error(RERANK_ERR_UNSUPPORTED,
                        "%s: position_embedding_type '%.40s' is not supported (only \"absolute\")", what,
                        pet);

    /* Labels: a reranker has exactly one output logit. */
    json_t *id2label = json_object_get(root, "id2label");
    if (id2label && !json_is_null(id2label)) {
        if (!json_is_object(id2label))
            return rr_error(RERANK_ERR_FORMAT, "%s: \"id2label\" must be an object", what);
        c->num_labels = (int32_t)(json_object_size(id2label) > 1000000 ? 1000000 : json_object_size(id2label));
    } else if ((st = get_int(root, what, "num_labels", 2, 0, 1000000, &c->num_labels))) {
        return st;
    }
    if (c->num_labels != 1)
        return rr_error(RERANK_ERR_UNSUPPORTED,
                        "%s: %d labels; only single-logit (num_labels = 1) rerankers are supported", what,
                        c->num_labels);
    return RERANK_OK;
}

rerank_status_t rr_config_parse(const char *text, size_t len, const char *what, rr_config_t *cfg) {
    memset(cfg, 0, sizeof *cfg);
    json_t *root;
    rerank_status_t st = rr_json_parse(text, len, what, &root);
    if (st) return st;
    rr_config_t c;
    memset(&c, 0, sizeof c);
    st = parse_root(root, what, &c);
    json_decref(root);
    if (!st) *cfg = c;
    return st;
}

rerank_status_t rr_config_load(const char *path, rr_config_t *cfg) {
    memset(cfg, 0, sizeof *cfg);
    size_t pl = strlen(path);
    char *file = rr_malloc(pl + sizeof "/config.json");
    if (!file) return rr_error(RERANK_ERR_NOMEM, "out of memory reading config of %s", path);
    memcpy(file, path, pl + 1);
    if (!(pl >= 5 && !strcmp(path + pl - 5, ".json"))) memcpy(file + pl, "/config.json", sizeof "/config.json");
    json_t *root;
    rerank_status_t st = rr_json_parse_file(file, RR_MAX_CONFIG_JSON_BYTES, &root);
    if (!st) {
        st = parse_root(root, file, cfg);
        json_decref(root);
        if (st) memset(cfg, 0, sizeof *cfg);
    }
    rr_free(file);
    return st;
}
