/* test.h — a minimal test harness. Each test binary defines tests with
 * TEST(name) and lists them in main with RUN(name); CHECK records failures
 * without stopping. The binary prints "RESULT passed=P failed=F" for
 * tests/run.sh and exits non-zero if anything failed. */
#ifndef RR_TEST_H
#define RR_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_passed, t_failed, t_cur_failed;
static const char *t_cur_name;

#define TEST(name) static void name(void)

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            t_cur_failed++;                                                          \
            fprintf(stderr, "  FAIL %s (%s:%d): %s\n", t_cur_name, __FILE__, __LINE__, \
                    #cond);                                                          \
        }                                                                            \
    } while (0)

#define CHECK_MSG(cond, ...)                                                         \
    do {                                                                             \
        if (!(cond)) {                                                               \
            t_cur_failed++;                                                          \
            fprintf(stderr, "  FAIL %s (%s:%d): %s: ", t_cur_name, __FILE__, __LINE__, \
                    #cond);                                                          \
            fprintf(stderr, __VA_ARGS__);                                            \
            fputc('\n', stderr);                                                     \
        }                                                                            \
    } while (0)

#define CHECK_NEAR(a, b, tol) \
    CHECK_MSG(fabs((double)(a) - (double)(b)) <= (tol), "%.9g vs %.9g", (double)(a), (double)(b))

/* RERANK_TEST_ONLY=name runs that test alone (the others print SKIP). */
#define RUN(name)                                                      \
    do {                                                               \
        const char *only_ = getenv("RERANK_TEST_ONLY");                \
        if (only_ && *only_ && strcmp(only_, #name)) {                 \
            printf("SKIP %s: RERANK_TEST_ONLY=%s\n", #name, only_);    \
            break;                                                     \
        }                                                              \
        t_cur_name = #name;                                            \
        t_cur_failed = 0;                                              \
        name();                                                        \
        if (t_cur_failed) { t_failed++; printf("not ok %s\n", #name); } \
        else { t_passed++; printf("ok %s\n", #name); }                 \
        fflush(stdout);                                                \
    } while (0)

#define TEST_MAIN_END()                                                \
    do {                                                               \
        printf("RESULT passed=%d failed=%d\n", t_passed, t_failed);    \
        return t_failed ? 1 : 0;                                       \
    } while (0)

/* Root of the shared test data (../shared unless RERANK_SHARED is set). */
static inline const char *t_shared(void) {
    const char *s = getenv("RERANK_SHARED");
    return s && *s ? s : "../shared";
}

#endif
