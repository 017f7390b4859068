/* utf8.h — strict UTF-8 validation and decoding (RFC 3629: no overlongs,
 * no surrogates, nothing above U+10FFFF). */
#ifndef RR_UTF8_H
#define RR_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Returns 1 if s[0..n) is valid UTF-8; otherwise 0 and, if bad_at is not
 * NULL, the byte offset of the first invalid sequence. */
int rr_utf8_valid(const char *s, size_t n, size_t *bad_at);

/* Decode one code point at s[i] (s must be valid UTF-8 and i < n); returns
 * the code point and stores its byte length in *len. */
uint32_t rr_utf8_decode(const char *s, size_t n, size_t i, int *len);

/* Encode cp into out (at least 4 bytes); returns the byte length (1-4). */
int rr_utf8_encode(uint32_t cp, char *out);

#endif
