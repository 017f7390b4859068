/* PLACEHOLDER — replaced by the real `rerank serve` implementation. */
#include <stdio.h>

#include "cli/commands.h"

int rr_cmd_serve(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "rerank serve: not implemented yet\n");
    return 2;
}
