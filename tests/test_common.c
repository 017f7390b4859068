/* test_common.c — UTF-8 validation, the string map, the fault-injecting allocator, errors, the clock, the file reader. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/file.h"
#include "common/strmap.h"
#include "common/utf8.h"
#include "test.h"

TEST(utf8_valid_accepts_wellformed) {
    CHECK(rr_utf8_valid("", 0, NULL));
    CHECK(rr_utf8_valid("abc", 3, NULL));
    CHECK(rr_utf8_valid("\xc3\xa9", 2, NULL));             /* é */
    CHECK(rr_utf8_valid("\xe2\x96\x81", 3, NULL));         /* ▁ */
    CHECK(rr_utf8_valid("\xf0\x9f\x98\x80", 4, NULL));     /* 😀 */
    CHECK(rr_utf8_valid("\xf4\x8f\xbf\xbf", 4, NULL));     /* U+10FFFF */
    CHECK(rr_utf8_valid("a\0b", 3, NULL));                 /* NUL is valid */
}

TEST(utf8_valid_rejects_malformed) {
    size_t at = 99;
    CHECK(!rr_utf8_valid("ab\xff", 3, &at) && at == 2);
    CHECK(!rr_utf8_valid("\xc0\xaf", 2, NULL));             /* overlong '/' */
    CHECK(!rr_utf8_valid("\xe0\x80\xaf", 3, NULL));         /* overlong 3-byte */
    CHECK(!rr_utf8_valid("\xf0\x80\x80\xaf", 4, NULL));     /* overlong 4-byte */
    CHECK(!rr_utf8_valid("\xed\xa0\x80", 3, NULL));         /* surrogate D800 */
    CHECK(!rr_utf8_valid("\xf4\x90\x80\x80", 4, NULL));     /* > U+10FFFF */
    CHECK(!rr_utf8_valid("\xe2\x96", 2, &at) && at == 0);   /* truncated */
    CHECK(!rr_utf8_valid("\x80", 1, NULL));                 /* lone continuation */
    CHECK(!rr_utf8_valid("\xc3\x28", 2, NULL));             /* bad continuation */
}

TEST(utf8_decode_encode_roundtrip) {
    uint32_t cps[] = {0x41, 0xE9, 0x2581, 0x1F600, 0x10FFFF, 0x7FF, 0x800, 0xFFFF, 0x10000};
    for (size_t i = 0; i < sizeof cps / sizeof *cps; i++) {
        char buf[4];
        int n = rr_utf8_encode(cps[i], buf), len = 0;
        CHECK(rr_utf8_valid(buf, (size_t)n, NULL));
        CHECK(rr_utf8_decode(buf, (size_t)n, 0, &len) == cps[i]);
        CHECK(len == n);
    }
}

TEST(strmap_put_get_grow) {
    rr_strmap_t *m = rr_strmap_new(4);
    CHECK(m != NULL);
    char key[32];
    for (int i = 0; i < 10000; i++) {
        int n = snprintf(key, sizeof key, "key%d", i);
        CHECK(rr_strmap_put(m, key, (size_t)n, i) == RERANK_OK);
    }
    CHECK(rr_strmap_size(m) == 10000);
    int32_t v = -1;
    CHECK(rr_strmap_get(m, "key1234", 7, &v) && v == 1234);
    CHECK(!rr_strmap_get(m, "key10000", 8, &v));
    CHECK(rr_strmap_put(m, "key7", 4, -7) == RERANK_OK && rr_strmap_size(m) == 10000);
    CHECK(rr_strmap_get(m, "key7", 4, &v) && v == -7);
    CHECK(rr_strmap_put(m, "", 0, 42) == RERANK_OK && rr_strmap_get(m, "", 0, &v) && v == 42);
    CHECK(rr_strmap_put(m, "a\0b", 3, 5) == RERANK_OK && rr_strmap_get(m, "a\0b", 3, &v) && v == 5);
    CHECK(!rr_strmap_get(m, "a", 1, &v));
    rr_strmap_free(m);
}

