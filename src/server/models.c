/* models.c — the served models: which one a request names, and how /info and /v1/models list them. */
#include <stdio.h>
#include <string.h>

#include "server/server_internal.h"

rr_served_t *rr_models_pick(rr_server_t *s, const char *name, size_t n, char *err, size_t cap) {
    int nm = atomic_load(&s->n_models);
    /* No name, or one model (its clients may send any name, as before). */
    if (nm == 1 || !name || n == 0) return &s->models[0];
    for (int i = 0; i < nm; i++) {
        const char *id = s->models[i].info.model_id;
        if (strlen(id) == n && !memcmp(id, name, n)) return &s->models[i];
    }
    /* Echo at most 128 bytes of the name, cut before a UTF-8 character
     * rather than inside one (the message becomes a JSON string). */
    size_t shown = n > 128 ? 128 : n;
    if (shown < n)
        while (shown > 0 && ((unsigned char)name[shown] & 0xC0) == 0x80) shown--;
    size_t k = (size_t)snprintf(err, cap, "model '%.*s' is not served here; served:", (int)shown, name);
    for (int i = 0; i < nm && k < cap; i++)
        k += (size_t)snprintf(err + k, cap - k, "%s '%s'", i ? "," : "", s->models[i].info.model_id);
    return NULL;
}

json_t *rr_model_info_json(rr_served_t *m) {
    rr_scorer_state_t st = {.healthy = 1, .device_memory_bytes = 0};
    if (m->scorer.state) m->scorer.state(m->scorer.ctx, &st);
    const rr_server_info_t *in = &m->info;
    json_t *j = json_object();
    if (!j) return NULL;
    json_object_set_new(j, "model_id", json_string(in->model_id));
    json_object_set_new(j, "model_dtype", json_string(in->precision));
    json_object_set_new(j, "model_type", json_pack("{s:{s:s, s:s}}", "reranker", "architecture", in->architecture,
                                                   "model_type", in->model_type));
    json_object_set_new(j, "architecture", json_string(in->architecture));
    json_object_set_new(j, "family", json_string(in->family ? in->family : ""));
    /* An LLM reranker's prompt recipe and the instruction requests get by
     * default (null: the recipe's own); null and null for a cross-encoder. */
    json_object_set_new(j, "prompt", in->prompt && in->prompt[0] ? json_string(in->prompt) : json_null());
    json_object_set_new(j, "instruction", in->instruction ? json_string(in->instruction) : json_null());
    json_object_set_new(j, "precision", json_string(in->precision));
    json_object_set_new(j, "weights_dtype", json_string(in->weights_dtype));
    json_object_set_new(j, "compute", json_string(in->compute));
    json_object_set_new(j, "device", json_string(in->device));
    json_object_set_new(j, "device_memory_bytes", json_integer(st.device_memory_bytes));
    json_object_set_new(j, "batches_in_flight", json_integer(m->batches_in_flight));
    json_object_set_new(j, "healthy", json_boolean(st.healthy));
    json_object_set_new(j, "num_layers", json_integer(in->num_layers));
    json_object_set_new(j, "layers_used", json_integer(in->layers_used));
    json_object_set_new(j, "max_input_length", json_integer(in->max_length));
    json_object_set_new(j, "truncation", json_string(in->truncation == RERANK_TRUNC_FLAG ? "flag" : "longest_first"));
    return j;
}

/* OpenAI-style list ({"object": "list", "data": [{"id", "object": "model",
 * "owned_by"}]}), which Jina / OpenAI-compatible clients read, plus each
 * model's /info fields. */
json_t *rr_models_json(rr_server_t *s) {
    json_t *data = json_array();
    json_t *j = json_pack("{s:s, s:o}", "object", "list", "data", data);
    if (!j) return NULL;
    int nm = atomic_load(&s->n_models);
    for (int i = 0; i < nm; i++) {
        json_t *o = rr_model_info_json(&s->models[i]);
        if (!o || json_array_append_new(data, o)) {
            json_decref(j);
            return NULL;
        }
        json_object_set_new(o, "id", json_string(s->models[i].info.model_id));
        json_object_set_new(o, "object", json_string("model"));
        json_object_set_new(o, "owned_by", json_string("rerank"));
        json_object_set_new(o, "default", json_boolean(i == 0));
    }
    return j;
}
