#include "server_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static void *reader_main(void *p) {
    srvproc_t *s = p;
    char buf[4096];
    for (;;) {
        ssize_t k = read(s->fd, buf, sizeof buf);
        if (k <= 0) break;
        pthread_mutex_lock(&s->mu);
        if (s->len + (size_t)k + 1 > s->cap) {
            s->cap = (s->len + (size_t)k + 1) * 2;
            s->log = realloc(s->log, s->cap);
        }
        memcpy(s->log + s->len, buf, (size_t)k);
        s->len += (size_t)k;
        s->log[s->len] = 0;
        pthread_mutex_unlock(&s->mu);
    }
    pthread_mutex_lock(&s->mu);
    s->eof = 1;
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

int sp_log_has(srvproc_t *s, const char *needle) {
    pthread_mutex_lock(&s->mu);
    int r = s->log && strstr(s->log, needle) != NULL;
    pthread_mutex_unlock(&s->mu);
    return r;
}

/* Servers started and not yet stopped: killed when the test program exits
 * (a test that returns early on a failed check must not leave a server
 * running, holding the runner's output open). */
enum { SP_MAX_LIVE = 64 };
static pthread_mutex_t g_live_mu = PTHREAD_MUTEX_INITIALIZER;
static pid_t g_live[SP_MAX_LIVE];

static void live_kill_all(void) {
    pthread_mutex_lock(&g_live_mu);
    for (int i = 0; i < SP_MAX_LIVE; i++)
        if (g_live[i] > 0) {
            kill(g_live[i], SIGKILL);
            waitpid(g_live[i], NULL, 0);
            g_live[i] = 0;
        }
    pthread_mutex_unlock(&g_live_mu);
}

static void live_set(pid_t old, pid_t pid) {
    static int registered;
    pthread_mutex_lock(&g_live_mu);
    if (!registered) registered = atexit(live_kill_all) == 0;
    for (int i = 0; i < SP_MAX_LIVE; i++)
        if (g_live[i] == old) {
            g_live[i] = pid;
            break;
        }
    pthread_mutex_unlock(&g_live_mu);
}

/* environ with the "NAME=VALUE" settings in env added or replacing theirs
 * (the array only: its strings are environ's and env's). */
static char **env_with(const char **env) {
    size_t n = 0, k = 0;
    while (environ[n]) n++;
    for (int i = 0; env && env[i]; i++) k++;
    char **out = calloc(n + k + 1, sizeof *out);
    if (!out) return NULL;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        int replaced = 0;
        for (size_t j = 0; j < k && !replaced; j++) {
            const char *eq = strchr(env[j], '=');
            size_t len = eq ? (size_t)(eq - env[j]) : strlen(env[j]);
            replaced = !strncmp(environ[i], env[j], len) && environ[i][len] == '=';
        }
        if (!replaced) out[m++] = environ[i];
    }
    for (size_t j = 0; j < k; j++) out[m++] = (char *)env[j];
    out[m] = NULL;
    return out;
}

/* The child is started with posix_spawn, not fork: a child forked from this
 * multi-threaded program would run ThreadSanitizer's interceptors (dup2,
 * close, ...) before its exec, and can deadlock there on a runtime lock
 * another thread held at the fork; posix_spawn's child runs only libc's own
 * code up to the exec. Its stdout and stderr both go to the log pipe, so it
 * never holds the test runner's output open. */
int sp_start(srvproc_t *s, const char *bin, const char *model, const char **extra, const char **env) {
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) != 0) return -1;
    const char *argv[64] = {bin, "serve", "--model", model, "--port", "0"};
    int argc = 6;
    for (int i = 0; extra && extra[i] && argc < 63; i++) argv[argc++] = extra[i];
    argv[argc] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t dflt;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 1); /* dup2 clears O_CLOEXEC on 1 and 2 */
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 2);
    posix_spawnattr_init(&at);
    sigemptyset(&dflt);
    sigaddset(&dflt, SIGHUP); /* a test runner under nohup: the server still takes SIGHUP (test_server.c) */
    posix_spawnattr_setsigdefault(&at, &dflt);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGDEF);
    char **envp = env_with(env);
    pid_t pid = 0;
    int err = envp ? posix_spawn(&pid, bin, &fa, &at, (char *const *)argv, envp) : ENOMEM;
    free(envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(pfd[1]);
    if (err) {
        fprintf(stderr, "  cannot start %s: %s\n", bin, strerror(err));
        close(pfd[0]);
        return -1;
    }
    s->pid = pid;
    live_set(0, pid);
    s->fd = pfd[0];
    pthread_create(&s->reader, NULL, reader_main, s);
    const char *tag = "listening on http://127.0.0.1:";
    double end = rr_now_s() + 120;
    while (rr_now_s() < end) {
        pthread_mutex_lock(&s->mu);
        const char *l = s->log ? strstr(s->log, tag) : NULL;
        if (l && !s->port) s->port = atoi(l + strlen(tag));
        int ready = s->log && strstr(s->log, "rerank: ready") != NULL;
        int eof = s->eof;
        pthread_mutex_unlock(&s->mu);
        if (s->port && ready) {
            snprintf(s->base, sizeof s->base, "http://127.0.0.1:%d", s->port);
            return 0;
        }
        if (eof) break;
        usleep(10000);
    }
    /* not ready: no server is left behind (killed, reaped, its log kept) */
    sp_stop(s, SIGKILL);
    s->port = 0;
    fprintf(stderr, "  server did not become ready; its output:\n%s\n", s->log ? s->log : "(nothing)");
    return -1;
}

int sp_alive(srvproc_t *s) { return s->pid > 0 && waitpid(s->pid, NULL, WNOHANG) == 0; }

int sp_stop(srvproc_t *s, int sig) {
    if (s->pid <= 0) return -1;
    kill(s->pid, sig);
    int st = 0;
    double end = rr_now_s() + 30;
    pid_t w = 0;
    while ((w = waitpid(s->pid, &st, WNOHANG)) == 0 && rr_now_s() < end) usleep(10000);
    if (w == 0) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, &st, 0);
        st = -1;
    }
    pthread_join(s->reader, NULL);
    close(s->fd);
    live_set(s->pid, 0);
    s->pid = 0;
    return w <= 0 || st == -1 ? -1 : (WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
}

void sp_free(srvproc_t *s) {
    free(s->log);
    s->log = NULL;
}

void sp_build_dir(const char *argv0, char *dir, size_t n) {
    char exe[PATH_MAX];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (k <= 0) { snprintf(exe, sizeof exe, "%s", argv0); k = (ssize_t)strlen(exe); }
    exe[k] = 0;
    for (int i = 0; i < 2; i++) { /* drop /NAME, then /tests */
        char *slash = strrchr(exe, '/');
        if (slash) *slash = 0;
    }
    snprintf(dir, n, "%s", exe);
}

int sp_run(const char *cmd, char *out, size_t cap) {
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    if (out && cap) {
        size_t k = fread(out, 1, cap - 1, p);
        out[k] = 0;
    }
    char sink[4096];
    while (fread(sink, 1, sizeof sink, p) > 0) { }
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
