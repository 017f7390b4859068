/* commands.h — the `rerank` subcommands. Each takes argv after the command
 * name (argv[0] is the command name) and returns the process exit code:
 * 0 success, 1 runtime failure, 2 usage error. */
#ifndef RR_CLI_COMMANDS_H
#define RR_CLI_COMMANDS_H

int rr_cmd_tokenize(int argc, char **argv); /* src/cli/cmd_tokenize.c */
int rr_cmd_score(int argc, char **argv);    /* src/cli/cmd_score.c    */
int rr_cmd_bench(int argc, char **argv);    /* src/cli/cmd_bench.c    */
int rr_cmd_serve(int argc, char **argv);    /* src/server/serve_main.c */
int rr_cmd_eval(int argc, char **argv);     /* src/eval/eval_main.c    */
int rr_cmd_pull(int argc, char **argv);     /* src/cli/cmd_pull.c      */

#endif