TEST(alloc_fault_injection_fails_exactly_nth) {
    rr_alloc_fail_at(3);
    void *a = rr_malloc(8), *b = rr_malloc(8), *c = rr_malloc(8), *d = rr_malloc(8);
    CHECK(a && b && !c && d);
    CHECK(rr_alloc_failed());
    CHECK(rr_alloc_count() == 4);
    rr_alloc_fail_at(0);
    rr_free(a); rr_free(b); rr_free(d);
    void *e = rr_malloc(8);
    CHECK(e != NULL);
    rr_free(e);
}

/* Weights blocks start on a cache line at every size (glibc puts blocks of
 * 128 KiB and more 16 bytes past a page, where oneDNN's AMX GEMMs run at
 * half speed), on 2 MiB from 2 MiB up; they are written whole and freed by
 * rr_free; fault injection counts them like any allocation. */
TEST(alloc_large_blocks_are_aligned) {
    const size_t sizes[] = {0, 1, 63, 64, 65, 4096, 128 << 10, (1 << 20) + 16, (2 << 20) - 1, 2 << 20, (3 << 20) + 5};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        unsigned char *p = rr_malloc_large(sizes[i]);
        CHECK_MSG(p != NULL, "size %zu", sizes[i]);
        if (!p) continue;
        const uintptr_t align = sizes[i] >= (2u << 20) ? (2u << 20) : 64;
        CHECK_MSG((uintptr_t)p % align == 0, "size %zu at %p: not aligned to %zu", sizes[i], (void *)p, (size_t)align);
        memset(p, 0xab, sizes[i]);
        rr_free(p);
    }
    rr_alloc_fail_at(1);
    CHECK(rr_malloc_large(1 << 20) == NULL && rr_alloc_failed());
    rr_alloc_fail_at(0);
    CHECK(rr_malloc_large((size_t)-1 - 8) == NULL);
}

TEST(strmap_survives_every_allocation_failure) {
    /* Fail allocation N = 1, 2, ... until a run sees no failure: each run
     * must end in a complete map or a clean error, with no leak (ASan). */
    for (unsigned long n = 1;; n++) {
        rr_alloc_fail_at(n);
        rr_strmap_t *m = rr_strmap_new(2);
        int ok = m != NULL;
        char key[16];
        for (int i = 0; ok && i < 200; i++) {
            int k = snprintf(key, sizeof key, "k%d", i);
            ok = rr_strmap_put(m, key, (size_t)k, i) == RERANK_OK;
        }
        int failed = rr_alloc_failed();
        rr_alloc_fail_at(0);
        if (ok) {
            int32_t v;
            CHECK(rr_strmap_size(m) == 200 && rr_strmap_get(m, "k199", 4, &v) && v == 199);
        }
        CHECK(ok == !failed);
        rr_strmap_free(m);
        if (!failed) break;
        CHECK(n < 1000);
        if (n >= 1000) break;
    }
}

TEST(error_messages_are_per_thread_and_prefixable) {
    CHECK(rr_error(RERANK_ERR_FORMAT, "bad %s", "thing") == RERANK_ERR_FORMAT);
    CHECK(!strcmp(rerank_last_error(), "bad thing"));
    rr_error_prefix("file %d", 3);
    CHECK(!strcmp(rerank_last_error(), "file 3: bad thing"));
    CHECK(!strcmp(rerank_status_str(RERANK_ERR_INVALID_UTF8), "invalid_utf8"));
    CHECK(!strcmp(rerank_version(), RERANK_VERSION));
}

TEST(clock_is_monotonic_and_in_seconds) {
    double prev = rr_now_s();
    for (int i = 0; i < 100000; i++) {
        double t = rr_now_s();
        CHECK(t >= prev);
        if (t < prev) break;
        prev = t;
    }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double direct = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9, ours = rr_now_s();
    CHECK_MSG(ours >= direct && ours - direct < 0.5, "rr_now_s %.9f vs CLOCK_MONOTONIC %.9f", ours, direct);
    double a = rr_now_s();
    struct timespec nap = {0, 30 * 1000000L};
    nanosleep(&nap, NULL);
    double dt = rr_now_s() - a;
    CHECK_MSG(dt >= 0.029 && dt < 5.0, "30 ms nap measured as %.6f s", dt);
}

