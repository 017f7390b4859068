/* PLACEHOLDER — replaced by the real `rerank bench` implementation. */
#include <stdio.h>

#include "cli/commands.h"

int rr_cmd_bench(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "rerank bench: not implemented yet\n");
    return 2;
}
