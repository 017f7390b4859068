/* bert_normalizer.c — Hugging Face's BertNormalizer.
 *
 * Stages, in HF's order, each over the whole output of the previous one:
 *   1. clean_text: drop U+0000, U+FFFD and "control" chars (HF: any char of
 *      general category Cc, Cf, Cn, Co or Cs, except \t \n \r); then map
 *      whitespace (\t \n \r or Rust char::is_whitespace) to ' '.
 *   2. handle_chinese_chars: ' ' c ' ' for c in HF's CJK ideograph ranges.
 *   3. strip_accents: NFD, then drop nonspacing marks (Mn).
 *   4. lowercase: Rust char::to_lowercase (full mapping: U+0130 -> "i\u0307").
 * The stages are fused into one streaming pass: stages 1, 2 and 4 are
 * per-char maps; stage 3's only cross-char effect is NFD's canonical
 * reordering, done on the fly per run of non-starters. Dropping Mn before
 * that reordering instead of after gives the same result (a stable sort
 * keeps the relative order of any subset), and keeps the run to sort tiny.
 */
#include <string.h>
#include <utf8proc.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/utf8.h"
#include "tokenizer/bert.h"

/* ---- growable output ---------------------------------------------------- */

typedef struct {
    char **buf;
    size_t *n, *cap;
} outbuf_t;

static rerank_status_t out_reserve(outbuf_t *o, size_t extra) {
    if (*o->cap - *o->n >= extra) return RERANK_OK;
    size_t need = *o->n + extra;
    if (need < *o->n) return rr_error(RERANK_ERR_LIMIT, "bert normalizer: output too large");
    size_t nc = *o->cap ? *o->cap : 64;
    while (nc < need) {
        if (nc > ((size_t)-1) / 2) { nc = need; break; }
        nc *= 2;
    }
    char *p = rr_realloc(*o->buf, nc);
    if (!p) return rr_error(RERANK_ERR_NOMEM, "bert normalizer: out of memory");
    *o->buf = p;
    *o->cap = nc;
    return RERANK_OK;
}

/* Stage 4 (lowercase) and the final UTF-8 encoding. */
static rerank_status_t emit_final(const rr_bert_norm_opts_t *opt, outbuf_t *o, uint32_t cp) {
    rerank_status_t st = out_reserve(o, 8);
    if (st) return st;
    if (opt->lowercase) {
        if (cp == 0x130) { /* the one unconditional multi-char lowercase mapping */
            *o->n += (size_t)rr_utf8_encode(0x69, *o->buf + *o->n);
            *o->n += (size_t)rr_utf8_encode(0x307, *o->buf + *o->n);
            return RERANK_OK;
        }
        cp = (uint32_t)utf8proc_tolower((utf8proc_int32_t)cp);
    }
    *o->n += (size_t)rr_utf8_encode(cp, *o->buf + *o->n);
    return RERANK_OK;
}

/* ---- stage 3: NFD + drop Mn, with canonical reordering ------------------ */

typedef struct {
    const rr_bert_norm_opts_t *opt;
    outbuf_t *out;
    /* pending run of non-starters (ccc > 0) that survived the Mn filter */
    uint32_t *run;
    size_t nrun, caprun;
} nfd_state_t;

static rerank_status_t flush_run(nfd_state_t *s) {
    rerank_status_t st = RERANK_OK;
    if (s->nrun > 1) {
        /* stable sort by canonical combining class: insertion sort for the
         * usual short run, one pass per class present for long ones */
        if (s->nrun <= 16) {
            for (size_t i = 1; i < s->nrun; i++) {
                uint32_t c = s->run[i];
                int cc = utf8proc_get_property((utf8proc_int32_t)c)->combining_class;
                size_t j = i;
                while (j > 0 &&
                       utf8proc_get_property((utf8proc_int32_t)s->run[j - 1])->combining_class > cc) {
                    s->run[j] = s->run[j - 1];
                    j--;
                }
                s->run[j] = c;
            }
        } else {
            size_t count[257] = {0};
            for (size_t i = 0; i < s->nrun; i++)
                count[utf8proc_get_property((utf8proc_int32_t)s->run[i])->combining_class + 1]++;
            for (int k = 1; k < 257; k++) count[k] += count[k - 1];
            /* for each class present, in order, emit its members in input
             * order: O(n * distinct classes), at most 256 passes */
            for (int k = 0; k < 256; k++) {
                if (count[k + 1] == count[k]) continue;
                for (size_t i = 0; i < s->nrun; i++)
                    if (utf8proc_get_property((utf8proc_int32_t)s->run[i])->combining_class == k)
                        if ((st = emit_final(s->opt, s->out, s->run[i]))) return st;
            }
            s->nrun = 0;
            return RERANK_OK;
        }
    }
    for (size_t i = 0; i < s->nrun; i++)
        if ((st = emit_final(s->opt, s->out, s->run[i]))) return st;
    s->nrun = 0;
    return RERANK_OK;
}

static rerank_status_t nfd_push(nfd_state_t *s, uint32_t cp) {
    const utf8proc_property_t *p = utf8proc_get_property((utf8proc_int32_t)cp);
    if (p->category == UTF8PROC_CATEGORY_MN) return RERANK_OK;
    if (p->combining_class == 0) {
        rerank_status_t st = flush_run(s);
        if (st) return st;
        return emit_final(s->opt, s->out, cp);
    }
    if (s->nrun == s->caprun) {
        size_t nc = s->caprun ? s->caprun * 2 : 16;
        uint32_t *r = rr_realloc(s->run, nc * sizeof *r);
        if (!r) return rr_error(RERANK_ERR_NOMEM, "bert normalizer: out of memory");
        s->run = r;
        s->caprun = nc;
    }
    s->run[s->nrun++] = cp;
    return RERANK_OK;
}