TEST(clock_timespec_converts_and_times_out_a_monotonic_wait) {
    struct timespec ts = rr_clock_timespec(12.25);
    CHECK(ts.tv_sec == 12 && ts.tv_nsec == 250000000L);
    ts = rr_clock_timespec(3.0);
    CHECK(ts.tv_sec == 3 && ts.tv_nsec == 0);
    ts = rr_clock_timespec(-1.0);
    CHECK(ts.tv_sec == 0 && ts.tv_nsec == 0);
    ts = rr_clock_timespec(0.9999999999);
    CHECK(ts.tv_nsec >= 0 && ts.tv_nsec < 1000000000L);
    /* The deadline it gives a CLOCK_MONOTONIC condition variable is honoured. */
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_t cv;
    pthread_cond_init(&cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    double t0 = rr_now_s();
    struct timespec dl = rr_clock_timespec(t0 + 0.05);
    pthread_mutex_lock(&mu);
    int rc = 0;
    while (rc != ETIMEDOUT) rc = pthread_cond_timedwait(&cv, &mu, &dl);
    pthread_mutex_unlock(&mu);
    double waited = rr_now_s() - t0;
    CHECK_MSG(waited >= 0.049 && waited < 5.0, "a 50 ms deadline waited %.6f s", waited);
    pthread_cond_destroy(&cv);
}

/* ---- rr_file_read ---- */
static char g_dir[64];

static void write_file(const char *path, const char *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite(data, 1, n, f);
    fclose(f);
}

TEST(file_read_reads_whole_files) {
    char path[128];
    snprintf(path, sizeof path, "%s/a.txt", g_dir);
    write_file(path, "hello\0world", 11);
    char *buf = NULL;
    size_t len = 99;
    CHECK(rr_file_read(path, 11, &buf, &len) == RERANK_OK); /* exactly at the limit */
    CHECK(buf && len == 11 && !memcmp(buf, "hello\0world", 11) && buf[11] == 0);
    rr_free(buf);
    snprintf(path, sizeof path, "%s/empty", g_dir);
    write_file(path, "", 0);
    CHECK(rr_file_read(path, 0, &buf, &len) == RERANK_OK);
    CHECK(buf && len == 0 && buf[0] == 0);
    rr_free(buf);
}

TEST(file_read_refuses_a_file_over_the_limit_before_allocating) {
    char path[128];
    snprintf(path, sizeof path, "%s/big", g_dir);
    write_file(path, "0123456789", 10);
    char *buf = (char *)1;
    size_t len = 99;
    rr_alloc_fail_at(1000000); /* arms the counter only */
    rerank_status_t st = rr_file_read(path, 9, &buf, &len);
    unsigned long allocs = rr_alloc_count();
    rr_alloc_fail_at(0);
    CHECK(st == RERANK_ERR_LIMIT && buf == NULL && len == 0);
    CHECK_MSG(allocs == 0, "%lu allocations before refusing", allocs);
    CHECK_MSG(strstr(rerank_last_error(), path) && strstr(rerank_last_error(), "10 bytes") &&
                  strstr(rerank_last_error(), "limit of 9"), "%s", rerank_last_error());
}

TEST(file_read_errors_name_the_file_and_the_reason) {
    char path[128];
    char *buf = (char *)1;
    size_t len = 99;
    snprintf(path, sizeof path, "%s/missing.json", g_dir);
    CHECK(rr_file_read(path, 100, &buf, &len) == RERANK_ERR_IO && buf == NULL && len == 0);
    CHECK_MSG(strstr(rerank_last_error(), path) && strstr(rerank_last_error(), strerror(ENOENT)), "%s",
              rerank_last_error());
    CHECK(rr_file_read(g_dir, 1 << 20, &buf, &len) == RERANK_ERR_IO && buf == NULL);
    CHECK_MSG(strstr(rerank_last_error(), "directory"), "%s", rerank_last_error());
    snprintf(path, sizeof path, "%s/fifo", g_dir);
    if (mkfifo(path, 0600) == 0) { /* must not block waiting for a writer */
        CHECK(rr_file_read(path, 100, &buf, &len) == RERANK_ERR_IO && buf == NULL);
        CHECK_MSG(strstr(rerank_last_error(), "not a regular file"), "%s", rerank_last_error());
    } else {
        CHECK_MSG(0, "mkfifo %s: %s", path, strerror(errno));
    }
    CHECK(rr_file_read(NULL, 100, &buf, &len) == RERANK_ERR_INVALID_ARGUMENT && buf == NULL);
    CHECK(rr_file_read("", 100, &buf, &len) == RERANK_ERR_INVALID_ARGUMENT && buf == NULL);
}

static int unreadable_is_reported(const char *path) {
    char *buf = (char *)1;
    size_t len = 99;
    int ok = rr_file_read(path, 100, &buf, &len) == RERANK_ERR_IO && buf == NULL && len == 0 &&
             strstr(rerank_last_error(), strerror(EACCES)) && strstr(rerank_last_error(), path);
    if (!ok) fprintf(stderr, "  unreadable file: %s\n", rerank_last_error());
    return ok;
}

/* Mode 000. Root reads anything, so as root the check runs in a child
 * that first drops to the unprivileged uid/gid 65534. */
TEST(file_read_reports_an_unreadable_file) {
    char path[128];
    snprintf(path, sizeof path, "%s/secret", g_dir);
    write_file(path, "x", 1);
    CHECK(chmod(path, 0) == 0);
    if (geteuid() != 0) {
        CHECK(unreadable_is_reported(path));
    } else {
        pid_t pid = fork();
        if (pid == 0) {
            if (setgid(65534) != 0 || setuid(65534) != 0) _exit(3);
            _exit(unreadable_is_reported(path) ? 0 : 1);
        }
        int ws = 0;
        CHECK_MSG(pid > 0 && waitpid(pid, &ws, 0) == pid, "fork: %s", strerror(errno));
        CHECK_MSG(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "child (uid 65534) exit status %d", WEXITSTATUS(ws));
    }
    chmod(path, 0600);
}

TEST(file_read_survives_allocation_failure) {
    char path[128];
    snprintf(path, sizeof path, "%s/a.txt", g_dir);
    write_file(path, "abc", 3);
    char *buf = (char *)1;
    size_t len = 99;
    rr_alloc_fail_at(1);
    rerank_status_t st = rr_file_read(path, 100, &buf, &len);
    rr_alloc_fail_at(0);
    CHECK(st == RERANK_ERR_NOMEM && buf == NULL && len == 0);
}

int main(void) {
    RUN(utf8_valid_accepts_wellformed);
    RUN(utf8_valid_rejects_malformed);
    RUN(utf8_decode_encode_roundtrip);
    RUN(strmap_put_get_grow);
    RUN(alloc_fault_injection_fails_exactly_nth);
    RUN(alloc_large_blocks_are_aligned);
    RUN(strmap_survives_every_allocation_failure);
    RUN(error_messages_are_per_thread_and_prefixable);
    RUN(clock_is_monotonic_and_in_seconds);
    RUN(clock_timespec_converts_and_times_out_a_monotonic_wait);
    snprintf(g_dir, sizeof g_dir, "/tmp/rr_test_common_XXXXXX");
    if (!mkdtemp(g_dir) || chmod(g_dir, 0755) != 0) {
        fprintf(stderr, "cannot create a temporary directory: %s\n", strerror(errno));
        return 1;
    }
    RUN(file_read_reads_whole_files);
    RUN(file_read_refuses_a_file_over_the_limit_before_allocating);
    RUN(file_read_errors_name_the_file_and_the_reason);
    RUN(file_read_reports_an_unreadable_file);
    RUN(file_read_survives_allocation_failure);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", g_dir);
    TEST_MAIN_END();
}
