/* instruction.h — the task instruction of an LLM reranker's prompt in the
 * commands (score, tokenize, eval, serve): the --instruction option, its
 * check against the model (a cross-encoder takes none) and the per-line
 * "instruction" field of JSONL input. Header-only, as model_notes.h: eval
 * and serve live in the app library, the other commands in the binary. */
#ifndef RR_CLI_INSTRUCTION_H
#define RR_CLI_INSTRUCTION_H

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "rerank.h"

#define RR_CLI_OPT_INSTRUCTION(dst)                                                                                \
    {"--instruction", RR_CLI_STR, (dst), "S",                                                                      \
     "task instruction of an LLM reranker's prompt (Qwen3-Reranker; default: the\nmodel card's); "                 \
     "a cross-encoder takes none", 0, 0}

/* --instruction S given to a model without a prompt recipe: why, and -1. */
static inline int rr_cli_check_instruction(const char *cmd, const rerank_model_info_t *mi, const char *instruction) {
    if (!instruction || mi->prompt[0]) return 0;
    fprintf(stderr, "rerank %s: --instruction: %s is a cross-encoder: it takes no instruction (only LLM rerankers "
                    "such as Qwen3-Reranker do)\n", cmd, mi->architecture);
    return -1;
}

/* Set po's instruction from --instruction (NULL: the model's default). */
static inline void rr_cli_set_instruction(rerank_pair_options_t *po, const char *instruction) {
    po->instruction = instruction;
    po->instruction_len = instruction ? strlen(instruction) : 0;
}

/* A JSONL line's "instruction" (absent or null: base's) into *out; -1 with a
 * message in err when it is not a string. */
static inline int rr_cli_line_instruction(json_t *obj, const rerank_pair_options_t *base, rerank_pair_options_t *out,
                                          char *err, size_t err_n) {
    *out = *base;
    json_t *ins = json_object_get(obj, "instruction");
    if (!ins || json_is_null(ins)) return 0;
    if (!json_is_string(ins)) {
        snprintf(err, err_n, "\"instruction\" must be a string");
        return -1;
    }
    out->instruction = json_string_value(ins);
    out->instruction_len = json_string_length(ins);
    return 0;
}

#endif
