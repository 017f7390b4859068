/* alloc.c — rr_malloc & co. with the fault injection of the tests (see alloc.h). */
#include "alloc.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static atomic_ulong g_fail_at;   /* 0 = disarmed */
static atomic_ulong g_count;     /* allocations since arming */
static atomic_int g_failed;

static int should_fail(void) {
    unsigned long at = atomic_load_explicit(&g_fail_at, memory_order_relaxed);
    if (at == 0) return 0;
    unsigned long n = atomic_fetch_add(&g_count, 1) + 1;
    if (n == at) {
        atomic_store(&g_failed, 1);
        return 1;
    }
    return 0;
}

void *rr_malloc(size_t n) {
    if (should_fail()) return NULL;
    return malloc(n ? n : 1);
}

void *rr_calloc(size_t count, size_t size) {
    if (should_fail()) return NULL;
    if (count == 0 || size == 0) count = size = 1;
    return calloc(count, size);
}

void *rr_realloc(void *p, size_t n) {
    if (should_fail()) return NULL;
    return realloc(p, n ? n : 1);
}

#define RR_HUGE_PAGE ((size_t)2 << 20)

#define RR_CACHE_LINE ((size_t)64)

void *rr_malloc_large(size_t n) {
    if (should_fail()) return NULL;
    const size_t align = n < RR_HUGE_PAGE ? RR_CACHE_LINE : RR_HUGE_PAGE;
    if (n > (size_t)-1 - align) return NULL;
    /* the size rounded up to the alignment (aligned_alloc wants a multiple) */
    const size_t size = ((n ? n : 1) + align - 1) & ~(align - 1);
    void *p = aligned_alloc(align, size);
    if (p && align == RR_HUGE_PAGE) (void)madvise(p, size, MADV_HUGEPAGE); /* advice only: fine if refused */
    return p;
}

void rr_free(void *p) { free(p); }

char *rr_strndup(const char *s, size_t n) {
    char *d = rr_malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

int rr_mul_size(size_t a, size_t b, size_t *out) {
    if (a && b > (size_t)-1 / a) return -1;
    *out = a * b;
    return 0;
}

void rr_alloc_fail_at(unsigned long n) {
    atomic_store(&g_count, 0);
    atomic_store(&g_failed, 0);
    atomic_store(&g_fail_at, n);
}

unsigned long rr_alloc_count(void) { return atomic_load(&g_count); }
int rr_alloc_failed(void) { return atomic_load(&g_failed); }

static void *json_malloc(size_t n) { return rr_malloc(n); }
static void json_free(void *p) { rr_free(p); }

void rr_alloc_init_json(void) { json_set_alloc_funcs(json_malloc, json_free); }
