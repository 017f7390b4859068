/* prompt.c — LLM reranker prompt recipes (prompt.h): the prefix and suffix
 * ids cached as a one-sequence template around the middle, the middle
 * built from its template and tokenized alone, cut from the right so the
 * suffix is never lost. */
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"
#include "tokenizer/internal.h"
#include "tokenizer/prompt.h"
#include "tokenizer/window.h"

const rr_prompt_recipe_t rr_prompt_qwen3_reranker = {
    .name = "qwen3-reranker",
    .prefix = "<|im_start|>system\nJudge whether the Document meets the requirements based on the Query and the "
              "Instruct provided. Note that the answer can only be \"yes\" or \"no\".<|im_end|>\n<|im_start|>user\n",
    .middle = "<Instruct>: {instruction}\n<Query>: {query}\n<Document>: {doc}",
    .suffix = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n",
    .default_instruction = "Given a web search query, retrieve relevant passages that answer the query",
};

struct rr_prompt {
    const rerank_tokenizer_t *tok;
    const rr_prompt_recipe_t *recipe;
    rr_template_t tpl; /* single: prefix ids, the middle, suffix ids; type ids 0 */
};

void rr_prompt_free(rr_prompt_t *p) {
    if (!p) return;
    rr_template_release(&p->tpl);
    rr_free(p);
}

/* One fixed part of the template: the ids of `text` (or the middle, seq 0). */
static rerank_status_t add_part(rr_prompt_t *p, const char *text, int seq) {
    rr_ids_t ids = {0};
    rerank_status_t st = text ? rr_tokenizer_encode(p->tok, text, strlen(text), NULL, &ids) : RERANK_OK;
    rr_tpl_item_t *items = st ? NULL : rr_realloc(p->tpl.single, (p->tpl.n_single + 1) * sizeof *items);
    if (!st && !items) st = rr_error(RERANK_ERR_NOMEM, "prompt: out of memory");
    if (!st) {
        p->tpl.single = items;
        items[p->tpl.n_single++] = (rr_tpl_item_t){.seq = seq, .ids = ids.v, .n_ids = ids.n};
        return RERANK_OK;
    }
    rr_ids_release(&ids);
    return st;
}

rerank_status_t rr_prompt_new(const rerank_tokenizer_t *tok, const rr_prompt_recipe_t *recipe, rr_prompt_t **out) {
    *out = NULL;
    rr_prompt_t *p = rr_calloc(1, sizeof *p);
    if (!p) return rr_error(RERANK_ERR_NOMEM, "prompt: out of memory");
    p->tok = tok;
    p->recipe = recipe;
    rerank_status_t st;
    if ((st = add_part(p, recipe->prefix, -1)) || (st = add_part(p, NULL, 0)) || (st = add_part(p, recipe->suffix, -1))) {
        rr_error_prefix("prompt recipe %s", recipe->name);
        rr_prompt_free(p);
        return st;
    }
    *out = p;
    return RERANK_OK;
}

size_t rr_prompt_fixed_ids(const rr_prompt_t *p) { return rr_template_overhead(&p->tpl, 0); }

/* The middle template with its three fields filled in. */
static rerank_status_t build_middle(const char *tpl, const char *const val[3], const size_t len[3], rr_sbuf_t *out) {
    static const char *const names[3] = {"{instruction}", "{query}", "{doc}"};
    rerank_status_t st = RERANK_OK;
    for (const char *s = tpl; !st && *s;) {
        int field = -1;
        for (int f = 0; f < 3 && field < 0; f++)
            if (!strncmp(s, names[f], strlen(names[f]))) field = f;
        if (field < 0) {
            st = rr_sbuf_append(out, s++, 1);
            continue;
        }
        st = rr_sbuf_append(out, val[field], len[field]);
        s += strlen(names[field]);
    }
    return st;
}

/* max_length: 0 (no limit), or more than the prefix and suffix take. */
static rerank_status_t check_room(const rr_prompt_t *p, int32_t max_length) {
    const size_t fixed = rr_prompt_fixed_ids(p);
    if (max_length < 0 || (max_length > 0 && (size_t)max_length <= fixed))
        return rr_error(RERANK_ERR_INVALID_ARGUMENT,
                        "prompt %s: max_length %d leaves no room for the query and document (the prompt's fixed part "
                        "has %zu ids)",
                        p->recipe->name, max_length, fixed);
    return RERANK_OK;
}

/* The instruction the caller gave, or the recipe's default (NULL). */
static void pick_instruction(const rr_prompt_t *p, const char **instruction, size_t *instruction_len) {
    if (*instruction) return;
    *instruction = p->recipe->default_instruction;
    *instruction_len = strlen(*instruction);
}

/* The texts' checks, then the ids of the middle with `doc` in it (lim: the
 * tokenizer's early exit, or NULL for all of them). */
static rerank_status_t middle_ids(const rr_prompt_t *p, const char *instruction, size_t instruction_len,
                                  const char *query, size_t query_len, const char *doc, size_t doc_len,
                                  rr_enc_limit_t *lim, rr_ids_t *ids) {
    rerank_status_t st;
    if ((st = rr_tokenizer_check_text("instruction", instruction, instruction_len)) ||
        (st = rr_tokenizer_check_text("query", query, query_len)) ||
        (st = rr_tokenizer_check_text("document", doc, doc_len)))
        return st;
    const char *val[3] = {instruction, query, doc};
    const size_t len[3] = {instruction_len, query_len, doc_len};
    rr_sbuf_t mid = {0};
    if (!(st = build_middle(p->recipe->middle, val, len, &mid))) st = rr_tokenizer_encode(p->tok, mid.p, mid.n, lim, ids);
    rr_sbuf_release(&mid);
    return st;
}

