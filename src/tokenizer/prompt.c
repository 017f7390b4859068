/* prompt.c — LLM reranker prompt recipes (prompt.h): the prefix and suffix
 * ids cached as a one-sequence template around the middle, the middle
 * built from its template and tokenized alone, cut from the right so the
 * suffix is never lost. */
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"
#include "tokenizer/internal.h"
#include "tokenizer/prompt.h"

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

rerank_status_t rr_prompt_encode(const rr_prompt_t *p, const char *instruction, size_t instruction_len,
                                 const char *query, size_t query_len, const char *doc, size_t doc_len,
                                 int32_t max_length, rerank_encoding_t *enc) {
    enc->n = 0;
    if (!instruction) {
        instruction = p->recipe->default_instruction;
        instruction_len = strlen(instruction);
    }
    size_t fixed = rr_prompt_fixed_ids(p);
    if (max_length < 0 || (max_length > 0 && (size_t)max_length <= fixed))
        return rr_error(RERANK_ERR_INVALID_ARGUMENT,
                        "prompt %s: max_length %d leaves no room for the query and document (the prompt's fixed part "
                        "has %zu ids)",
                        p->recipe->name, max_length, fixed);
    rerank_status_t st;
    if ((st = rr_tokenizer_check_text("instruction", instruction, instruction_len)) ||
        (st = rr_tokenizer_check_text("query", query, query_len)) ||
        (st = rr_tokenizer_check_text("document", doc, doc_len)))
        return st;
    const char *val[3] = {instruction, query, doc};
    const size_t len[3] = {instruction_len, query_len, doc_len};
    rr_sbuf_t mid = {0};
    rr_ids_t ids = {0};
    /* the middle's ids past the budget are never needed: Right truncation's
     * early exit stops at the word that reaches it */
    rr_enc_limit_t lim = {.max = max_length > 0 ? (size_t)max_length - fixed : 0};
    if (!(st = build_middle(p->recipe->middle, val, len, &mid))) st = rr_tokenizer_encode(p->tok, mid.p, mid.n, &lim, &ids);
    if (!st) st = rr_template_apply(&p->tpl, ids.v, lim.max && ids.n > lim.max ? lim.max : ids.n, NULL, 0, enc);
    rr_sbuf_release(&mid);
    rr_ids_release(&ids);
    if (st) enc->n = 0;
    return st;
}
