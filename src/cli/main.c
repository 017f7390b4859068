/* main.c — `rerank` command-line entry point: dispatches to subcommands. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "rerank.h"

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
} k_commands[] = {
    {"score", rr_cmd_score, "score (query, document) pairs with a cross-encoder"},
    {"tokenize", rr_cmd_tokenize, "print token ids exactly as Hugging Face tokenizers does"},
    {"serve", rr_cmd_serve, "run the HTTP reranking server (TEI / Cohere / Jina APIs)"},
    {"bench", rr_cmd_bench, "measure throughput on standard workloads"},
    {"eval", rr_cmd_eval, "measure ranking quality and speed/quality trade-offs"},
    {"pull", rr_cmd_pull, "download a model from the Hugging Face Hub into the cache"},
};

static void usage(FILE *f) {
    fprintf(f, "rerank %s — cross-encoder reranking engine and server\n\n", rerank_version());
    fprintf(f, "usage: rerank <command> [options]   (rerank <command> --help for details)\n\n");
    fprintf(f, "commands:\n");
    for (size_t i = 0; i < sizeof k_commands / sizeof k_commands[0]; i++)
        fprintf(f, "  %-10s %s\n", k_commands[i].name, k_commands[i].help);
    fprintf(f, "  %-10s %s\n", "version", "print the version");
}

int main(int argc, char **argv) {
    if (argc < 2) { usage(stderr); return 2; }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) { usage(stdout); return 0; }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) { printf("rerank %s\n", rerank_version()); return 0; }
    for (size_t i = 0; i < sizeof k_commands / sizeof k_commands[0]; i++)
        if (!strcmp(cmd, k_commands[i].name)) return k_commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "rerank: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 2;
}
