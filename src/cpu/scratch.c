/* scratch.c — aligned, pre-faulted, grow-only buffers. */
#include "cpu/scratch.h"

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "common/alloc.h"
#include "common/error.h"

#define ALIGN 64
#define HUGE_PAGE ((size_t)2 << 20)

rerank_status_t rr_buf_reserve(rr_buf_t *b, size_t bytes, const char *what) {
    if (bytes <= b->bytes) return RERANK_OK;
    /* Grow by at least 1/4 so a slowly rising batch size re-faults rarely. */
    size_t want = bytes + bytes / 4;
    if (want < bytes || want > SIZE_MAX - HUGE_PAGE - ALIGN)
        return rr_error(RERANK_ERR_LIMIT, "scratch buffer %s: %zu bytes is too large", what, bytes);
    rr_buf_release(b);
    size_t total = want + (want >= HUGE_PAGE ? HUGE_PAGE : ALIGN);
    void *raw = rr_malloc(total);
    if (!raw) return rr_error(RERANK_ERR_NOMEM, "out of memory for scratch buffer %s (%zu bytes)", what, want);
    size_t al = want >= HUGE_PAGE ? HUGE_PAGE : ALIGN;
    uintptr_t p = ((uintptr_t)raw + al - 1) & ~(uintptr_t)(al - 1);
    if (al == HUGE_PAGE) madvise((void *)p, want & ~(HUGE_PAGE - 1), MADV_HUGEPAGE);
    memset((void *)p, 0, want); /* pre-fault */
    b->raw = raw;
    b->p = (void *)p;
    b->bytes = want;
    return RERANK_OK;
}

void rr_buf_release(rr_buf_t *b) {
    rr_free(b->raw);
    memset(b, 0, sizeof *b);
}
