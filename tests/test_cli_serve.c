/* test_cli_serve.c — what `rerank serve` says while it starts (BUILD/rerank
 * as a child process): a port already in use is one clear line, "listening
 * on" comes only once the model is loaded (never when it fails to load),
 * --layers beyond the model stops it up front, and /info reports the
 * compute precision and the device. */
#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "server_proc.h"
#include "test.h"

static char g_bin[PATH_MAX];
static char g_model[PATH_MAX];

/* Run `rerank ARGS` with stdout+stderr captured; the exit status. */
static int run(const char *args, char *out, size_t cap) {
    char cmd[PATH_MAX * 2 + 1024];
    snprintf(cmd, sizeof cmd, "%s %s 2>&1 </dev/null", g_bin, args);
    return sp_run(cmd, out, cap);
}

static int count(const char *hay, const char *needle) {
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

TEST(port_in_use_one_clear_line) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK), .sin_port = 0};
    socklen_t len = sizeof a;
    CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && listen(fd, 1) == 0 &&
          getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    int port = ntohs(a.sin_port);
    char args[PATH_MAX + 64], out[4096], want[256];
    snprintf(args, sizeof args, "serve --model %s --port %d", g_model, port);
    int rc = run(args, out, sizeof out);
    snprintf(want, sizeof want, "rerank serve: cannot listen on 127.0.0.1 port %d: Address already in use\n", port);
    CHECK_MSG(rc == 1 && !strcmp(out, want), "exit %d, output:\n%s", rc, out);
    CHECK(!strstr(out, "Failed to bind") && !strstr(out, "listening"));
    close(fd);
}

TEST(no_listening_before_the_model_is_loaded) {
    char args[PATH_MAX + 64], out[8192];
    /* a model that is not there: never "listening" */
    int rc = run("serve --model /nonexistent/model --port 0", out, sizeof out);
    CHECK_MSG(rc == 1 && !strstr(out, "listening") && strstr(out, "cannot find model"), "exit %d: %s", rc, out);
    /* --layers beyond the model: a usage error once the model says how many it has */
    snprintf(args, sizeof args, "serve --model %s --port 0 --layers 5", g_model);
    rc = run(args, out, sizeof out);
    CHECK_MSG(rc == 2 && !strstr(out, "listening") &&
                  strstr(out, "rerank serve: --layers 5 is out of range: the model has 2 layers (1..2, or 0 for all)"),
              "exit %d: %s", rc, out);
}

static size_t on_body(char *p, size_t sz, size_t n, void *u) {
    strncat(u, p, sz * n < 8000 - strlen(u) ? sz * n : 8000 - strlen(u) - 1);
    return sz * n;
}

/* The order of the start-up lines, then /info's device fields. */
TEST(start_up_lines_and_info) {
    srvproc_t s;
    const char *extra[] = {"--threads", "1", "--precision", "bf16", "--max-length", "8192", NULL};
    const char *env[] = {"DNNL_MAX_CPU_ISA=AVX2", NULL};
    CHECK(sp_start(&s, g_bin, g_model, extra, env) == 0);
    if (!s.port) { sp_stop(&s, SIGKILL); sp_free(&s); return; }
    pthread_mutex_lock(&s.mu);
    const char *log = s.log, *loading = strstr(log, "rerank: loading model "), *listening = strstr(log, "listening on"),
               *note = strstr(log, "rerank serve: bf16 is not available on this CPU: computing in fp32\n"),
               *cap = strstr(log, "rerank serve: --max-length 8192 is more than the model's 512 positions");
    CHECK_MSG(loading && note && cap && listening && loading < note && note < listening && cap < listening,
              "log:\n%s", log);
    CHECK(count(log, "listening on") == 1 && count(log, "is not available") == 1);
    pthread_mutex_unlock(&s.mu);
    char url[128], body[8192] = "";
    snprintf(url, sizeof url, "%s/info", s.base);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, (void *)body);
    CHECK(curl_easy_perform(c) == CURLE_OK);
    curl_easy_cleanup(c);
    json_t *j = json_loads(body, 0, NULL);
    CHECK_MSG(j != NULL, "%s", body);
    const char *prec = json_string_value(json_object_get(j, "precision")),
               *compute = json_string_value(json_object_get(j, "compute")),
               *device = json_string_value(json_object_get(j, "device"));
    CHECK(prec && !strcmp(prec, "bf16") && compute && !strcmp(compute, "fp32") && device && !strcmp(device, "cpu"));
    CHECK(json_is_integer(json_object_get(j, "device_memory_bytes")) &&
          json_integer_value(json_object_get(j, "device_memory_bytes")) == 0);
    CHECK(json_integer_value(json_object_get(j, "max_input_length")) == 512);
    CHECK(json_integer_value(json_object_get(j, "max_batch_tokens")) == 16384); /* the CPU's default */
    json_decref(j);
    CHECK(sp_stop(&s, SIGTERM) == 0);
    sp_free(&s);
}

int main(int argc, char **argv) {
    (void)argc;
    char exe[PATH_MAX - 16];
    sp_build_dir(argv[0], exe, sizeof exe);
    snprintf(g_bin, sizeof g_bin, "%s/rerank", exe);
    snprintf(g_model, sizeof g_model, "%s/fixtures/models/tiny-xlmr", t_shared());
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    RUN(port_in_use_one_clear_line);
    RUN(no_listening_before_the_model_is_loaded);
    RUN(start_up_lines_and_info);
    curl_global_cleanup();
    TEST_MAIN_END();
}
