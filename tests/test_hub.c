/* test_hub.c — `rerank pull` / src/hub against a fake Hub on 127.0.0.1
 * (tests/hub_server.py, standard-library Python): cache layout, reuse,
 * resume with Range, sha256 verification, optional files, redirects to
 * another host without the token, shards, and rr_hub_resolve. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/alloc.h"
#include "hub/hub.h"
#include "test.h"

#define TOKEN "hf_test_token_123"

static char g_tmp[256];      /* scratch root */
static char g_cache[512];    /* HF cache used by most tests */
static char g_log[512];      /* server request log */
static char g_endpoint[128]; /* http://127.0.0.1:PORT */
static char g_models[512];   /* ../shared/fixtures/models */
static char g_work[512];     /* server's synthesized files */
static char g_build[256] = "build";
static pid_t g_server = -1;

/* ---------------------------------------------------------------- helpers */

static unsigned char *read_all(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(sz > 0 ? (size_t)sz : 1);
    *n = b ? fread(b, 1, (size_t)sz, f) : 0;
    fclose(f);
    return b;
}

static int same_file(const char *a, const char *b) {
    size_t na = 0, nb = 0;
    unsigned char *x = read_all(a, &na), *y = read_all(b, &nb);
    int ok = x && y && na == nb && !memcmp(x, y, na);
    free(x);
    free(y);
    return ok;
}

static void sha256_file(const char *path, char hex[65]) {
    size_t n = 0;
    unsigned char *b = read_all(path, &n);
    rr_hub_sha256_hex(b ? b : (unsigned char *)"", b ? n : 0, hex);
    free(b);
}

static int exists(const char *p) {
    struct stat st;
    return lstat(p, &st) == 0;
}

static long long fsize(const char *p) {
    struct stat st;
    return stat(p, &st) ? -1 : (long long)st.st_size;
}

static int log_lines(void) {
    FILE *f = fopen(g_log, "r");
    if (!f) return 0;
    int n = 0, c;
    while ((c = fgetc(f)) != EOF) n += c == '\n';
    fclose(f);
    return n;
}

/* Lines after line `from` starting with `method` and containing every one of
 * the (up to two) substrings. */
static int log_count(int from, const char *method, const char *s1, const char *s2) {
    FILE *f = fopen(g_log, "r");
    if (!f) return 0;
    char line[4096];
    int i = 0, n = 0;
    while (fgets(line, sizeof line, f)) {
        if (i++ < from) continue;
        if (method && strncmp(line, method, strlen(method))) continue;
        if (s1 && !strstr(line, s1)) continue;
        if (s2 && !strstr(line, s2)) continue;
        n++;
    }
    fclose(f);
    return n;
}

static void opts_for(rr_hub_options_t *o, const char *cache) {
    rr_hub_options_init(o);
    o->cache_dir = cache;
    o->endpoint = g_endpoint;
    o->token = TOKEN;
    o->quiet = 1;
    o->progress = 0;
    o->retries = 0;
}

static void rm_rf(const char *p) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", p);
    if (system(cmd)) { }
}

static int start_server(void) {
    int fds[2];
    if (pipe(fds)) return -1;
    g_server = fork();
    if (g_server < 0) return -1;
    if (g_server == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execlp("python3", "python3", "tests/hub_server.py", "--root", g_models, "--work", g_work,
               "--log", g_log, (char *)NULL);
        perror("exec python3");
        _exit(127);
    }
    close(fds[1]);
    char buf[64] = {0};
    size_t k = 0;
    while (k < sizeof buf - 1) {
        ssize_t r = read(fds[0], buf + k, 1);
        if (r <= 0 || buf[k] == '\n') break;
        k++;
    }
    close(fds[0]);
    int port = 0;
    if (sscanf(buf, "PORT %d", &port) != 1) return -1;
    snprintf(g_endpoint, sizeof g_endpoint, "http://127.0.0.1:%d", port);
    return 0;
}

static void stop_server(void) {
    if (g_server > 0) {
        kill(g_server, SIGTERM);
        waitpid(g_server, NULL, 0);
        g_server = -1;
    }
}

/* The commit the fake Hub gives a repo: sha1("ORG/NAME"). */
static void server_commit(const char *repo, char out[41]) {
    char cmd[512], line[128];
    snprintf(cmd, sizeof cmd, "python3 -c 'import hashlib;print(hashlib.sha1(b\"%s\").hexdigest())'", repo);
    FILE *p = popen(cmd, "r");
    out[0] = 0;
    if (p) {
        if (fgets(line, sizeof line, p)) snprintf(out, 41, "%.40s", line);
        pclose(p);
    }
}

/* ------------------------------------------------------------------ tests */