/* Stage 3 entry: decompose cp (canonical, recursive, Hangul included). */
static rerank_status_t stage3(nfd_state_t *s, uint32_t cp) {
    if (!s->opt->strip_accents) return emit_final(s->opt, s->out, cp);
    utf8proc_int32_t dec[32];
    int last = 0;
    utf8proc_ssize_t k = utf8proc_decompose_char((utf8proc_int32_t)cp, dec, 32,
                                                 UTF8PROC_DECOMPOSE, &last);
    if (k < 1 || k > 32) { /* cannot happen for a valid scalar value */
        dec[0] = (utf8proc_int32_t)cp;
        k = 1;
    }
    for (utf8proc_ssize_t i = 0; i < k; i++) {
        rerank_status_t st = nfd_push(s, (uint32_t)dec[i]);
        if (st) return st;
    }
    return RERANK_OK;
}

/* ---- stages 1 and 2 ------------------------------------------------------ */

int rr_bert_is_whitespace(uint32_t cp) {
    switch (cp) {
    case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x20:
    case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029:
    case 0x202F: case 0x205F: case 0x3000:
        return 1;
    default:
        return cp >= 0x2000 && cp <= 0x200A;
    }
}

/* HF "control": category Cc, Cf, Cn, Co or Cs, except \t \n \r. */
static int is_control(uint32_t cp) {
    if (cp == '\t' || cp == '\n' || cp == '\r') return 0;
    switch (utf8proc_category((utf8proc_int32_t)cp)) {
    case UTF8PROC_CATEGORY_CC: case UTF8PROC_CATEGORY_CF: case UTF8PROC_CATEGORY_CN:
    case UTF8PROC_CATEGORY_CO: case UTF8PROC_CATEGORY_CS:
        return 1;
    default:
        return 0;
    }
}

/* HF's ranges, including its 0x2B920 start (BERT's original has 0x2B820). */
static int is_chinese_char(uint32_t cp) {
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
           (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
           (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF) ||
           (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

rerank_status_t rr_bert_norm_opts_parse(const json_t *normalizer, rr_bert_norm_opts_t *out) {
    memset(out, 0, sizeof *out);
    if (!normalizer || json_is_null(normalizer)) return RERANK_OK;
    if (!json_is_object(normalizer))
        return rr_error(RERANK_ERR_FORMAT, "normalizer: expected an object");
    const char *type = json_string_value(json_object_get(normalizer, "type"));
    if (!type || strcmp(type, "BertNormalizer") != 0)
        return rr_error(RERANK_ERR_UNSUPPORTED, "normalizer type %s not supported on the BERT path",
                        type ? type : "(missing)");
    static const char *const names[] = {"clean_text", "handle_chinese_chars", "lowercase"};
    int vals[3] = {1, 1, 1};
    for (int i = 0; i < 3; i++) {
        json_t *v = json_object_get(normalizer, names[i]);
        if (!v || json_is_null(v)) continue;
        if (!json_is_boolean(v))
            return rr_error(RERANK_ERR_FORMAT, "BertNormalizer.%s: expected a boolean", names[i]);
        vals[i] = json_is_true(v);
    }
    out->enabled = 1;
    out->clean_text = vals[0];
    out->handle_chinese_chars = vals[1];
    out->lowercase = vals[2];
    json_t *sa = json_object_get(normalizer, "strip_accents");
    if (!sa || json_is_null(sa)) out->strip_accents = out->lowercase;
    else if (json_is_boolean(sa)) out->strip_accents = json_is_true(sa);
    else return rr_error(RERANK_ERR_FORMAT, "BertNormalizer.strip_accents: expected a boolean or null");
    return RERANK_OK;
}

rerank_status_t rr_bert_normalize(const rr_bert_norm_opts_t *o, const char *text, size_t len,
                                  char **buf, size_t *n, size_t *cap) {
    outbuf_t out = {buf, n, cap};
    rerank_status_t st;
    if (!o->enabled) {
        if ((st = out_reserve(&out, len))) return st;
        if (len) memcpy(*buf + *n, text, len);
        *n += len;
        return RERANK_OK;
    }
    /* typical growth is small; reserve the input size up front */
    if ((st = out_reserve(&out, len + len / 8 + 16))) return st;
    nfd_state_t s = {o, &out, NULL, 0, 0};
    size_t i = 0;
    while (i < len) {
        int cl;
        uint32_t cp = rr_utf8_decode(text, len, i, &cl);
        i += (size_t)cl;
        if (o->clean_text) {
            if (cp == 0 || cp == 0xFFFD || is_control(cp)) continue;
            if (rr_bert_is_whitespace(cp)) cp = ' ';
        }
        if (o->handle_chinese_chars && is_chinese_char(cp)) {
            if ((st = stage3(&s, ' ')) || (st = stage3(&s, cp)) || (st = stage3(&s, ' '))) break;
        } else if ((st = stage3(&s, cp))) {
            break;
        }
    }
    if (!st) st = flush_run(&s);
    rr_free(s.run);
    return st;
}
