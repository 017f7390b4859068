/* test_grpc.c — TEI's gRPC API of the real `rerank serve --grpc-port 0` (tiny-xlmr, --api-key), driven by a real
 * client: tests/python/grpc_client.py with Debian's python3-grpcio, stubs generated from proto/ at test time
 * (a second model, bert=tiny-bert, is picked by the metadata "model").
 * A --long-docs chunk server scores long texts in windows over gRPC too (grpc_client.py --long).
 * Also: --grpc-port on a port in use is one clear line, exit 1; SIGTERM still exits 0 after the gRPC traffic. */
#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server_proc.h"
#include "test.h"

static char g_bin[PATH_MAX], g_model[PATH_MAX];
static srvproc_t S;
static int g_grpc_port;

static int grpc_port_of(srvproc_t *srv) {
    pthread_mutex_lock(&srv->mu);
    const char *tag = "rerank: gRPC (tei.v1) on 127.0.0.1:";
    const char *l = srv->log ? strstr(srv->log, tag) : NULL;
    int port = l ? atoi(l + strlen(tag)) : 0;
    pthread_mutex_unlock(&srv->mu);
    return port;
}

TEST(server_starts_with_grpc) {
    static char bert[PATH_MAX + 8];
    snprintf(bert, sizeof bert, "bert=%s/fixtures/models/tiny-bert", t_shared());
    const char *extra[] = {"--model", bert, "--grpc-port", "0", "--api-key", "sekret", "--threads", "1",
                           "--max-docs", "16", "--max-text-bytes", "64K", "--no-access-log", NULL};
    CHECK(sp_start(&S, g_bin, g_model, extra, NULL) == 0);
    g_grpc_port = grpc_port_of(&S);
    CHECK_MSG(g_grpc_port > 0 && g_grpc_port != S.port, "gRPC port %d", g_grpc_port);
}

/* Run tests/python/grpc_client.py [--long] against a server; its output into out. */
static int run_client(const srvproc_t *srv, int grpc_port, const char *flags, char *out, size_t cap) {
    char out_dir[] = "/tmp/rr_grpc_XXXXXX";
    if (!mkdtemp(out_dir)) return -1;
    const char *python = getenv("RERANK_PYTHON");
    if (!python || !*python) python = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
    char cmd[PATH_MAX + 512];
    snprintf(cmd, sizeof cmd,
             "%s tests/python/grpc_client.py --grpc %d --http %d --key sekret --proto proto --out %s %s 2>&1",
             python, grpc_port, srv->port, out_dir, flags);
    int rc = sp_run(cmd, out, cap);
    printf("%s", out);
    snprintf(cmd, sizeof cmd, "rm -rf %s", out_dir);
    sp_run(cmd, NULL, 0);
    return rc;
}

TEST(python_grpc_client) {
    char out[32768];
    int rc = run_client(&S, g_grpc_port, "", out, sizeof out);
    CHECK_MSG(rc == 0 && strstr(out, "RESULT grpc_client failed=0"), "grpc_client.py exit %d", rc);
    /* the TEI conformance checks ran and passed (not skipped by an older client) */
    const char *must[] = {"ok rerank_compute_chars", "ok stream_query_each_message", "ok stream_query_mismatch",
                          "ok truncation_direction_Left", "ok truncation_direction_matters", "ok nul_in_text",
                          "ok info_by_model", "ok health_unknown_service"};
    for (size_t i = 0; i < sizeof must / sizeof must[0]; i++) CHECK_MSG(strstr(out, must[i]), "missing: %s", must[i]);
}

/* A --long-docs chunk server scores long texts in windows over gRPC as over
 * HTTP (it used to truncate them there), and counts only accepted texts. */
TEST(grpc_chunks_long_texts) {
    srvproc_t L;
    const char *extra[] = {"--grpc-port", "0", "--api-key", "sekret", "--threads", "1", "--max-length", "48",
                           "--long-docs", "chunk", "--chunk-tokens", "16", "--chunk-overlap", "4",
                           "--max-queue-pairs", "32", "--max-docs", "16", "--no-access-log", NULL};
    CHECK(sp_start(&L, g_bin, g_model, extra, NULL) == 0);
    int port = L.pid ? grpc_port_of(&L) : 0;
    if (port > 0) {
        char out[32768];
        int rc = run_client(&L, port, "--long", out, sizeof out);
        CHECK_MSG(rc == 0 && strstr(out, "RESULT grpc_client failed=0"), "grpc_client.py --long exit %d", rc);
        const char *must[] = {"ok long_text_chunked", "ok long_text_not_truncated", "ok long_too_many_windows",
                              "ok long_refused_not_counted"};
        for (size_t i = 0; i < sizeof must / sizeof must[0]; i++) CHECK_MSG(strstr(out, must[i]), "missing: %s", must[i]);
    }
    CHECK(port > 0 && sp_stop(&L, SIGTERM) == 0);
    sp_free(&L);
}

TEST(grpc_port_in_use) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK), .sin_port = 0};
    socklen_t len = sizeof a;
    CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && listen(fd, 1) == 0 &&
          getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    char cmd[PATH_MAX * 2 + 128], out[8192], want[128];
    snprintf(cmd, sizeof cmd, "%s serve --model %s --port 0 --grpc-port %d 2>&1 </dev/null", g_bin, g_model,
             ntohs(a.sin_port));
    int rc = sp_run(cmd, out, sizeof out);
    snprintf(want, sizeof want, "rerank serve: cannot listen for gRPC on 127.0.0.1:%d", ntohs(a.sin_port));
    CHECK_MSG(rc == 1 && strstr(out, want) && !strstr(out, "listening"), "exit %d: %s", rc, out);
    close(fd);
    /* a bad value is a usage error */
    snprintf(cmd, sizeof cmd, "%s serve --model %s --grpc-port 70000 2>&1 </dev/null", g_bin, g_model);
    rc = sp_run(cmd, out, sizeof out);
    CHECK_MSG(rc == 2 && strstr(out, "--grpc-port: '70000' is out of range"), "exit %d: %s", rc, out);
}

TEST(clean_exit) {
    CHECK(sp_alive(&S));
    CHECK(sp_stop(&S, SIGTERM) == 0);
    CHECK(sp_log_has(&S, "rerank: stopped"));
}

int main(int argc, char **argv) {
    (void)argc;
    char exe[PATH_MAX - 16];
    sp_build_dir(argv[0], exe, sizeof exe);
    snprintf(g_bin, sizeof g_bin, "%s/rerank", exe);
    snprintf(g_model, sizeof g_model, "%s/fixtures/models/tiny-xlmr", t_shared());
    signal(SIGPIPE, SIG_IGN);
    RUN(server_starts_with_grpc);
    if (g_grpc_port > 0) RUN(python_grpc_client);
    RUN(grpc_chunks_long_texts);
    RUN(grpc_port_in_use);
    RUN(clean_exit);
    sp_free(&S);
    TEST_MAIN_END();
}
