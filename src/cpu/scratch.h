/* scratch.h — large, 64-byte aligned, pre-faulted work buffers that grow
 * (never shrink) and are reused by every forward pass. */
#ifndef RR_ENGINE_SCRATCH_H
#define RR_ENGINE_SCRATCH_H

#include <stddef.h>

#include "rerank.h"

typedef struct rr_buf {
    void *raw;    /* as returned by rr_malloc */
    void *p;      /* aligned start            */
    size_t bytes; /* usable bytes at p        */
} rr_buf_t;

/* Make b hold at least `bytes` (contents are not preserved on growth).
 * New memory is advised for huge pages and touched now, so the forward pass
 * does not pay first-touch page faults. */
rerank_status_t rr_buf_reserve(rr_buf_t *b, size_t bytes, const char *what);
void rr_buf_release(rr_buf_t *b);

#endif
