/* charclass.c — Unicode character classes for the tokenizer module
 * (charclass.h): category lookups through utf8proc, an ASCII table first. */
#include <utf8proc.h>

#include "tokenizer/charclass.h"

/* ASCII: bit 0 letter, bit 1 number, bit 2 word. */
static unsigned char ascii_class(uint32_t c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return 1 | 4;
    if (c >= '0' && c <= '9') return 2 | 4;
    return c == '_' ? 4 : 0;
}

int rr_uc_is_word(uint32_t c) {
    if (c < 0x80) return (ascii_class(c) & 4) != 0;
    switch (utf8proc_category((utf8proc_int32_t)c)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME: case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_PC:
        return 1;
    default: return c == 0x200C || c == 0x200D;
    }
}

int rr_uc_is_letter(uint32_t c) {
    if (c < 0x80) return ascii_class(c) & 1;
    utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)c);
    return k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO;
}

int rr_uc_is_number(uint32_t c) {
    if (c < 0x80) return (ascii_class(c) & 2) != 0;
    utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)c);
    return k >= UTF8PROC_CATEGORY_ND && k <= UTF8PROC_CATEGORY_NO;
}

int rr_cp_in_ranges(const uint32_t (*r)[2], size_t n, uint32_t cp) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cp < r[mid][0]) hi = mid;
        else if (cp > r[mid][1]) lo = mid + 1;
        else return 1;
    }
    return 0;
}
