/* alloc.h — the one allocator every module uses, so tests can inject faults.
 *
 * rr_malloc & co. behave like their libc namesakes. A test may arm fault
 * injection with rr_alloc_fail_at(n): the n-th allocation from then on (1 =
 * the next one) returns NULL, once. rr_alloc_count() reports how many
 * allocations were attempted since arming, so a test can loop n = 1, 2, ...
 * until a run completes without reaching the armed allocation.
 * Allocations made by third-party libraries (jansson, oneDNN) are not
 * counted, except jansson's, which is routed here by rr_alloc_init_json():
 * the server, the eval tool and the tests that fail the library's loads
 * call it; librerank itself never does, as jansson's allocator is global
 * and belongs to the program that embeds the library. Arming does not route
 * it either: jansson 2.14 corrupts its heap on some failed allocations in
 * its lexer, so a test that fails only its own allocations (test_hub's,
 * test_eval_metrics' parsers) leaves jansson on libc's allocator. */
#ifndef RR_ALLOC_H
#define RR_ALLOC_H

#include <stddef.h>

void *rr_malloc(size_t n);
void *rr_calloc(size_t count, size_t size);
void *rr_realloc(void *p, size_t n);
void rr_free(void *p);
char *rr_strndup(const char *s, size_t n);
/* As rr_malloc, for a large block written once and kept (a layer's weights):
 * aligned to a cache line (64 bytes) whatever its size, and from 2 MiB up
 * to 2 MiB and backed by transparent huge pages where the kernel allows, so
 * filling it takes one page fault per 2 MiB instead of one per 4 KiB. The
 * alignment matters for speed: glibc's malloc returns blocks from 128 KiB up
 * 16 bytes past a page, and oneDNN's AMX int8 GEMM reading its weights from
 * such a block runs at half its rate (every 64-byte tile row straddles two
 * cache lines; README, "Weights aligned to a cache line"). Freed with
 * rr_free. */
void *rr_malloc_large(size_t n);

/* Multiply with overflow check: returns 0 and sets *out, or -1 on overflow. */
int rr_mul_size(size_t a, size_t b, size_t *out);

/* Fault injection (tests only). n = 0 disarms. */
void rr_alloc_fail_at(unsigned long n);
unsigned long rr_alloc_count(void);
int rr_alloc_failed(void); /* 1 if the armed allocation has failed */

/* Route jansson's allocations through rr_malloc/rr_free (idempotent). For
 * programs and tests only, never from library code (see above). */
void rr_alloc_init_json(void);

#endif
