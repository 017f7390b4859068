#include "server_proc.h"

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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

int sp_start(srvproc_t *s, const char *bin, const char *model, const char **extra, const char **env) {
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    int pfd[2];
    if (pipe(pfd) != 0) return -1;
    const char *argv[64] = {bin, "serve", "--model", model, "--port", "0"};
    int argc = 6;
    for (int i = 0; extra && extra[i] && argc < 63; i++) argv[argc++] = extra[i];
    argv[argc] = NULL;
    s->pid = fork();
    if (s->pid == 0) {
        dup2(pfd[1], 2);
        close(pfd[0]);
        close(pfd[1]);
        for (int i = 0; env && env[i]; i++) putenv((char *)env[i]);
        signal(SIGHUP, SIG_DFL); /* a test runner under nohup: the server still takes SIGHUP (test_server.c) */
        execv(bin, (char **)argv);
        fprintf(stderr, "exec %s failed\n", bin);
        _exit(127);
    }
    close(pfd[1]);
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
    fprintf(stderr, "  server did not become ready; its stderr:\n%s\n", s->log ? s->log : "(nothing)");
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
