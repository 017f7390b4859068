/* PLACEHOLDER — replaced by the real `rerank eval` implementation. */
#include <stdio.h>

#include "cli/commands.h"

int rr_cmd_eval(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "rerank eval: not implemented yet\n");
    return 2;
}