TEST(test_validation) {
    CHECK(rr_hub_valid_repo_id("BAAI/bge-reranker-v2-m3"));
    CHECK(rr_hub_valid_repo_id("cross-encoder/ms-marco-MiniLM-L-6-v2"));
    CHECK(rr_hub_valid_repo_id("bert-base-uncased"));
    CHECK(!rr_hub_valid_repo_id("a/b/c"));
    CHECK(!rr_hub_valid_repo_id("../x"));
    CHECK(!rr_hub_valid_repo_id("a/.."));
    CHECK(!rr_hub_valid_repo_id("a--b/c"));
    CHECK(!rr_hub_valid_repo_id("/abs"));
    CHECK(!rr_hub_valid_repo_id("org/"));
    CHECK(!rr_hub_valid_repo_id("org/na me"));
    CHECK(!rr_hub_valid_repo_id(""));
    CHECK(rr_hub_valid_filename("model-00001-of-00002.safetensors"));
    CHECK(!rr_hub_valid_filename("../evil.safetensors"));
    CHECK(!rr_hub_valid_filename("sub/model.safetensors"));
    CHECK(!rr_hub_valid_filename("..safetensors"));
    CHECK(!rr_hub_valid_filename(".hidden"));
    CHECK(!rr_hub_valid_filename("a\\b"));
    CHECK(!rr_hub_valid_filename(""));
    char hex[65];
    rr_hub_sha256_hex("abc", 3, hex);
    CHECK(!strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    rr_hub_sha256_hex("", 0, hex);
    CHECK(!strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
}

TEST(test_cache_root_env) {
    char out[1024];
    const char *keep_home = getenv("HOME");
    char home[512];
    snprintf(home, sizeof home, "%s", keep_home ? keep_home : "/root");
    unsetenv("HF_HUB_CACHE");
    unsetenv("HUGGINGFACE_HUB_CACHE");
    unsetenv("HF_HOME");
    unsetenv("XDG_CACHE_HOME");
    setenv("HOME", "/home/u", 1);
    CHECK(rr_hub_cache_root(NULL, out, sizeof out) == RERANK_OK);
    CHECK_MSG(!strcmp(out, "/home/u/.cache/huggingface/hub"), "%s", out);
    setenv("XDG_CACHE_HOME", "/xdg", 1);
    rr_hub_cache_root(NULL, out, sizeof out);
    CHECK_MSG(!strcmp(out, "/xdg/huggingface/hub"), "%s", out);
    setenv("HF_HOME", "~/hf", 1);
    rr_hub_cache_root(NULL, out, sizeof out);
    CHECK_MSG(!strcmp(out, "/home/u/hf/hub"), "%s", out);
    setenv("HF_HUB_CACHE", "/c/hub/", 1);
    rr_hub_cache_root(NULL, out, sizeof out);
    CHECK_MSG(!strcmp(out, "/c/hub"), "%s", out);
    rr_hub_cache_root("/override", out, sizeof out);
    CHECK_MSG(!strcmp(out, "/override"), "%s", out);
    unsetenv("HF_HUB_CACHE");
    unsetenv("HF_HOME");
    unsetenv("XDG_CACHE_HOME");
    setenv("HOME", home, 1);
}

/* First pull: files identical to the fixture, HF layout, token only to the
 * endpoint's host, the CDN redirect followed. */
TEST(test_pull_layout) {
    int mark = log_lines();
    rr_hub_options_t o;
    opts_for(&o, g_cache);
    char dir[4096];
    rr_hub_stats_t s;
    rerank_status_t st = rr_hub_pull("test/tiny-bert", &o, dir, sizeof dir, &s);
    CHECK_MSG(st == RERANK_OK, "%s", rerank_last_error());
    if (st) return;
    char commit[41];
    server_commit("test/tiny-bert", commit);
    char want[1024];
    snprintf(want, sizeof want, "%s/models--test--tiny-bert/snapshots/%s", g_cache, commit);
    CHECK_MSG(!strcmp(dir, want), "%s vs %s", dir, want);
    CHECK(!strcmp(s.commit, commit));
    CHECK_MSG(s.files == 5, "files=%d", s.files); /* config, tokenizer, model, 2 optional */
    CHECK(s.downloaded == 5);
    const char *names[] = {"config.json", "tokenizer.json", "model.safetensors",
                           "tokenizer_config.json", "special_tokens_map.json"};
    for (int i = 0; i < 5; i++) {
        char a[8192], b[8192], target[512];
        snprintf(a, sizeof a, "%s/%s", dir, names[i]);
        snprintf(b, sizeof b, "%s/tiny-bert/%s", g_models, names[i]);
        CHECK_MSG(same_file(a, b), "%s differs", names[i]);
        struct stat lst;
        CHECK(lstat(a, &lst) == 0 && S_ISLNK(lst.st_mode));
        ssize_t k = readlink(a, target, sizeof target - 1);
        CHECK(k > 0);
        if (k > 0) {
            target[k] = 0;
            CHECK_MSG(!strncmp(target, "../../blobs/", 12), "%s", target);
        }
    }
    /* vocab.txt is not needed and not fetched */
    char p[8192];
    snprintf(p, sizeof p, "%s/vocab.txt", dir);
    CHECK(!exists(p));
    /* the LFS blob is named by its sha256 */
    char sha[65];
    snprintf(p, sizeof p, "%s/tiny-bert/model.safetensors", g_models);
    sha256_file(p, sha);
    snprintf(p, sizeof p, "%s/models--test--tiny-bert/blobs/%s", g_cache, sha);
    CHECK_MSG(exists(p), "no blob %s", p);
    /* refs/main holds the commit (no newline, like huggingface_hub) */
    size_t n = 0;
    snprintf(p, sizeof p, "%s/models--test--tiny-bert/refs/main", g_cache);
    unsigned char *ref = read_all(p, &n);
    CHECK(ref && n == 40 && !memcmp(ref, commit, 40));
    free(ref);
    /* the lock directory Python uses */
    snprintf(p, sizeof p, "%s/.locks/models--test--tiny-bert", g_cache);
    CHECK(exists(p));
    /* the redirect was followed to the CDN host, without the token; the token
     * went to the endpoint */
    CHECK(log_count(mark, "GET localhost:", "/cdn/test/tiny-bert/model.safetensors", NULL) == 1);
    CHECK(log_count(mark, NULL, "localhost:", "auth=Bearer") == 0);
    CHECK(log_count(mark, NULL, "127.0.0.1:", "auth=-") == 0);
    CHECK(log_count(mark, NULL, "127.0.0.1:", "auth=Bearer_" TOKEN) >= 5);
}

/* Second pull: HEADs only, no body. By commit: no request at all. */
TEST(test_second_pull_noop) {
    rr_hub_options_t o;
    opts_for(&o, g_cache);
    char dir[4096], dir2[4096];
    rr_hub_stats_t s;
    int mark = log_lines();
    CHECK(rr_hub_pull("test/tiny-bert", &o, dir, sizeof dir, &s) == RERANK_OK);
    CHECK(s.downloaded == 0 && s.bytes == 0);
    CHECK_MSG(log_count(mark, "GET", NULL, NULL) == 0, "%d GETs", log_count(mark, "GET", NULL, NULL));
    CHECK(log_count(mark, "HEAD", NULL, NULL) >= 3);
    mark = log_lines();
    char commit[65];
    snprintf(commit, sizeof commit, "%s", s.commit);
    o.revision = commit;
    CHECK(rr_hub_pull("test/tiny-bert", &o, dir2, sizeof dir2, &s) == RERANK_OK);
    CHECK(!strcmp(dir, dir2));
    CHECK(s.used_network == 0);
    CHECK(log_lines() == mark);
    /* offline: from the cache */
    o.revision = NULL;
    o.offline = 1;
    CHECK(rr_hub_pull("test/tiny-bert", &o, dir2, sizeof dir2, &s) == RERANK_OK);
    CHECK(!strcmp(dir, dir2));
    CHECK(log_lines() == mark);
    CHECK(rr_hub_pull("test/tiny-xlmr", &o, dir2, sizeof dir2, &s) != RERANK_OK);
    CHECK(log_lines() == mark);
    /* a snapshot without its tokenizer (Python's AutoModel alone fetches
     * none): offline, the error names the missing file */
    char tok[8192], keep[512];
    snprintf(tok, sizeof tok, "%s/tokenizer.json", dir);
    ssize_t k = readlink(tok, keep, sizeof keep - 1);
    CHECK(k > 0);
    if (k > 0) {
        keep[k] = 0;
        unlink(tok);
        CHECK(rr_hub_pull("test/tiny-bert", &o, dir2, sizeof dir2, &s) == RERANK_ERR_IO);
        CHECK_MSG(strstr(rerank_last_error(), "HF_HUB_OFFLINE") && strstr(rerank_last_error(), "no tokenizer.json"),
                  "%s", rerank_last_error());
        CHECK(symlink(keep, tok) == 0);
    }
    CHECK(log_lines() == mark);
}

/* A transfer cut mid-body leaves blobs/<sha>.incomplete and no snapshot;
 * the next pull resumes with Range and completes. */
TEST(test_interrupt_resume) {
    char cache[600];
    snprintf(cache, sizeof cache, "%s/cache-int", g_tmp);
    rr_hub_options_t o;
    opts_for(&o, cache);
    char dir[4096];
    rr_hub_stats_t s;
    int mark = log_lines();
    rerank_status_t st = rr_hub_pull("interrupt/tiny-bert", &o, dir, sizeof dir, &s);
    CHECK(st == RERANK_ERR_IO);
    CHECK_MSG(strstr(rerank_last_error(), "resume") != NULL, "%s", rerank_last_error());
    char sha[65], p[8192], src[8192];
    snprintf(src, sizeof src, "%s/tiny-bert/model.safetensors", g_models);
    sha256_file(src, sha);
    snprintf(p, sizeof p, "%s/models--interrupt--tiny-bert/blobs/%s.incomplete", cache, sha);
    long long part = fsize(p);
    CHECK_MSG(part > 0 && part < fsize(src), "partial %lld", part);
    snprintf(p, sizeof p, "%s/models--interrupt--tiny-bert/snapshots", cache);
    CHECK(!exists(p));
    /* second pull: Range from where it stopped */
    mark = log_lines();
    st = rr_hub_pull("interrupt/tiny-bert", &o, dir, sizeof dir, &s);
    CHECK_MSG(st == RERANK_OK, "%s", rerank_last_error());
    char range[64];
    snprintf(range, sizeof range, "range=bytes=%lld-", part);
    CHECK(log_count(mark, "GET localhost:", "/cdn/interrupt/tiny-bert/model.safetensors", range) == 1);
    CHECK(s.resumed == (unsigned long long)part);
    /* the rest of the weights + the two small optional files */
    unsigned long long rest = (unsigned long long)(fsize(src) - part);
    CHECK_MSG(s.bytes >= rest && s.bytes < rest + 4096, "%llu vs %llu", (unsigned long long)s.bytes, rest);
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    CHECK(same_file(p, src));
    snprintf(p, sizeof p, "%s/models--interrupt--tiny-bert/blobs/%s.incomplete", cache, sha);
    CHECK(!exists(p));
}

/* With retries, one pull survives the cut (17 MB tokenizer.json and 32 MB
 * weights of tiny-xlmr are both LFS and both cut once). */
TEST(test_interrupt_retry) {
    char cache[600];
    snprintf(cache, sizeof cache, "%s/cache-retry", g_tmp);
    rr_hub_options_t o;
    opts_for(&o, cache);
    o.retries = 2;
    char dir[4096];
    rr_hub_stats_t s;
    int mark = log_lines();
    rerank_status_t st = rr_hub_pull("interrupt/tiny-xlmr", &o, dir, sizeof dir, &s);
    CHECK_MSG(st == RERANK_OK, "%s", rerank_last_error());
    CHECK(log_count(mark, "GET localhost:", "tiny-xlmr/model.safetensors", "range=bytes=") == 1);
    CHECK(log_count(mark, "GET localhost:", "tiny-xlmr/tokenizer.json", "range=bytes=") == 1);
    const char *names[] = {"config.json", "tokenizer.json", "model.safetensors"};
    for (int i = 0; i < 3; i++) {
        char a[8192], b[8192];
        snprintf(a, sizeof a, "%s/%s", dir, names[i]);
        snprintf(b, sizeof b, "%s/tiny-xlmr/%s", g_models, names[i]);
        CHECK_MSG(same_file(a, b), "%s differs", names[i]);
    }
}

/* sha256 mismatch: clear error, corrupt data deleted, no snapshot. */
TEST(test_corrupt) {
    char cache[600];
    snprintf(cache, sizeof cache, "%s/cache-corrupt", g_tmp);
    rr_hub_options_t o;
    opts_for(&o, cache);
    o.retries = 2;
    char dir[4096] = "x";
    rerank_status_t st = rr_hub_pull("corrupt/tiny-bert", &o, dir, sizeof dir, NULL);
    CHECK(st == RERANK_ERR_FORMAT);
    CHECK_MSG(strstr(rerank_last_error(), "sha256 mismatch") && strstr(rerank_last_error(), "model.safetensors"),
              "%s", rerank_last_error());
    CHECK(dir[0] == 0);
    char p[8192], sha[65], src[8192];
    snprintf(p, sizeof p, "%s/models--corrupt--tiny-bert/snapshots", cache);
    CHECK(!exists(p));
    snprintf(src, sizeof src, "%s/tiny-bert/model.safetensors", g_models);
    sha256_file(src, sha);
    snprintf(p, sizeof p, "%s/models--corrupt--tiny-bert/blobs/%s", cache, sha);
    CHECK(!exists(p));
    strcat(p, ".incomplete");
    CHECK(!exists(p));
}

/* A partial download whose kept bytes are wrong (a crash left zeros at its
 * end): the resumed file fails its sha256, and the same pull downloads it
 * again from byte 0 (even with no retries) instead of failing. */
TEST(test_corrupt_partial) {
    char cache[600], src[8192], sha[65], inc[8400], p[8192];
    snprintf(cache, sizeof cache, "%s/cache-stale", g_tmp);
    snprintf(src, sizeof src, "%s/tiny-bert/model.safetensors", g_models);
    sha256_file(src, sha);
    snprintf(p, sizeof p, "%s/models--test--tiny-bert/blobs", cache);
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", p);
    CHECK(system(cmd) == 0);
    snprintf(inc, sizeof inc, "%s/%s.incomplete", p, sha);
    size_t n = 0;
    unsigned char *data = read_all(src, &n);
    CHECK(data && n > 8192);
    if (!data || n <= 8192) { free(data); return; }
    size_t keep = n / 2;
    memset(data + keep - 4096, 0, 4096);
    FILE *f = fopen(inc, "wb");
    CHECK(f && fwrite(data, 1, keep, f) == keep);
    if (f) fclose(f);
    free(data);
    rr_hub_options_t o;
    opts_for(&o, cache);
    char dir[4096];
    rr_hub_stats_t s;
    int mark = log_lines();
    rerank_status_t st = rr_hub_pull("test/tiny-bert", &o, dir, sizeof dir, &s);
    CHECK_MSG(st == RERANK_OK, "%s", rerank_last_error());
    if (st) return;
    char range[64];
    snprintf(range, sizeof range, "range=bytes=%zu-", keep);
    CHECK(log_count(mark, "GET localhost:", "/cdn/test/tiny-bert/model.safetensors", range) == 1);
    CHECK(log_count(mark, "GET localhost:", "/cdn/test/tiny-bert/model.safetensors", "range=-") == 1);
    CHECK_MSG(s.resumed == 0, "resumed %llu", (unsigned long long)s.resumed);
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    CHECK(same_file(p, src));
    CHECK(!exists(inc));
}

TEST(test_optional_missing) {
    rr_hub_options_t o;
    opts_for(&o, g_cache);
    char dir[4096], p[8192];
    rr_hub_stats_t s;
    rerank_status_t st = rr_hub_pull("noopt/tiny-bert", &o, dir, sizeof dir, &s);
    CHECK_MSG(st == RERANK_OK, "%s", rerank_last_error());
    CHECK(s.files == 3);
    snprintf(p, sizeof p, "%s/tokenizer_config.json", dir);
    CHECK(!exists(p));
    snprintf(p, sizeof p, "%s/config.json", dir);
    CHECK(exists(p));
    /* blobs are per repo, as in huggingface_hub: all three downloaded */
    CHECK(s.downloaded == 3);
}

TEST(test_private_token) {
    rr_hub_options_t o;
    opts_for(&o, g_cache);
    o.token = "";
    char dir[4096];
    rerank_status_t st = rr_hub_pull("private/tiny-bert", &o, dir, sizeof dir, NULL);
    CHECK(st == RERANK_ERR_IO);
    CHECK_MSG(strstr(rerank_last_error(), "HF_TOKEN") != NULL, "%s", rerank_last_error());
    /* a token that the Hub refuses: the message blames the token, not its absence */
    o.token = "hf_wrong";
    st = rr_hub_pull("private/tiny-bert", &o, dir, sizeof dir, NULL);
    CHECK(st == RERANK_ERR_IO);
    CHECK_MSG(strstr(rerank_last_error(), "token sent") && !strstr(rerank_last_error(), "set HF_TOKEN"),
              "%s", rerank_last_error());
    /* the token from the environment */
    o.token = NULL;
    setenv("HF_TOKEN", TOKEN, 1);
    int mark = log_lines();
    st = rr_hub_pull("private/tiny-bert", &o, dir, sizeof dir, NULL);
    unsetenv("HF_TOKEN");
    CHECK_MSG(st == RERANK_OK, "%s", rerank_last_error());
    CHECK(log_count(mark, "GET localhost:", "/cdn/private/tiny-bert/model.safetensors", "auth=-") == 1);
    CHECK(log_count(mark, NULL, "localhost:", "auth=Bearer") == 0);
}

TEST(test_sharded) {
    rr_hub_options_t o;
    opts_for(&o, g_cache);
    char dir[4096];
    rr_hub_stats_t s;
    rerank_status_t st = rr_hub_pull("test/tiny-bert-sharded", &o, dir, sizeof dir, &s);
    CHECK_MSG(st == RERANK_OK, "%s", rerank_last_error());
    if (st) return;
    CHECK_MSG(s.files == 7, "files=%d", s.files); /* config, tok, index, 2 shards, 2 optional */
    const char *names[] = {"model.safetensors.index.json", "model-00001-of-00002.safetensors",
                           "model-00002-of-00002.safetensors"};
    for (int i = 0; i < 3; i++) {
        char a[8192], b[8192];
        snprintf(a, sizeof a, "%s/%s", dir, names[i]);
        snprintf(b, sizeof b, "%s/tiny-bert-sharded/%s", g_work, names[i]);
        CHECK_MSG(same_file(a, b), "%s differs", names[i]);
    }
    char p[8192];
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    CHECK(!exists(p));
    char found[4096];
    CHECK(rr_hub_find_cached("test/tiny-bert-sharded", NULL, g_cache, found, sizeof found) == RERANK_OK);
    CHECK(!strcmp(found, dir));
    /* removing a shard makes the snapshot incomplete */
    snprintf(p, sizeof p, "%s/model-00002-of-00002.safetensors", dir);
    char keep[4096];
    ssize_t k = readlink(p, keep, sizeof keep - 1);
    CHECK(k > 0);
    if (k > 0) {
        keep[k] = 0;
        unlink(p);
        CHECK(rr_hub_find_cached("test/tiny-bert-sharded", NULL, g_cache, found, sizeof found) != RERANK_OK);
        /* the message names what is missing */
        CHECK_MSG(strstr(rerank_last_error(), "incomplete: no model-00002-of-00002.safetensors"), "%s",
                  rerank_last_error());
        CHECK(symlink(keep, p) == 0);
    }
}

TEST(test_bad_shard_name) {
    char cache[600];
    snprintf(cache, sizeof cache, "%s/cache-bad", g_tmp);
    rr_hub_options_t o;
    opts_for(&o, cache);
    char dir[4096];
    int mark = log_lines();
    rerank_status_t st = rr_hub_pull("badshard/tiny-bert-sharded", &o, dir, sizeof dir, NULL);
    CHECK(st == RERANK_ERR_FORMAT);
    CHECK_MSG(strstr(rerank_last_error(), "../evil.safetensors") != NULL, "%s", rerank_last_error());
    CHECK(log_count(mark, NULL, "evil", NULL) == 0);
    char p[8192];
    snprintf(p, sizeof p, "%s/models--badshard--tiny-bert-sharded/evil.safetensors", cache);
    CHECK(!exists(p));
    snprintf(p, sizeof p, "%s/models--badshard--tiny-bert-sharded/snapshots", cache);
    CHECK(!exists(p));
}

TEST(test_not_found) {
    rr_hub_options_t o;
    opts_for(&o, g_cache);
    char dir[4096];
    CHECK(rr_hub_pull("test/no-such-model", &o, dir, sizeof dir, NULL) == RERANK_ERR_IO);
    CHECK_MSG(strstr(rerank_last_error(), "401"), "%s", rerank_last_error());
    o.revision = "v9";
    CHECK(rr_hub_pull("test/tiny-bert", &o, dir, sizeof dir, NULL) == RERANK_ERR_IO);
    CHECK_MSG(strstr(rerank_last_error(), "revision 'v9' not found"), "%s", rerank_last_error());
    o.revision = "../../etc";
    CHECK(rr_hub_pull("test/tiny-bert", &o, dir, sizeof dir, NULL) == RERANK_ERR_INVALID_ARGUMENT);
    o.revision = NULL;
    CHECK(rr_hub_pull("../evil", &o, dir, sizeof dir, NULL) == RERANK_ERR_INVALID_ARGUMENT);
    /* unreachable endpoint, nothing cached */
    o.endpoint = "http://127.0.0.1:1";
    CHECK(rr_hub_pull("test/other", &o, dir, sizeof dir, NULL) == RERANK_ERR_IO);
    CHECK_MSG(strstr(rerank_last_error(), "cannot reach"), "%s", rerank_last_error());
    /* unreachable endpoint, cached: falls back to the snapshot */
    char want[4096];
    CHECK(rr_hub_find_cached("test/tiny-bert", NULL, g_cache, want, sizeof want) == RERANK_OK);
    CHECK(rr_hub_pull("test/tiny-bert", &o, dir, sizeof dir, NULL) == RERANK_OK);
    CHECK(!strcmp(dir, want));
    /* a Hub in an outage (503) is treated like an unreachable one: the cached
     * snapshot, else the error with its status */
    char down[256];
    snprintf(down, sizeof down, "%s/down", g_endpoint);
    o.endpoint = down;
    dir[0] = 0;
    CHECK_MSG(rr_hub_pull("test/tiny-bert", &o, dir, sizeof dir, NULL) == RERANK_OK, "%s", rerank_last_error());
    CHECK(!strcmp(dir, want));
    CHECK(rr_hub_pull("test/other", &o, dir, sizeof dir, NULL) == RERANK_ERR_IO);
    CHECK_MSG(strstr(rerank_last_error(), "503"), "%s", rerank_last_error());
}

/* A renamed repo: the Hub answers with a relative redirect (same host, so
 * the token goes along) to the new name. */
TEST(test_relative_redirect) {
    rr_hub_options_t o;
    opts_for(&o, g_cache);
    char dir[4096], commit[41], want[8192];
    int mark = log_lines();
    rerank_status_t st = rr_hub_pull("moved/tiny-bert", &o, dir, sizeof dir, NULL);
    CHECK_MSG(st == RERANK_OK, "%s", rerank_last_error());
    server_commit("test/tiny-bert", commit);
    snprintf(want, sizeof want, "%s/models--moved--tiny-bert/snapshots/%s", g_cache, commit);
    CHECK_MSG(!strcmp(dir, want), "%s", dir);
    CHECK(log_count(mark, "HEAD 127.0.0.1:", "/test/tiny-bert/resolve/main/config.json", "auth=Bearer") == 1);
    snprintf(want, sizeof want, "%s/config.json", dir);
    char src[8192];
    snprintf(src, sizeof src, "%s/tiny-bert/config.json", g_models);
    CHECK(same_file(want, src));
}

/* A cache written by Python's huggingface_hub (same layout, built here by
 * hand) is reused: nothing is downloaded. */
TEST(test_python_cache_reuse) {
    char cache[600], repo[800], p[8192], q[8192], commit[41];
    snprintf(cache, sizeof cache, "%s/cache-py", g_tmp);
    snprintf(repo, sizeof repo, "%s/models--test--tiny-xlmr", cache);
    server_commit("test/tiny-xlmr", commit);
    const char *names[] = {"config.json", "tokenizer.json", "model.safetensors",
                           "tokenizer_config.json", "special_tokens_map.json"};
    /* etags: sha256 for LFS (safetensors, > 10 MB), git blob sha1 otherwise */
    for (int i = 0; i < 5; i++) {
        char src[8192], etag[80], cmd[32768];
        snprintf(src, sizeof src, "%s/tiny-xlmr/%s", g_models, names[i]);
        snprintf(cmd, sizeof cmd,
                 "python3 -c 'import hashlib,sys;d=open(sys.argv[1],\"rb\").read();"
                 "print(hashlib.sha256(d).hexdigest() if sys.argv[2]==\"1\" or len(d)>10485760 "
                 "else hashlib.sha1(b\"blob %%d\\0\"%%len(d)+d).hexdigest())' '%s' %d",
                 src, i == 2);
        FILE *pp = popen(cmd, "r");
        etag[0] = 0;
        if (pp) {
            if (!fgets(etag, sizeof etag, pp)) etag[0] = 0;
            pclose(pp);
        }
        etag[strcspn(etag, "\n")] = 0;
        snprintf(cmd, sizeof cmd,
                 "mkdir -p '%s/blobs' '%s/snapshots/%s' '%s/refs' && cp '%s' '%s/blobs/%s' && "
                 "ln -sf '../../blobs/%s' '%s/snapshots/%s/%s' && printf %%s %s > '%s/refs/main'",
                 repo, repo, commit, repo, src, repo, etag, etag, repo, commit, names[i], commit, repo);
        CHECK(system(cmd) == 0);
    }
    rr_hub_options_t o;
    opts_for(&o, cache);
    char dir[4096];
    rr_hub_stats_t s;
    int mark = log_lines();
    rerank_status_t st = rr_hub_pull("test/tiny-xlmr", &o, dir, sizeof dir, &s);
    CHECK_MSG(st == RERANK_OK, "%s", rerank_last_error());
    CHECK(s.downloaded == 0);
    CHECK(log_count(mark, "GET", NULL, NULL) == 0);
    snprintf(p, sizeof p, "%s/snapshots/%s", repo, commit);
    CHECK(!strcmp(dir, p));
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    snprintf(q, sizeof q, "%s/tiny-xlmr/model.safetensors", g_models);
    CHECK(same_file(p, q));
}

TEST(test_resolve) {
    char out[4096], fixture[1024];
    snprintf(fixture, sizeof fixture, "%s/tiny-bert", g_models);
    CHECK(rr_hub_resolve(fixture, out, sizeof out) == RERANK_OK);
    CHECK(!strcmp(out, fixture));
    CHECK(rr_hub_resolve("no-such-dir", out, sizeof out) == RERANK_ERR_IO);
    CHECK(rr_hub_resolve("./nope/x", out, sizeof out) == RERANK_ERR_IO);
    setenv("HF_HUB_CACHE", g_cache, 1);
    setenv("HF_ENDPOINT", g_endpoint, 1);
    setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1", 1);
    /* cached: no network */
    int mark = log_lines();
    CHECK_MSG(rr_hub_resolve("test/tiny-bert", out, sizeof out) == RERANK_OK, "%s", rerank_last_error());
    CHECK(log_lines() == mark);
    char want[4096];
    CHECK(rr_hub_find_cached("test/tiny-bert", "main", NULL, want, sizeof want) == RERANK_OK);
    CHECK(!strcmp(out, want));
    /* ORG/NAME@COMMIT */
    char commit[41], id[128];
    server_commit("test/tiny-bert", commit);
    snprintf(id, sizeof id, "test/tiny-bert@%s", commit);
    CHECK(rr_hub_resolve(id, out, sizeof out) == RERANK_OK);
    CHECK(!strcmp(out, want));
    /* not cached: downloaded (its "downloading ..." lines on stderr muted) */
    fflush(stderr);
    int saved = dup(2), devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 2);
    rerank_status_t st = rr_hub_resolve("test/tiny-xlmr", out, sizeof out);
    dup2(saved, 2);
    close(saved);
    close(devnull);
    CHECK_MSG(st == RERANK_OK, "%s", rerank_last_error());
    CHECK(log_count(mark, "GET localhost:", "/cdn/test/tiny-xlmr/model.safetensors", NULL) == 1);
    char p[8192], q[8192];
    snprintf(p, sizeof p, "%s/tokenizer.json", out);
    snprintf(q, sizeof q, "%s/tiny-xlmr/tokenizer.json", g_models);
    CHECK(same_file(p, q));
    unsetenv("HF_HUB_CACHE");
    unsetenv("HF_ENDPOINT");
    unsetenv("HF_HUB_DISABLE_PROGRESS_BARS");
}

/* Allocation failures: every failing allocation gives an error, never a
 * crash or a partial snapshot. */
TEST(test_alloc_failures) {
    char cache[600];
    snprintf(cache, sizeof cache, "%s/cache-alloc", g_tmp);
    rr_hub_options_t o;
    opts_for(&o, cache);
    char dir[4096];
    for (unsigned long n = 1; n < 50; n++) {
        rr_alloc_fail_at(n);
        rerank_status_t st = rr_hub_pull("test/tiny-bert-sharded", &o, dir, sizeof dir, NULL);
        int failed = rr_alloc_failed();
        rr_alloc_fail_at(0);
        if (!failed) {
            CHECK(st == RERANK_OK);
            break;
        }
        CHECK_MSG(st != RERANK_OK, "n=%lu", n);
    }
}

/* The CLI: prints the snapshot directory; exit codes. */
TEST(test_cli) {
    char bin[512], cmd[2048], out[4096] = {0};
    snprintf(bin, sizeof bin, "%s/rerank", g_build);
    CHECK_MSG(access(bin, X_OK) == 0, "%s not built", bin);
    snprintf(cmd, sizeof cmd, "HF_TOKEN=%s '%s' pull test/tiny-bert --dir '%s/cache-cli' --endpoint %s --quiet",
             TOKEN, bin, g_tmp, g_endpoint);
    FILE *p = popen(cmd, "r");
    CHECK(p != NULL);
    if (!p) return;
    if (!fgets(out, sizeof out, p)) out[0] = 0;
    int rc = pclose(p);
    CHECK_MSG(rc == 0, "rc=%d", rc);
    out[strcspn(out, "\n")] = 0;
    char commit[41], want[1024];
    server_commit("test/tiny-bert", commit);
    snprintf(want, sizeof want, "%s/cache-cli/models--test--tiny-bert/snapshots/%s", g_tmp, commit);
    CHECK_MSG(!strcmp(out, want), "'%s'", out);
    snprintf(cmd, sizeof cmd, "'%s' pull 2>/dev/null", bin);
    CHECK(WEXITSTATUS(system(cmd)) == 2);
    snprintf(cmd, sizeof cmd, "'%s' pull a/b/c 2>/dev/null", bin);
    CHECK(WEXITSTATUS(system(cmd)) == 2);
    snprintf(cmd, sizeof cmd, "'%s' pull test/nothing --dir '%s/cache-cli' --endpoint %s -q 2>/dev/null",
             bin, g_tmp, g_endpoint);
    CHECK(WEXITSTATUS(system(cmd)) == 1);
}

int main(int argc, char **argv) {
    signal(SIGPIPE, SIG_IGN);
    /* build dir from argv[0] (BUILD/tests/test_hub) */
    if (argc > 0 && strstr(argv[0], "/tests/")) {
        snprintf(g_build, sizeof g_build, "%.*s", (int)(strstr(argv[0], "/tests/") - argv[0]), argv[0]);
    }
    /* a loopback test: no proxy, no ambient credentials or settings */
    const char *unset[] = {"http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy",
                           "ALL_PROXY", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_OFFLINE",
                           "HF_ENDPOINT", "HF_HUB_CACHE", "HF_HOME"};
    for (size_t i = 0; i < sizeof unset / sizeof unset[0]; i++) unsetenv(unset[i]);
    setenv("HF_TOKEN_PATH", "/nonexistent/token", 1);
    snprintf(g_models, sizeof g_models, "%s/fixtures/models", t_shared());
    snprintf(g_tmp, sizeof g_tmp, "/tmp/rr-test-hub-XXXXXX");
    if (!mkdtemp(g_tmp)) { perror("mkdtemp"); return 1; }
    snprintf(g_cache, sizeof g_cache, "%s/cache", g_tmp);
    snprintf(g_log, sizeof g_log, "%s/server.log", g_tmp);
    snprintf(g_work, sizeof g_work, "%s/work", g_tmp);
    if (start_server()) {
        fprintf(stderr, "test_hub: cannot start tests/hub_server.py (python3 needed)\n");
        t_cur_name = "start_server";
        t_failed++;
        stop_server();
        rm_rf(g_tmp);
        TEST_MAIN_END();
    }
    RUN(test_validation);
    RUN(test_cache_root_env);
    RUN(test_pull_layout);
    RUN(test_second_pull_noop);
    RUN(test_interrupt_resume);
    RUN(test_interrupt_retry);
    RUN(test_corrupt);
    RUN(test_corrupt_partial);
    RUN(test_optional_missing);
    RUN(test_private_token);
    RUN(test_sharded);
    RUN(test_bad_shard_name);
    RUN(test_not_found);
    RUN(test_relative_redirect);
    RUN(test_python_cache_reuse);
    RUN(test_resolve);
    RUN(test_alloc_failures);
    RUN(test_cli);
    stop_server();
    if (!getenv("RR_KEEP_TMP")) rm_rf(g_tmp);
    TEST_MAIN_END();
}
