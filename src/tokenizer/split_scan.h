/* split_scan.h — dedicated scanners for known pre-tokenizer regexes
 * (split_scan.c): the GPT-2 pattern and Qwen2's. */
#ifndef RR_TOKENIZER_SPLIT_SCAN_H
#define RR_TOKENIZER_SPLIT_SCAN_H

#include <stddef.h>

/* End of the pattern's match starting at byte i < n of s (valid UTF-8);
 * these patterns match at every position, never empty. */
typedef size_t (*rr_split_scanner_t)(const char *s, size_t n, size_t i);

/* The scanner of exactly this pattern, or NULL if there is none. */
rr_split_scanner_t rr_split_scanner_find(const char *pattern, size_t n);
/* GPT-2's pattern (ByteLevel's own, use_regex true). */
rr_split_scanner_t rr_split_scanner_gpt2(void);

#endif
