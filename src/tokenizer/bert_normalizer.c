/* bert_normalizer.c — Hugging Face's BertNormalizer.
 *
 * Stages, in HF's order, each over the whole output of the previous one:
 *   1. clean_text: drop U+0000, U+FFFD and "control" chars (HF's is_other:
 *      general category Cc, Cf or Co, except \t \n \r; despite HF's comment,
 *      not Cn: unassigned chars stay); then map whitespace (\t \n \r or
 *      Rust char::is_whitespace) to ' '.
 *   2. handle_chinese_chars: ' ' c ' ' for c in HF's CJK ideograph ranges.
 *   3. strip_accents: NFD, then drop nonspacing marks (Mn).
 *   4. lowercase: Rust char::to_lowercase (full mapping: U+0130 -> "i\u0307").
 * Unicode versions: HF takes the categories (Cf, Mn; and P* in the
 * pre-tokenizer) from the unicode_categories crate, whose tables are
 * Unicode 8.0; so do we (tables below: every char assigned in 8.0 with that
 * category today, corrected for U+1734 (Mn in 8.0) and U+1885, U+1886,
 * U+A9BD (not Mn in 8.0); checked equal to the crate's tables). Marks and
 * format chars added after 8.0 are thus kept, as HF keeps them. NFD,
 * combining classes and lowercase come from utf8proc (Unicode 15): HF's NFD
 * crate and Rust's std may be other versions, but the only canonical
 * decomposition added since 8.0 (U+11938) and the case pairs added in
 * Unicode 16 involve no char of the BERT vocab, so ids cannot differ.
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
#include "tokenizer/charclass.h"

/* Unicode 8.0 general category Cf, as inclusive ranges. */
static const uint32_t FORMAT_U8[][2] = {
    {0xAD, 0xAD}, {0x600, 0x605}, {0x61C, 0x61C}, {0x6DD, 0x6DD}, {0x70F, 0x70F},
    {0x180E, 0x180E}, {0x200B, 0x200F}, {0x202A, 0x202E}, {0x2060, 0x2064}, {0x2066, 0x206F},
    {0xFEFF, 0xFEFF}, {0xFFF9, 0xFFFB}, {0x110BD, 0x110BD}, {0x1BCA0, 0x1BCA3},
    {0x1D173, 0x1D17A}, {0xE0001, 0xE0001}, {0xE0020, 0xE007F},
};

