/* wordpiece.c — Hugging Face's WordPiece model (greedy longest match first,
 * "##"-style continuation prefix; a word longer than
 * max_input_chars_per_word chars or with an unmatchable piece becomes the
 * single unk id), plugged into the tokenizer as rr_wordpiece_ops. */
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/limits.h"
#include "common/strmap.h"
#include "common/utf8.h"
#include "tokenizer/tok_model.h"

/* A continuing_subword_prefix longer than this is refused (real: "##"). */
#define RR_WP_MAX_PREFIX 64

struct rr_wordpiece {
    rr_strmap_t *vocab;
    int32_t unk_id;
    size_t max_chars;
    size_t max_key; /* longest vocab key in bytes: bounds each match attempt */
    size_t prefix_len;
    char prefix[RR_WP_MAX_PREFIX];
};

typedef struct rr_wordpiece rr_wordpiece_t;

static void wordpiece_free(void *impl) {
    rr_wordpiece_t *wp = impl;
    if (!wp) return;
    rr_strmap_free(wp->vocab);
    rr_free(wp);
}

static rerank_status_t wordpiece_load(const json_t *model, const rr_vocab_t *pre, void **impl, int32_t *vocab_size) {
    (void)pre;
    *impl = NULL;
    rr_wordpiece_t *wp = rr_calloc(1, sizeof *wp);
    if (!wp) return rr_error(RERANK_ERR_NOMEM, "wordpiece: out of memory");
    rerank_status_t st;
    int32_t max_id = -1;

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
        if (json_integer_value(val) > max_id) max_id = (int32_t)json_integer_value(val);
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
    *impl = wp;
    *vocab_size = max_id + 1;
    return RERANK_OK;
fail:
    wordpiece_free(wp);
    return st;
}

/* Length in bytes of the UTF-8 char that ends at s[end-1]. */
static size_t last_char_len(const char *s, size_t end) {
    size_t k = 1;
    while (k < end && k < 4 && ((unsigned char)s[end - k] & 0xC0) == 0x80) k++;
    return k;
}

static rerank_status_t wordpiece_encode(const void *impl, const char *word, size_t len, rr_ids_t *ids) {
    const rr_wordpiece_t *wp = impl;
    if (len == 0) return RERANK_OK;
    /* count chars, stopping as soon as the limit is passed */
    size_t chars = 0;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)word[i] & 0xC0) != 0x80 && ++chars > wp->max_chars)
            return rr_ids_push(ids, wp->unk_id);

    /* key = prefix + piece; a word has at most max_chars * 4 bytes */
    char stackbuf[512];
    char *key = stackbuf;
    size_t keycap = wp->prefix_len + len;
    if (keycap > sizeof stackbuf) {
        key = rr_malloc(keycap);
        if (!key) return rr_error(RERANK_ERR_NOMEM, "wordpiece: out of memory");
    }
    memcpy(key, wp->prefix, wp->prefix_len);

    size_t n0 = ids->n;
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
            ids->n = n0;
            st = rr_ids_push(ids, wp->unk_id);
            break;
        }
        if ((st = rr_ids_push(ids, id))) break;
        start = end;
    }
    if (key != stackbuf) rr_free(key);
    return st;
}

static int wordpiece_token_id(const void *impl, const char *s, size_t n, int32_t *id) {
    return rr_strmap_get(((const rr_wordpiece_t *)impl)->vocab, s, n, id);
}

const rr_tok_model_ops_t rr_wordpiece_ops = {"WordPiece", wordpiece_load, wordpiece_encode, wordpiece_token_id,
                                             wordpiece_free};
