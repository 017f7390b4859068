/* main.c — `rerank` command-line entry point: dispatches to subcommands. */
#include <errno.h>
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

/* stdio keeps a failed write to itself: without this check, `rerank score
 * >out.jsonl` on a full disk (or with stdout closed) loses its lines and
 * still exits 0. A command's output counts only once it is written, so a
 * write error is a run-time failure (exit 1) unless the command already
 * failed. */
static int finish_stdout(int rc) {
    int err = fflush(stdout) ? errno : 0;
    if (!err && !ferror(stdout)) return rc;
    fprintf(stderr, "rerank: cannot write the output: %s\n", err ? strerror(err) : "write error on stdout");
    return rc ? rc : 1;
}

int main(int argc, char **argv) {
    if (argc < 2) { usage(stderr); return 2; }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return finish_stdout(0);
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        printf("rerank %s\n", rerank_version());
        return finish_stdout(0);
    }
    for (size_t i = 0; i < sizeof k_commands / sizeof k_commands[0]; i++)
        if (!strcmp(cmd, k_commands[i].name)) return finish_stdout(k_commands[i].fn(argc - 1, argv + 1));
    fprintf(stderr, "rerank: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 2;
}