/* Unicode 8.0 general category Mn, as inclusive ranges. */
static const uint32_t NONSPACING_U8[][2] = {
    {0x300, 0x36F}, {0x483, 0x487}, {0x591, 0x5BD}, {0x5BF, 0x5BF}, {0x5C1, 0x5C2},
    {0x5C4, 0x5C5}, {0x5C7, 0x5C7}, {0x610, 0x61A}, {0x64B, 0x65F}, {0x670, 0x670},
    {0x6D6, 0x6DC}, {0x6DF, 0x6E4}, {0x6E7, 0x6E8}, {0x6EA, 0x6ED}, {0x711, 0x711},
    {0x730, 0x74A}, {0x7A6, 0x7B0}, {0x7EB, 0x7F3}, {0x816, 0x819}, {0x81B, 0x823},
    {0x825, 0x827}, {0x829, 0x82D}, {0x859, 0x85B}, {0x8E3, 0x902}, {0x93A, 0x93A},
    {0x93C, 0x93C}, {0x941, 0x948}, {0x94D, 0x94D}, {0x951, 0x957}, {0x962, 0x963},
    {0x981, 0x981}, {0x9BC, 0x9BC}, {0x9C1, 0x9C4}, {0x9CD, 0x9CD}, {0x9E2, 0x9E3},
    {0xA01, 0xA02}, {0xA3C, 0xA3C}, {0xA41, 0xA42}, {0xA47, 0xA48}, {0xA4B, 0xA4D},
    {0xA51, 0xA51}, {0xA70, 0xA71}, {0xA75, 0xA75}, {0xA81, 0xA82}, {0xABC, 0xABC},
    {0xAC1, 0xAC5}, {0xAC7, 0xAC8}, {0xACD, 0xACD}, {0xAE2, 0xAE3}, {0xB01, 0xB01},
    {0xB3C, 0xB3C}, {0xB3F, 0xB3F}, {0xB41, 0xB44}, {0xB4D, 0xB4D}, {0xB56, 0xB56},
    {0xB62, 0xB63}, {0xB82, 0xB82}, {0xBC0, 0xBC0}, {0xBCD, 0xBCD}, {0xC00, 0xC00},
    {0xC3E, 0xC40}, {0xC46, 0xC48}, {0xC4A, 0xC4D}, {0xC55, 0xC56}, {0xC62, 0xC63},
    {0xC81, 0xC81}, {0xCBC, 0xCBC}, {0xCBF, 0xCBF}, {0xCC6, 0xCC6}, {0xCCC, 0xCCD},
    {0xCE2, 0xCE3}, {0xD01, 0xD01}, {0xD41, 0xD44}, {0xD4D, 0xD4D}, {0xD62, 0xD63},
    {0xDCA, 0xDCA}, {0xDD2, 0xDD4}, {0xDD6, 0xDD6}, {0xE31, 0xE31}, {0xE34, 0xE3A},
    {0xE47, 0xE4E}, {0xEB1, 0xEB1}, {0xEB4, 0xEB9}, {0xEBB, 0xEBC}, {0xEC8, 0xECD},
    {0xF18, 0xF19}, {0xF35, 0xF35}, {0xF37, 0xF37}, {0xF39, 0xF39}, {0xF71, 0xF7E},
    {0xF80, 0xF84}, {0xF86, 0xF87}, {0xF8D, 0xF97}, {0xF99, 0xFBC}, {0xFC6, 0xFC6},
    {0x102D, 0x1030}, {0x1032, 0x1037}, {0x1039, 0x103A}, {0x103D, 0x103E}, {0x1058, 0x1059},
    {0x105E, 0x1060}, {0x1071, 0x1074}, {0x1082, 0x1082}, {0x1085, 0x1086}, {0x108D, 0x108D},
    {0x109D, 0x109D}, {0x135D, 0x135F}, {0x1712, 0x1714}, {0x1732, 0x1734}, {0x1752, 0x1753},
    {0x1772, 0x1773}, {0x17B4, 0x17B5}, {0x17B7, 0x17BD}, {0x17C6, 0x17C6}, {0x17C9, 0x17D3},
    {0x17DD, 0x17DD}, {0x180B, 0x180D}, {0x18A9, 0x18A9}, {0x1920, 0x1922}, {0x1927, 0x1928},
    {0x1932, 0x1932}, {0x1939, 0x193B}, {0x1A17, 0x1A18}, {0x1A1B, 0x1A1B}, {0x1A56, 0x1A56},
    {0x1A58, 0x1A5E}, {0x1A60, 0x1A60}, {0x1A62, 0x1A62}, {0x1A65, 0x1A6C}, {0x1A73, 0x1A7C},
    {0x1A7F, 0x1A7F}, {0x1AB0, 0x1ABD}, {0x1B00, 0x1B03}, {0x1B34, 0x1B34}, {0x1B36, 0x1B3A},
    {0x1B3C, 0x1B3C}, {0x1B42, 0x1B42}, {0x1B6B, 0x1B73}, {0x1B80, 0x1B81}, {0x1BA2, 0x1BA5},
    {0x1BA8, 0x1BA9}, {0x1BAB, 0x1BAD}, {0x1BE6, 0x1BE6}, {0x1BE8, 0x1BE9}, {0x1BED, 0x1BED},
    {0x1BEF, 0x1BF1}, {0x1C2C, 0x1C33}, {0x1C36, 0x1C37}, {0x1CD0, 0x1CD2}, {0x1CD4, 0x1CE0},
    {0x1CE2, 0x1CE8}, {0x1CED, 0x1CED}, {0x1CF4, 0x1CF4}, {0x1CF8, 0x1CF9}, {0x1DC0, 0x1DF5},
    {0x1DFC, 0x1DFF}, {0x20D0, 0x20DC}, {0x20E1, 0x20E1}, {0x20E5, 0x20F0}, {0x2CEF, 0x2CF1},
    {0x2D7F, 0x2D7F}, {0x2DE0, 0x2DFF}, {0x302A, 0x302D}, {0x3099, 0x309A}, {0xA66F, 0xA66F},
    {0xA674, 0xA67D}, {0xA69E, 0xA69F}, {0xA6F0, 0xA6F1}, {0xA802, 0xA802}, {0xA806, 0xA806},
    {0xA80B, 0xA80B}, {0xA825, 0xA826}, {0xA8C4, 0xA8C4}, {0xA8E0, 0xA8F1}, {0xA926, 0xA92D},
    {0xA947, 0xA951}, {0xA980, 0xA982}, {0xA9B3, 0xA9B3}, {0xA9B6, 0xA9B9}, {0xA9BC, 0xA9BC},
    {0xA9E5, 0xA9E5}, {0xAA29, 0xAA2E}, {0xAA31, 0xAA32}, {0xAA35, 0xAA36}, {0xAA43, 0xAA43},
    {0xAA4C, 0xAA4C}, {0xAA7C, 0xAA7C}, {0xAAB0, 0xAAB0}, {0xAAB2, 0xAAB4}, {0xAAB7, 0xAAB8},
    {0xAABE, 0xAABF}, {0xAAC1, 0xAAC1}, {0xAAEC, 0xAAED}, {0xAAF6, 0xAAF6}, {0xABE5, 0xABE5},
    {0xABE8, 0xABE8}, {0xABED, 0xABED}, {0xFB1E, 0xFB1E}, {0xFE00, 0xFE0F}, {0xFE20, 0xFE2F},
    {0x101FD, 0x101FD}, {0x102E0, 0x102E0}, {0x10376, 0x1037A}, {0x10A01, 0x10A03},
    {0x10A05, 0x10A06}, {0x10A0C, 0x10A0F}, {0x10A38, 0x10A3A}, {0x10A3F, 0x10A3F},
    {0x10AE5, 0x10AE6}, {0x11001, 0x11001}, {0x11038, 0x11046}, {0x1107F, 0x11081},
    {0x110B3, 0x110B6}, {0x110B9, 0x110BA}, {0x11100, 0x11102}, {0x11127, 0x1112B},
    {0x1112D, 0x11134}, {0x11173, 0x11173}, {0x11180, 0x11181}, {0x111B6, 0x111BE},
    {0x111CA, 0x111CC}, {0x1122F, 0x11231}, {0x11234, 0x11234}, {0x11236, 0x11237},
    {0x112DF, 0x112DF}, {0x112E3, 0x112EA}, {0x11300, 0x11301}, {0x1133C, 0x1133C},
    {0x11340, 0x11340}, {0x11366, 0x1136C}, {0x11370, 0x11374}, {0x114B3, 0x114B8},
    {0x114BA, 0x114BA}, {0x114BF, 0x114C0}, {0x114C2, 0x114C3}, {0x115B2, 0x115B5},
    {0x115BC, 0x115BD}, {0x115BF, 0x115C0}, {0x115DC, 0x115DD}, {0x11633, 0x1163A},
    {0x1163D, 0x1163D}, {0x1163F, 0x11640}, {0x116AB, 0x116AB}, {0x116AD, 0x116AD},
    {0x116B0, 0x116B5}, {0x116B7, 0x116B7}, {0x1171D, 0x1171F}, {0x11722, 0x11725},
    {0x11727, 0x1172B}, {0x16AF0, 0x16AF4}, {0x16B30, 0x16B36}, {0x16F8F, 0x16F92},
    {0x1BC9D, 0x1BC9E}, {0x1D167, 0x1D169}, {0x1D17B, 0x1D182}, {0x1D185, 0x1D18B},
    {0x1D1AA, 0x1D1AD}, {0x1D242, 0x1D244}, {0x1DA00, 0x1DA36}, {0x1DA3B, 0x1DA6C},
    {0x1DA75, 0x1DA75}, {0x1DA84, 0x1DA84}, {0x1DA9B, 0x1DA9F}, {0x1DAA1, 0x1DAAF},
    {0x1E8D0, 0x1E8D6}, {0xE0100, 0xE01EF},
};

