/* server_proc.h — run the real `rerank serve` as a child process for the
 * integration tests: start it on a free port, capture its stderr, wait until
 * it is ready, stop it. Shared by test_server.c and test_server_raw.c. */
#ifndef RR_TEST_SERVER_PROC_H
#define RR_TEST_SERVER_PROC_H

#include <pthread.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/clock.h" /* rr_now_s, used with these helpers */

typedef struct srvproc {
    pid_t pid;
    int fd; /* read end of the child's stderr */
    int port;
    char base[64]; /* "http://127.0.0.1:PORT" */
    pthread_t reader;
    pthread_mutex_t mu;
    char *log; /* everything the child wrote to stderr */
    size_t len, cap;
    int eof;
} srvproc_t;

/* Start `BIN serve --model MODEL --port 0 [extra...]` with optional
 * environment settings "NAME=VALUE"; returns 0 once the server says it is
 * ready (within 120 s), else -1 after printing its stderr. */
int sp_start(srvproc_t *s, const char *bin, const char *model, const char **extra, const char **env);
/* Send `sig` (SIGKILL after 30 s); returns the exit status, 128+signal, or -1. */
int sp_stop(srvproc_t *s, int sig);
int sp_alive(srvproc_t *s);
int sp_log_has(srvproc_t *s, const char *needle);
void sp_free(srvproc_t *s);

/* Helpers for tests that run the project's binaries. */
/* The BUILD directory of this test binary (BUILD/tests/NAME), from
 * /proc/self/exe, else from argv0. */
void sp_build_dir(const char *argv0, char *dir, size_t n);
/* Run a shell command; its stdout goes into out (NUL-terminated, cut at
 * cap - 1 bytes, the rest read and dropped; out may be NULL). Returns the
 * exit status, or -1 if it could not run or did not exit. */
int sp_run(const char *cmd, char *out, size_t cap);

#endif
