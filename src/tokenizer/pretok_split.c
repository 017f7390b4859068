/* pretok_split.c — the Split and ByteLevel pre-tokenizers of Hugging Face
 * `tokenizers`.
 *
 * Split cuts a piece at the matches of its pattern: a known pattern runs on
 * its dedicated scanner (split_scan.c), any other on regex.c (which refuses
 * \p{..} and lookaround with RERANK_ERR_UNSUPPORTED). Behaviours Isolated
 * (matches and the text between them are words) and Removed (only the text
 * between matches); invert false.
 *
 * ByteLevel optionally prepends a space to each piece that does not start
 * with one (add_prefix_space), splits it with GPT-2's pattern (use_regex),
 * then maps every byte to its printable stand-in char (GPT-2's
 * bytes_to_unicode: bytes ! .. ~, ¡ .. ¬, ® .. ÿ stand for themselves, the
 * other 68 bytes become U+0100 + k in byte order), the alphabet of a
 * byte-level BPE vocabulary. */
#include <string.h>

#include "common/error.h"
#include "common/utf8.h"
#include "tokenizer/internal.h"

rerank_status_t rr_pretok_split_parse(const json_t *j, rr_pretok_t *p) {
    p->kind = RR_PRETOK_SPLIT;
    const json_t *pat = json_object_get(j, "pattern");
    const json_t *str = json_object_get(pat, "String"), *re = json_object_get(pat, "Regex");
    const char *beh = json_string_value(json_object_get(j, "behavior"));
    int invert;
    rerank_status_t st = rr_json_bool(j, "invert", 0, &invert, "Split");
    if (st) return st;
    if (!beh) return rr_error(RERANK_ERR_FORMAT, "tokenizer.json: Split.behavior must be a string");
    if (!strcmp(beh, "Removed")) p->removed = 1;
    else if (strcmp(beh, "Isolated"))
        return rr_error(RERANK_ERR_UNSUPPORTED, "tokenizer.json: Split.behavior \"%s\" is not supported (Isolated, Removed)", beh);
    if (invert) return rr_error(RERANK_ERR_UNSUPPORTED, "tokenizer.json: Split with invert true is not supported");
    if (json_is_string(str)) {
        if (!json_string_length(str)) return rr_error(RERANK_ERR_FORMAT, "tokenizer.json: Split.pattern.String is empty");
        st = rr_regex_compile_literal(json_string_value(str), json_string_length(str), &p->re);
    } else if (json_is_string(re)) {
        p->scan = rr_split_scanner_find(json_string_value(re), json_string_length(re));
        if (!p->scan) st = rr_regex_compile(json_string_value(re), json_string_length(re), &p->re);
    } else {
        return rr_error(RERANK_ERR_FORMAT, "tokenizer.json: Split.pattern must be {\"String\": s} or {\"Regex\": r}");
    }
    if (st) rr_error_prefix("tokenizer.json: Split pre_tokenizer");
    return st;
}

rerank_status_t rr_pretok_byte_level_parse(const json_t *j, rr_pretok_t *p) {
    p->kind = RR_PRETOK_BYTE_LEVEL;
    int use_regex;
    rerank_status_t st;
    if ((st = rr_json_bool(j, "add_prefix_space", 1, &p->add_prefix_space, "ByteLevel")) ||
        (st = rr_json_bool(j, "use_regex", 1, &use_regex, "ByteLevel")))
        return st;
    p->scan = use_regex ? rr_split_scanner_gpt2() : NULL;
    return RERANK_OK;
}

/* One part of a split piece: a word, unless it is an empty part or a
 * dropped match. */
static rerank_status_t part(const char *s, size_t a, size_t b, int first, rr_words_t *out) {
    return b > a ? rr_words_push_text(out, s + a, b - a, first && a == 0) : RERANK_OK;
}

rerank_status_t rr_pretok_split_apply(const rr_pretok_t *p, const char *s, size_t n, int first, rr_words_t *out) {
    rerank_status_t st = RERANK_OK;
    size_t pos = 0;
    if (p->scan) { /* the scanner's matches tile the piece */
        while (!st && pos < n) {
            size_t e = p->scan(s, n, pos);
            if (!p->removed) st = part(s, pos, e, first, out);
            pos = e;
        }
        return st;
    }
    size_t from = 0;
    while (!st && from < n) {
        size_t ms, me;
        int r = rr_regex_find(p->re, s, n, from, &ms, &me);
        if (r < 0) return rr_error(RERANK_ERR_NOMEM, "Split pre_tokenizer: out of memory");
        if (r == 0) break;
        if (me == ms) { /* an empty match cuts nothing: look one char on */
            int len;
            rr_utf8_decode(s, n, ms, &len);
            from = ms + (size_t)len;
            continue;
        }
        st = part(s, pos, ms, first, out);
        if (!st && !p->removed) st = part(s, ms, me, first, out);
        pos = from = me;
    }
    return st ? st : part(s, pos, n, first, out);
}

/* GPT-2's bytes_to_unicode: the stand-in char of byte b, as UTF-8 in out;
 * returns its length (1 or 2). */
static int byte_char(unsigned b, char *out) {
    uint32_t cp = b;
    if (!((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE)) {
        /* the k-th byte outside those ranges, in order: 0..32, 127..160, 173 */
        cp = 0x100 + (b <= 32 ? b : b <= 160 ? b - 127 + 33 : 33 + 34);
    }
    return rr_utf8_encode(cp, out);
}

/* Map the bytes of s[0..n) and push them as one word. */
static rerank_status_t map_word(const char *s, size_t n, int first, rr_words_t *out) {
    size_t base = out->text.n;
    rerank_status_t st = rr_sbuf_reserve(&out->text, 2 * n);
    if (st) return st;
    char *o = out->text.p + base;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char b = (unsigned char)s[i];
        if ((b >= '!' && b <= '~')) o[k++] = (char)b;
        else k += (size_t)byte_char(b, o + k);
    }
    out->text.n = base + k;
    return rr_words_push(out, base, k, first);
}

rerank_status_t rr_pretok_byte_level_apply(const rr_pretok_t *p, const char *s, size_t n, int first, rr_words_t *out) {
    rr_sbuf_t spaced = {0};
    rerank_status_t st = RERANK_OK;
    if (p->add_prefix_space && s[0] != ' ') {
        if ((st = rr_sbuf_append(&spaced, " ", 1)) || (st = rr_sbuf_append(&spaced, s, n))) goto done;
        s = spaced.p;
        n = spaced.n;
    }
    if (!p->scan) {
        st = map_word(s, n, first, out);
        goto done;
    }
    for (size_t pos = 0; !st && pos < n;) {
        size_t e = p->scan(s, n, pos);
        st = map_word(s + pos, e - pos, first && pos == 0, out);
        pos = e;
    }
done:
    rr_sbuf_release(&spaced);
    return st;
}