static int is_mn_u8(uint32_t cp) {
    return cp >= 0x300 && rr_cp_in_ranges(NONSPACING_U8, sizeof NONSPACING_U8 / sizeof *NONSPACING_U8, cp);
}

/* Stage 4 (lowercase) and the final UTF-8 encoding. */
static rerank_status_t emit_final(const rr_bert_norm_opts_t *opt, rr_sbuf_t *o, uint32_t cp) {
    if (opt->lowercase) {
        if (cp == 0x130) /* the one unconditional multi-char lowercase mapping */
            return rr_sbuf_append(o, "i\xcc\x87", 3);
        cp = (uint32_t)utf8proc_tolower((utf8proc_int32_t)cp);
    }
    return rr_sbuf_append_cp(o, cp);
}

/* ---- stage 3: NFD + drop Mn, with canonical reordering ------------------ */

typedef struct {
    const rr_bert_norm_opts_t *opt;
    rr_sbuf_t *out;
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
            unsigned char present[256] = {0};
            for (size_t i = 0; i < s->nrun; i++)
                present[utf8proc_get_property((utf8proc_int32_t)s->run[i])->combining_class] = 1;
            /* for each class present, in order, emit its members in input
             * order: O(n * distinct classes), at most 255 passes */
            for (int k = 1; k < 256; k++) {
                if (!present[k]) continue;
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
    if (is_mn_u8(cp)) {
        /* dropped; but a mark of class 0 still bounds the reordering run */
        return p->combining_class == 0 ? flush_run(s) : RERANK_OK;
    }
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

/* HF "control": Cc, Cf (Unicode 8.0) or Co, except \t \n \r. (Cs cannot
 * occur in valid UTF-8.) */
static int is_control(uint32_t cp) {
    if (cp == '\t' || cp == '\n' || cp == '\r') return 0;
    if (cp <= 0x1F || (cp >= 0x7F && cp <= 0x9F)) return 1;                 /* Cc */
    if (cp >= 0xE000 && cp <= 0xF8FF) return 1;                              /* Co */
    if (cp >= 0xF0000) return (cp & 0xFFFF) <= 0xFFFD;                       /* Co, planes 15-16 */
    return cp >= 0xAD && rr_cp_in_ranges(FORMAT_U8, sizeof FORMAT_U8 / sizeof *FORMAT_U8, cp);
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
    static const char *const names[] = {"clean_text", "handle_chinese_chars", "lowercase"};
    int vals[3] = {1, 1, 1};
    for (int i = 0; i < 3; i++) {
        json_t *v = json_object_get(normalizer, names[i]);
        if (!v || json_is_null(v)) continue;
        if (!json_is_boolean(v))
            return rr_error(RERANK_ERR_FORMAT, "tokenizer.json: BertNormalizer.%s must be a boolean", names[i]);
        vals[i] = json_is_true(v);
    }
    out->clean_text = vals[0];
    out->handle_chinese_chars = vals[1];
    out->lowercase = vals[2];
    json_t *sa = json_object_get(normalizer, "strip_accents");
    if (!sa || json_is_null(sa)) out->strip_accents = out->lowercase;
    else if (json_is_boolean(sa)) out->strip_accents = json_is_true(sa);
    else return rr_error(RERANK_ERR_FORMAT, "tokenizer.json: BertNormalizer.strip_accents must be a boolean or null");
    return RERANK_OK;
}

rerank_status_t rr_bert_normalize(const rr_bert_norm_opts_t *o, const char *text, size_t len, rr_sbuf_t *out) {
    /* typical growth is small; reserve the input size up front */
    rerank_status_t st = rr_sbuf_reserve(out, len + len / 8 + 16);
    if (st) return st;
    nfd_state_t s = {o, out, NULL, 0, 0};
    size_t i = 0;
    while (i < len) {
        int cl;
        uint32_t cp = rr_utf8_decode(text, len, i, &cl);
        i += (size_t)cl;
        if (o->clean_text) {
            if (cp == 0 || cp == 0xFFFD || is_control(cp)) continue;
            if (rr_uc_is_space(cp)) cp = ' ';
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
