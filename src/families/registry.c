/* registry.c — the model families rerank runs, found by architecture. */
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/limits.h"
#include "families/family.h"
#include "model/json_load.h"

extern const rr_family_t rr_family_xlmr, rr_family_bert, rr_family_gte, rr_family_modernbert, rr_family_qwen3,
    rr_family_qwen3_seqcls;

static const rr_family_t *const k_families[] = {&rr_family_xlmr,       &rr_family_bert,  &rr_family_gte,
                                                &rr_family_modernbert, &rr_family_qwen3, &rr_family_qwen3_seqcls};
#define N_FAMILIES (sizeof k_families / sizeof k_families[0])

const rr_family_t *rr_family_find(const char *architecture) {
    for (size_t i = 0; architecture && i < N_FAMILIES; i++)
        for (const char *const *a = k_families[i]->architectures; *a; a++)
            if (!strcmp(*a, architecture)) return k_families[i];
    return NULL;
}

/* Every supported architecture, for error messages. */
static void list_architectures(char *buf, size_t cap) {
    size_t at = 0;
    buf[0] = 0;
    for (size_t i = 0; i < N_FAMILIES; i++)
        for (const char *const *a = k_families[i]->architectures; *a && at + 1 < cap; a++) {
            size_t n = strlen(*a);
            if (at + n + 3 >= cap) return;
            if (at) {
                memcpy(buf + at, ", ", 2);
                at += 2;
            }
            memcpy(buf + at, *a, n + 1);
            at += n;
        }
}

static rerank_status_t parse_root(json_t *root, const char *what, rr_config_t *c, const rr_family_t **fam) {
    if (!json_is_object(root)) return rr_error(RERANK_ERR_FORMAT, "%s: not a JSON object", what);
    const char *arch;
    rerank_status_t st = rr_cfg_architecture(root, what, &arch);
    if (st) return st;
    const rr_family_t *f = rr_family_find(arch);
    if (!f) {
        char all[512];
        list_architectures(all, sizeof all);
        return rr_error(RERANK_ERR_UNSUPPORTED, "%s: architecture '%.80s' is not supported (supported: %s)", what,
                        arch, all);
    }
    rr_config_t tmp;
    memset(&tmp, 0, sizeof tmp);
    if ((st = f->config(root, what, &tmp))) return st;
    *c = tmp;
    *fam = f;
    return RERANK_OK;
}

rerank_status_t rr_family_config_parse(const char *text, size_t len, const char *what, rr_config_t *cfg,
                                       const rr_family_t **fam) {
    memset(cfg, 0, sizeof *cfg);
    *fam = NULL;
    json_t *root;
    rerank_status_t st = rr_json_parse(text, len, what, &root);
    if (st) return st;
    st = parse_root(root, what, cfg, fam);
    json_decref(root);
    return st;
}

rerank_status_t rr_family_config_load(const char *path, rr_config_t *cfg, const rr_family_t **fam) {
    memset(cfg, 0, sizeof *cfg);
    *fam = NULL;
    size_t pl = strlen(path);
    char *file = rr_malloc(pl + sizeof "/config.json");
    if (!file) return rr_error(RERANK_ERR_NOMEM, "out of memory reading config of %s", path);
    memcpy(file, path, pl + 1);
    if (!(pl >= 5 && !strcmp(path + pl - 5, ".json"))) memcpy(file + pl, "/config.json", sizeof "/config.json");
    json_t *root;
    rerank_status_t st = rr_json_parse_file(file, RR_MAX_CONFIG_JSON_BYTES, &root);
    if (!st) {
        st = parse_root(root, file, cfg, fam);
        json_decref(root);
    }
    rr_free(file);
    return st;
}
