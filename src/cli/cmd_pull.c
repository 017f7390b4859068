/* PLACEHOLDER — replaced by the real `rerank pull` implementation. */
#include <stdio.h>

#include "cli/commands.h"

int rr_cmd_pull(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "rerank pull: not implemented yet\n");
    return 2;
}