rerank_status_t rr_prompt_encode(const rr_prompt_t *p, const char *instruction, size_t instruction_len,
                                 const char *query, size_t query_len, const char *doc, size_t doc_len,
                                 int32_t max_length, rerank_encoding_t *enc) {
    enc->n = 0;
    pick_instruction(p, &instruction, &instruction_len);
    const size_t fixed = rr_prompt_fixed_ids(p);
    rerank_status_t st = check_room(p, max_length);
    if (st) return st;
    rr_ids_t ids = {0};
    /* the middle's ids past the budget are never needed: Right truncation's
     * early exit stops at the word that reaches it */
    rr_enc_limit_t lim = {.max = max_length > 0 ? (size_t)max_length - fixed : 0};
    st = middle_ids(p, instruction, instruction_len, query, query_len, doc, doc_len, &lim, &ids);
    if (!st) st = rr_template_apply(&p->tpl, ids.v, lim.max && ids.n > lim.max ? lim.max : ids.n, NULL, 0, enc);
    rr_ids_release(&ids);
    if (st) enc->n = 0;
    return st;
}

/* ---- long documents ------------------------------------------------------ */

/* One window's prompt: the prefix, the middle's ids before the document
 * (stem), the window's document ids, the suffix. */
typedef struct prompt_wrap {
    const rr_prompt_t *p;
    const int32_t *stem;
    size_t n_stem;
    rr_ids_t *mid; /* scratch for stem + window */
    rerank_encoding_t *tmp;
} prompt_wrap_t;

static rerank_status_t add_prompt_window(void *ctx, const int32_t *d, size_t nd, rerank_chunk_info_t info,
                                         rerank_windows_t *out) {
    const prompt_wrap_t *w = ctx;
    w->mid->n = 0;
    rerank_status_t st = rr_ids_reserve(w->mid, w->n_stem + nd + 1);
    if (st) return st;
    memcpy(w->mid->v, w->stem, w->n_stem * sizeof *w->stem);
    if (nd) memcpy(w->mid->v + w->n_stem, d, nd * sizeof *d);
    w->mid->n = w->n_stem + nd;
    if ((st = rr_template_apply(&w->p->tpl, w->mid->v, w->mid->n, NULL, 0, w->tmp))) return st;
    return rr_windows_append(w->tmp, info, out);
}

rerank_status_t rr_prompt_windows(const rr_prompt_t *p, const char *instruction, size_t instruction_len,
                                  const char *query, size_t query_len, const char *doc, size_t doc_len,
                                  int32_t max_length, const rerank_long_options_t *lo, rerank_windows_t *out) {
    out->enc.n = out->n = 0;
    rerank_status_t st = rr_long_options_check(lo);
    if (st) return st;
    pick_instruction(p, &instruction, &instruction_len);
    const size_t fixed = rr_prompt_fixed_ids(p);
    if (max_length < 0 || (lo->mode == RERANK_LONG_DOCS_CHUNK && max_length == 0))
        return rr_error(RERANK_ERR_INVALID_ARGUMENT, "prompt %s: windows need a max_length (got %d)", p->recipe->name,
                        max_length);
    if ((st = check_room(p, max_length))) return st;
    /* The middle with the document and with none, each in full: the
     * document's ids are the first's past their common start (the text
     * before {doc} is the same, and so are its ids up to the piece the
     * document's first characters join). */
    rr_ids_t full = {0}, stem = {0}, mid = {0};
    rerank_encoding_t tmp = {0};
    rr_enc_limit_t lim = {0}; /* with max_tokens_per_doc, the rest is never needed */
    if ((st = middle_ids(p, instruction, instruction_len, query, query_len, "", 0, NULL, &stem))) goto done;
    if (lo->max_tokens_per_doc > 0) lim.max = stem.n + (size_t)lo->max_tokens_per_doc;
    if ((st = middle_ids(p, instruction, instruction_len, query, query_len, doc, doc_len, &lim, &full))) goto done;
    size_t ns = 0;
    while (ns < stem.n && ns < full.n && stem.v[ns] == full.v[ns]) ns++;
    const int32_t *dv = full.v + ns;
    size_t nd = full.n - ns;
    /* Cohere v2's per-document cut comes first, in both modes. */
    if (lo->max_tokens_per_doc > 0 && nd > (size_t)lo->max_tokens_per_doc) nd = (size_t)lo->max_tokens_per_doc;
    prompt_wrap_t w = {p, full.v, ns, &mid, &tmp};
    if (lo->mode == RERANK_LONG_DOCS_TRUNCATE) {
        /* The recipe's own cut: the middle from the right. */
        size_t room = max_length > 0 ? (size_t)max_length - fixed : SIZE_MAX, keep = ns + nd < room ? ns + nd : room;
        if (keep < ns) w.n_stem = keep;
        const size_t kd = keep > ns ? keep - ns : 0;
        rerank_chunk_info_t info = {.n_chunks = 1, .token_end = (int32_t)kd, .doc_tokens = (int32_t)nd};
        st = add_prompt_window(&w, dv, kd, info, out);
        goto done;
    }
    /* Chunks: the instruction and query whole, the document in the room left. */
    if ((size_t)max_length <= fixed + ns) {
        st = rr_error(RERANK_ERR_LIMIT,
                      "chunking: the prompt's %zu fixed ids and its %zu ids before the document (instruction and "
                      "query) leave no room for the document in max_length %d",
                      fixed, ns, max_length);
        goto done;
    }
    st = rr_windows_cut(dv, nd, (size_t)max_length - fixed - ns, lo, add_prompt_window, &w, out);
done:
    rr_ids_release(&full);
    rr_ids_release(&stem);
    rr_ids_release(&mid);
    rerank_encoding_free(&tmp);
    if (st) out->enc.n = out->n = 0;
    return st;
}
