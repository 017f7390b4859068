/* wordpiece.c — Hugging Face's WordPiece model (greedy longest match first)
 * and the whole BERT path (normalize -> pre-tokenize -> WordPiece). */
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/limits.h"
#include "common/strmap.h"
#include "common/utf8.h"
#include "tokenizer/bert.h"

/* A continuing_subword_prefix longer than this is refused (real: "##"). */
#define RR_WP_MAX_PREFIX 64

struct rr_wordpiece {
    rr_strmap_t *vocab;
    int32_t unk_id;
    size_t max_chars;
    size_t max_key; /* longest vocab key in bytes: bounds each match attempt */
    size_t prefix_len;
    char prefix[RR_WP_MAX_PREFIX];
    rr_bert_norm_opts_t norm;
    int pretok; /* 1: BertPreTokenizer, 0: none (whole text is one word) */
};

int rr_wordpiece_lookup(const rr_wordpiece_t *wp, const char *piece, size_t len, int32_t *id) {
    return rr_strmap_get(wp->vocab, piece, len, id);
}

int32_t rr_wordpiece_unk_id(const rr_wordpiece_t *wp) { return wp->unk_id; }

void rr_wordpiece_free(rr_wordpiece_t *wp) {
    if (!wp) return;
    rr_strmap_free(wp->vocab);
    rr_free(wp);
}

rerank_status_t rr_wordpiece_create(const json_t *model, const json_t *normalizer,
                                    const json_t *pre_tokenizer, rr_wordpiece_t **out) {
    *out = NULL;
    if (!json_is_object(model)) return rr_error(RERANK_ERR_FORMAT, "model: expected an object");
    const char *type = json_string_value(json_object_get(model, "type"));
    if (type && strcmp(type, "WordPiece") != 0)
        return rr_error(RERANK_ERR_UNSUPPORTED, "model type %s is not WordPiece", type);

    rr_wordpiece_t *wp = rr_calloc(1, sizeof *wp);
    if (!wp) return rr_error(RERANK_ERR_NOMEM, "wordpiece: out of memory");
    rerank_status_t st = rr_bert_norm_opts_parse(normalizer, &wp->norm);
    if (st) goto fail;

    if (pre_tokenizer && !json_is_null(pre_tokenizer)) {
        const char *pt = json_string_value(json_object_get(pre_tokenizer, "type"));
        if (!json_is_object(pre_tokenizer) || !pt || strcmp(pt, "BertPreTokenizer") != 0) {
            st = rr_error(RERANK_ERR_UNSUPPORTED,
                          "pre_tokenizer type %s not supported on the BERT path",
                          pt ? pt : "(missing)");
            goto fail;
        }
        wp->pretok = 1;
    }

    /* continuing_subword_prefix (default "##") */
    json_t *pj = json_object_get(model, "continuing_subword_prefix");
    const char *prefix = "##";
    size_t plen = 2;
    if (pj && !json_is_null(pj)) {
        if (!json_is_string(pj)) {
            st = rr_error(RERANK_ERR_FORMAT, "WordPiece.continuing_subword_prefix: expected a string");
            goto fail;
        }
        prefix = json_string_value(pj);
        plen = json_string_length(pj);
    }
    if (plen > RR_WP_MAX_PREFIX) {
        st = rr_error(RERANK_ERR_LIMIT, "WordPiece.continuing_subword_prefix longer than %d bytes",
                      RR_WP_MAX_PREFIX);
        goto fail;
    }
    memcpy(wp->prefix, prefix, plen);
    wp->prefix_len = plen;

    /* max_input_chars_per_word (default 100) */
    json_t *mj = json_object_get(model, "max_input_chars_per_word");
    wp->max_chars = 100;
    if (mj && !json_is_null(mj)) {
        if (!json_is_integer(mj) || json_integer_value(mj) < 0) {
            st = rr_error(RERANK_ERR_FORMAT,
                          "WordPiece.max_input_chars_per_word: expected a non-negative integer");
            goto fail;
        }
        wp->max_chars = (size_t)json_integer_value(mj);
    }

    /* vocab: {piece: id} */
    json_t *vocab = json_object_get(model, "vocab");
    if (!json_is_object(vocab)) {
        st = rr_error(RERANK_ERR_FORMAT, "WordPiece.vocab: expected an object");
        goto fail;
    }
    size_t nv = json_object_size(vocab);
    if (nv == 0 || nv > RR_MAX_VOCAB) {
        st = rr_error(nv ? RERANK_ERR_LIMIT : RERANK_ERR_FORMAT,
                      "WordPiece.vocab: %zu entries (must be 1..%d)", nv, RR_MAX_VOCAB);
        goto fail;
    }
    wp->vocab = rr_strmap_new(nv);
    if (!wp->vocab) {
        st = rr_error(RERANK_ERR_NOMEM, "wordpiece: out of memory");
        goto fail;
    }
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)vocab, key, val) {
        if (!json_is_integer(val) || json_integer_value(val) < 0 ||
            json_integer_value(val) >= RR_MAX_VOCAB) {
            st = rr_error(RERANK_ERR_FORMAT, "WordPiece.vocab: bad id for piece \"%.40s\"", key);
            goto fail;
        }
        size_t klen = strlen(key);
        if ((st = rr_strmap_put(wp->vocab, key, klen, (int32_t)json_integer_value(val))))
            goto fail;
        if (klen > wp->max_key) wp->max_key = klen;
    }

    /* unk_token (default "[UNK]") must be in the vocab */
    json_t *uj = json_object_get(model, "unk_token");
    const char *unk = "[UNK]";
    size_t ulen = 5;
    if (uj && !json_is_null(uj)) {
        if (!json_is_string(uj)) {
            st = rr_error(RERANK_ERR_FORMAT, "WordPiece.unk_token: expected a string");
            goto fail;
        }
        unk = json_string_value(uj);
        ulen = json_string_length(uj);
    }
    if (!rr_strmap_get(wp->vocab, unk, ulen, &wp->unk_id)) {
        st = rr_error(RERANK_ERR_FORMAT, "WordPiece: unk_token \"%.40s\" is not in the vocab", unk);
        goto fail;
    }
    *out = wp;
    return RERANK_OK;
