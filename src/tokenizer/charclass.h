/* charclass.h — Unicode character classes the tokenizer module shares: the
 * whitespace set of Rust's char::is_whitespace (= regex \s and Oniguruma's
 * Unicode \s), \w, the \p{L} / \p{N} letter and number classes, and range
 * tables. */
#ifndef RR_TOKENIZER_CHARCLASS_H
#define RR_TOKENIZER_CHARCLASS_H

#include <stddef.h>
#include <stdint.h>

/* Unicode White_Space: \t \n \v \f \r, space, U+0085, U+00A0, U+1680,
 * U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000. */
static inline int rr_uc_is_space(uint32_t c) {
    if (c < 0x80) return c == ' ' || (c >= 9 && c <= 13);
    return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
           c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/* Regex \w: Alphabetic-ish (letters, marks, Nd, Nl, Pc) and the joiners. */
int rr_uc_is_word(uint32_t c);

/* \p{L} (Lu Ll Lt Lm Lo) and \p{N} (Nd Nl No), from utf8proc's tables. */
int rr_uc_is_letter(uint32_t c);
int rr_uc_is_number(uint32_t c);

/* 1 if cp lies in one of the n sorted, disjoint [lo, hi] ranges of r
 * (binary search). */
int rr_cp_in_ranges(const uint32_t (*r)[2], size_t n, uint32_t cp);

#endif
