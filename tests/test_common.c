/* test_common.c — UTF-8 validation, the string map, the fault-injecting allocator, errors. */
#include "common/alloc.h"
#include "common/error.h"
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

int main(void) {
    RUN(utf8_valid_accepts_wellformed);
    RUN(utf8_valid_rejects_malformed);
    RUN(utf8_decode_encode_roundtrip);
    RUN(strmap_put_get_grow);
    RUN(alloc_fault_injection_fails_exactly_nth);
    RUN(strmap_survives_every_allocation_failure);
    RUN(error_messages_are_per_thread_and_prefixable);
    TEST_MAIN_END();
}
