/* simt_emu.h — host emulation of one CUDA thread block for kernel bodies written against src/cuda/simt.h
 * (tests/simt_emu.cc): every thread is a fiber; a warp-collective operation (ldmatrix, mma, shuffle) runs
 * when all 32 lanes of the warp reached it, a barrier when all threads of the block did. A warp runs ahead
 * as far as it can before the next warp starts, cp.async copies land only at the wait that covers them
 * (their destination is poisoned with NaN bytes at issue), so a missing barrier or wait shows up as wrong
 * results. Divergent warp operations, misaligned or out-of-range shared-memory addresses, and deadlocks are
 * reported as errors. Single-threaded; not reentrant. */
#ifndef RR_TESTS_SIMT_EMU_H
#define RR_TESTS_SIMT_EMU_H

#include <stddef.h>

#include <functional>

namespace rr_emu {

/* Run body(tid, smem) for threads 0 .. threads-1 (a multiple of 32, <= 1024) of one block with smem_bytes of
 * shared memory (poisoned). `rotate` picks which warp runs first. Returns 0, or -1 with error() set. */
int run_block(int threads, size_t smem_bytes, const std::function<void(int, unsigned char *)> &body, int rotate);
const char *error();

struct counters {
    long warp_ops, barriers, cp_async, blocks;
};
counters stats();

} /* namespace rr_emu */

#endif
