/* split_scan.c — dedicated scanners for the pre-tokenizer regexes real
 * byte-level BPE tokenizers use (the GPT-2 pattern of ByteLevel's use_regex,
 * and Qwen2's Split pattern), each recognised by its exact pattern string.
 *
 * Why scanners and not the Pike VM of regex.c: these patterns need \p{L} /
 * \p{N} classes, a case-insensitive group and a lookahead, and they run on
 * every byte of every text: a hand-written scanner of one alternation is a
 * single pass with one class lookup per char (tokenization must not show in
 * a scoring profile), and its leftmost-first semantics can be checked by
 * reading it against the pattern. Any other pattern goes to regex.c, which
 * refuses what it cannot run (RERANK_ERR_UNSUPPORTED).
 *
 * Semantics are Oniguruma's (what HF tokenizers runs): at each position the
 * alternatives are tried in order, each greedy with backtracking. Both
 * patterns match every char, so matches tile the text; a scanner returns
 * the end of the match that starts at byte i. Classes: \s is Unicode
 * White_Space, \p{L} letters, \p{N} numbers (charclass.h). */
#include <string.h>

#include "common/utf8.h"
#include "tokenizer/charclass.h"
#include "tokenizer/split_scan.h"

enum { K_LETTER = 1, K_NUMBER = 2, K_SPACE = 4, K_NL = 8 /* \r or \n */ };

static int kind(uint32_t c) {
    if (c < 0x80) {
        if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return K_LETTER;
        if (c >= '0' && c <= '9') return K_NUMBER;
        if (c == '\r' || c == '\n') return K_SPACE | K_NL;
        return c == ' ' || (c >= 9 && c <= 13) ? K_SPACE : 0;
    }
    if (rr_uc_is_space(c)) return K_SPACE;
    return rr_uc_is_letter(c) ? K_LETTER : rr_uc_is_number(c) ? K_NUMBER : 0;
}

/* Kind of the char at i (0 past the end) and its length in *len. */
static int kind_at(const char *s, size_t n, size_t i, int *len) {
    if (i >= n) { *len = 0; return -1; }
    if ((unsigned char)s[i] < 0x80) { *len = 1; return kind((unsigned char)s[i]); }
    return kind(rr_utf8_decode(s, n, i, len));
}

/* End of the run of chars whose kind has a bit of `mask` (or, other != 0,
 * chars of no kind at all) starting at i. */
static size_t run_end(const char *s, size_t n, size_t i, int mask, int other) {
    while (i < n) {
        int len, k = kind_at(s, n, i, &len);
        if (other ? k != 0 : !(k & mask)) break;
        i += (size_t)len;
    }
    return i;
}

/* The whitespace alternatives both patterns end with, from a space at i:
 * (qwen: \s*[\r\n]+ first) then \s+(?!\S), then \s+. */
static size_t space_run(const char *s, size_t n, size_t i, int newline_alt) {
    size_t q = i, last_nl = (size_t)-1, last = i;
    int chars = 0;
    while (q < n) {
        int len, k = kind_at(s, n, q, &len);
        if (!(k & K_SPACE)) break;
        if (k & K_NL) last_nl = q;
        last = q;
        chars++;
        q += (size_t)len;
    }
    if (newline_alt && last_nl != (size_t)-1) return last_nl + 1; /* \s*[\r\n]+: up to the last newline */
    if (q == n || chars < 2) return q;                             /* \s+(?!\S) at the end, or \s+ */
    return last;                                                   /* leave the last space to the next word */
}

static int lower_is(const char *s, size_t n, size_t i, char c) {
    return i < n && ((unsigned char)s[i] | 0x20) == (unsigned char)c;
}

/* Qwen2: (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|
 *        ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+ */
static size_t scan_qwen2(const char *s, size_t n, size_t i) {
    int l0, l1;
    int k0 = kind_at(s, n, i, &l0);
    if (s[i] == '\'' && i + 1 < n) {
        /* case-insensitive: Unicode simple case folding also maps U+017F
         * (long s) to s */
        if (lower_is(s, n, i + 1, 's') || lower_is(s, n, i + 1, 't') || lower_is(s, n, i + 1, 'm') ||
            lower_is(s, n, i + 1, 'd'))
            return i + 2;
        if (n - i >= 3 && !memcmp(s + i + 1, "\xC5\xBF", 2)) return i + 3;
        if ((lower_is(s, n, i + 1, 'r') || lower_is(s, n, i + 1, 'v')) && lower_is(s, n, i + 2, 'e')) return i + 3;
        if (lower_is(s, n, i + 1, 'l') && lower_is(s, n, i + 2, 'l')) return i + 3;
    }
    int k1 = kind_at(s, n, i + (size_t)l0, &l1);
    if (!(k0 & (K_LETTER | K_NUMBER | K_NL)) && k1 == K_LETTER)
        return run_end(s, n, i + (size_t)l0, K_LETTER, 0);
    if (k0 == K_LETTER) return run_end(s, n, i, K_LETTER, 0);
    if (k0 == K_NUMBER) return i + (size_t)l0;
    size_t j = s[i] == ' ' ? i + 1 : i;
    int lj;
    if (kind_at(s, n, j, &lj) == 0) return run_end(s, n, run_end(s, n, j, 0, 1), K_NL, 0);
    return space_run(s, n, i, 1);
}

/* GPT-2: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
static size_t scan_gpt2(const char *s, size_t n, size_t i) {
    if (s[i] == '\'' && i + 1 < n) {
        char c = s[i + 1];
        if (c == 's' || c == 't' || c == 'm' || c == 'd') return i + 2;
        if (i + 2 < n && ((c == 'r' && s[i + 2] == 'e') || (c == 'v' && s[i + 2] == 'e') || (c == 'l' && s[i + 2] == 'l')))
            return i + 3;
    }
    size_t j = i;
    int len, k = kind_at(s, n, i, &len);
    if (s[i] == ' ') {
        int k1 = kind_at(s, n, i + 1, &len);
        if (k1 == K_LETTER || k1 == K_NUMBER || k1 == 0) { j = i + 1; k = k1; }
    }
    if (k == K_LETTER || k == K_NUMBER) return run_end(s, n, j, k, 0);
    if (k == 0) return run_end(s, n, j, 0, 1);
    return space_run(s, n, i, 0);
}

static const struct {
    const char *pattern;
    rr_split_scanner_t scan;
} k_scanners[] = {
    {"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|"
     "\\s+(?!\\S)|\\s+",
     scan_qwen2},
    {"'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+", scan_gpt2},
};

rr_split_scanner_t rr_split_scanner_find(const char *pattern, size_t n) {
    for (size_t i = 0; i < sizeof k_scanners / sizeof *k_scanners; i++)
        if (strlen(k_scanners[i].pattern) == n && !memcmp(k_scanners[i].pattern, pattern, n)) return k_scanners[i].scan;
    return NULL;
}

rr_split_scanner_t rr_split_scanner_gpt2(void) { return scan_gpt2; }