fail:
    rr_wordpiece_free(wp);
    return st;
}

static rerank_status_t push_id(int32_t **ids, size_t *n, size_t *cap, int32_t id) {
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        size_t bytes;
        if (nc < *cap || rr_mul_size(nc, sizeof **ids, &bytes))
            return rr_error(RERANK_ERR_LIMIT, "wordpiece: too many tokens");
        int32_t *p = rr_realloc(*ids, bytes);
        if (!p) return rr_error(RERANK_ERR_NOMEM, "wordpiece: out of memory");
        *ids = p;
        *cap = nc;
    }
    (*ids)[(*n)++] = id;
    return RERANK_OK;
}

/* Length in bytes of the UTF-8 char that ends at s[end-1]. */
static size_t last_char_len(const char *s, size_t end) {
    size_t k = 1;
    while (k < end && k < 4 && ((unsigned char)s[end - k] & 0xC0) == 0x80) k++;
    return k;
}

rerank_status_t rr_wordpiece_word(const rr_wordpiece_t *wp, const char *word, size_t len,
                                  int32_t **ids, size_t *n, size_t *cap) {
    if (len == 0) return RERANK_OK;
    /* count chars, stopping as soon as the limit is passed */
    size_t chars = 0;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)word[i] & 0xC0) != 0x80 && ++chars > wp->max_chars)
            return push_id(ids, n, cap, wp->unk_id);

    /* key = prefix + piece; a word has at most max_chars * 4 bytes */
    char stackbuf[512];
    char *key = stackbuf;
    size_t keycap = wp->prefix_len + len;
    if (keycap > sizeof stackbuf) {
        key = rr_malloc(keycap);
        if (!key) return rr_error(RERANK_ERR_NOMEM, "wordpiece: out of memory");
    }
    memcpy(key, wp->prefix, wp->prefix_len);

    size_t n0 = *n;
    rerank_status_t st = RERANK_OK;
    size_t start = 0;
    while (start < len) {
        /* HF starts at the word's end; no piece longer than the longest
         * vocab key can match, so start there instead (same result, and
         * O(chars * max_key^2) instead of O(chars^3) for long words) */
        size_t end = len;
        size_t reach = start > 0 ? wp->max_key - (wp->max_key < wp->prefix_len ? wp->max_key
                                                                                 : wp->prefix_len)
                                 : wp->max_key;
        if (end - start > reach) {
            end = start + reach;
            while (end > start && ((unsigned char)word[end] & 0xC0) == 0x80) end--;
        }
        int32_t id = -1;
        while (start < end) {
            int found;
            if (start > 0) {
                memcpy(key + wp->prefix_len, word + start, end - start);
                found = rr_strmap_get(wp->vocab, key, wp->prefix_len + end - start, &id);
            } else {
                found = rr_strmap_get(wp->vocab, word, end, &id);
            }
            if (found) break;
            id = -1;
            end -= last_char_len(word, end);
        }
        if (id < 0) { /* no piece matches: the whole word is unknown */
            *n = n0;
            st = push_id(ids, n, cap, wp->unk_id);
            break;
        }
        if ((st = push_id(ids, n, cap, id))) break;
        start = end;
    }
    if (key != stackbuf) rr_free(key);
    return st;
}

rerank_status_t rr_wordpiece_encode(const rr_wordpiece_t *wp, const char *text, size_t len,
                                    int32_t **ids, size_t *n, size_t *cap) {
    if (len > RR_MAX_TEXT_BYTES)
        return rr_error(RERANK_ERR_LIMIT, "text of %zu bytes exceeds the limit of %u", len,
                        RR_MAX_TEXT_BYTES);
    char *norm = NULL;
    size_t nlen = 0, ncap = 0;
    rr_bert_span_t *spans = NULL;
    size_t ns = 0, scap = 0;
    rerank_status_t st = rr_bert_normalize(&wp->norm, text, len, &norm, &nlen, &ncap);
    if (!st) {
        if (wp->pretok) {
            st = rr_bert_pretokenize(norm, nlen, &spans, &ns, &scap);
            for (size_t i = 0; !st && i < ns; i++)
                st = rr_wordpiece_word(wp, norm + spans[i].start, spans[i].len, ids, n, cap);
        } else {
            st = rr_wordpiece_word(wp, norm, nlen, ids, n, cap);
        }
    }
    rr_free(spans);
    rr_free(norm);
    return st;
}
