/* PLACEHOLDER */
#include <stdio.h>
#include "cli/commands.h"
int rr_cmd_score(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "not implemented\n"); return 2; }
