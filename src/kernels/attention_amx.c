/* attention_amx.c — whether AMX may run here, and the tile shape the AMX
 * attention kernels use (declared in attention_util.h). */
#include <cpuid.h>
#include <immintrin.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kernels/attention_util.h"

/* CPUID leaf 7 EDX: AMX-BF16 (22), AMX-TILE (24), AMX-INT8 (25); XCR0 bits
 * 17-18: the OS saves the tile configuration and data. */
static int amx_probe(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || ((d >> 22) & 0xd) != 0xd) return 0;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return 0; /* OSXSAVE: xgetbv runs */
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if (((lo >> 17) & 3) != 3) return 0;
    /* Linux hands the tile data state to a process only on request
     * (ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18); granted once
     * for the whole process, so asking again is harmless. */
    return syscall(SYS_arch_prctl, 0x1023, 18) == 0;
}

int rr_attn_amx_usable(void) {
    static int state; /* 0 unknown, 1 no, 2 yes; benign race: every thread computes the same value */
    int s = __atomic_load_n(&state, __ATOMIC_ACQUIRE);
    if (!s) {
        s = amx_probe() ? 2 : 1;
        __atomic_store_n(&state, s, __ATOMIC_RELEASE);
    }
    return s == 2;
}

typedef struct amx_config {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} amx_config_t;

/* A static object: gcc's _tile_loadconfig does not tell the compiler it
 * reads the memory, so the stores filling a local one were dropped. */
static const amx_config_t amx_tiles = {
    .palette = 1, .colsb = {64, 64, 64, 64, 64, 64, 64, 64}, .rows = {16, 16, 16, 16, 16, 16, 16, 16}};

__attribute__((target("amx-tile"))) void rr_attn_amx_enter(void) { _tile_loadconfig(&amx_tiles); }

__attribute__((target("amx-tile"))) void rr_attn_amx_leave(void) { _tile_release(); }
