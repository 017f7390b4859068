/* regex.c — a small regex engine for the patterns found in tokenizer.json
 * (Replace normalizers): compiled to a Thompson NFA and run as a Pike VM,
 * so matching is linear in the text whatever the pattern (this is fuzzed).
 * Semantics follow Oniguruma/Rust for this subset: leftmost-first, greedy
 * (or lazy with a trailing '?'), Unicode-aware \s \d \w, '.' excludes \n.
 * Unsupported syntax (anchors, backreferences, lookaround, \p{..}, ...) is
 * rejected with RERANK_ERR_UNSUPPORTED. */
#include <string.h>
#include <utf8proc.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/utf8.h"
#include "tokenizer/charclass.h"
#include "tokenizer/internal.h"

#define RE_MAX_INSTS 4096
#define RE_MAX_DEPTH 32

enum { I_CHAR, I_ANY, I_CLASS, I_SPLIT, I_JMP, I_MATCH };

typedef struct {
    uint32_t lo, hi;
} range_t;

typedef struct {
    range_t *r;
    size_t n;
    int negate;
    int cls; /* bit flags of \s \d \w \S \D \W inside [...] */
} cls_t;

typedef struct {
    int op;
    uint32_t c; /* I_CHAR: code point; I_CLASS: class index */
    int x, y;   /* I_SPLIT: preferred x, then y; I_JMP: x */
} inst_t;

struct rr_regex {
    inst_t *ins;
    size_t n_ins;
    cls_t *cls;
    size_t n_cls;
};

enum { C_S = 1, C_D = 2, C_W = 4, C_NS = 8, C_ND = 16, C_NW = 32 };

static int is_digit(uint32_t c) {
    return utf8proc_category((utf8proc_int32_t)c) == UTF8PROC_CATEGORY_ND;
}
static int cls_flags_match(int f, uint32_t c) {
    if ((f & C_S) && rr_uc_is_space(c)) return 1;
    if ((f & C_D) && is_digit(c)) return 1;
    if ((f & C_W) && rr_uc_is_word(c)) return 1;
    if ((f & C_NS) && !rr_uc_is_space(c)) return 1;
    if ((f & C_ND) && !is_digit(c)) return 1;
    if ((f & C_NW) && !rr_uc_is_word(c)) return 1;
    return 0;
}

static int cls_match(const cls_t *k, uint32_t c) {
    int m = cls_flags_match(k->cls, c);
    for (size_t i = 0; !m && i < k->n; i++) m = c >= k->r[i].lo && c <= k->r[i].hi;
    return k->negate ? !m : m;
}

/* ---- compiler ------------------------------------------------------------ */

typedef struct {
    const char *p;
    size_t n, i;
    rr_regex_t *re;
    size_t cap_ins, cap_cls;
    rerank_status_t st;
    int depth;
    long work;
} comp_t;

static int emit(comp_t *c, int op, uint32_t ch, int x, int y) {
    if (c->st) return -1;
    if (c->re->n_ins >= RE_MAX_INSTS) {
        c->st = rr_error(RERANK_ERR_UNSUPPORTED, "regex: pattern too large (over %d states)", RE_MAX_INSTS);
        return -1;
    }
    if ((c->st = rr_grow((void **)&c->re->ins, &c->cap_ins, c->re->n_ins + 1, sizeof(inst_t))))
        return -1;
    inst_t *in = &c->re->ins[c->re->n_ins];
    in->op = op;
    in->c = ch;
    in->x = x;
    in->y = y;
    return (int)c->re->n_ins++;
}

static int fail(comp_t *c, const char *what) {
    if (!c->st)
        c->st = rr_error(RERANK_ERR_UNSUPPORTED, "regex: %s at offset %zu of the pattern", what, c->i);
    return -1;
}

static int next_cp(comp_t *c, uint32_t *cp) {
    if (c->i >= c->n) return 0;
    int len;
    *cp = rr_utf8_decode(c->p, c->n, c->i, &len);
    c->i += (size_t)len;
    return 1;
}

/* Escape after '\\': returns 1 with a literal in *cp, or 2 with class flags in *flags. */
static int parse_escape(comp_t *c, uint32_t *cp, int *flags) {
    uint32_t e;
    if (!next_cp(c, &e)) return fail(c, "trailing backslash");
    switch (e) {
    case 's': *flags = C_S; return 2;
    case 'S': *flags = C_NS; return 2;
    case 'd': *flags = C_D; return 2;
    case 'D': *flags = C_ND; return 2;
    case 'w': *flags = C_W; return 2;
    case 'W': *flags = C_NW; return 2;
    case 't': *cp = '\t'; return 1;
    case 'n': *cp = '\n'; return 1;
    case 'r': *cp = '\r'; return 1;
    case 'f': *cp = '\f'; return 1;
    case 'v': *cp = '\v'; return 1;
    case '0': *cp = 0; return 1;
    case 'x': case 'u': {
        uint32_t v = 0;
        int digits = 0, braced = 0;
        if (c->i < c->n && c->p[c->i] == '{') { braced = 1; c->i++; }
        int maxd = braced ? 6 : (e == 'x' ? 2 : 4);
        while (digits < maxd && c->i < c->n) {
            char h = c->p[c->i];
            int d = (h >= '0' && h <= '9') ? h - '0' : (h >= 'a' && h <= 'f') ? h - 'a' + 10
                  : (h >= 'A' && h <= 'F') ? h - 'A' + 10 : -1;
            if (d < 0) break;
            v = v * 16 + (uint32_t)d;
            digits++;
            c->i++;
        }
        if (braced) {
            if (c->i >= c->n || c->p[c->i] != '}') return fail(c, "bad \\x{...} escape");
            c->i++;
        }
        if (!digits || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return fail(c, "bad hex escape");
        *cp = v;
        return 1;
    }
    default:
        if (e < 0x80 && ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || (e >= '0' && e <= '9')))
            return fail(c, "unsupported escape");
        *cp = e;
        return 1;
    }
}

static int parse_class(comp_t *c) {
    cls_t k = {0};
    size_t cap = 0;
    if (c->i < c->n && c->p[c->i] == '^') { k.negate = 1; c->i++; }
    int first = 1;
    for (;;) {
        uint32_t cp;
        if (!next_cp(c, &cp)) { rr_free(k.r); return fail(c, "unterminated character class"); }
        if (cp == ']' && !first) break;
        if (cp == '[') { rr_free(k.r); return fail(c, "nested character class"); }
        first = 0;
        uint32_t lo = cp;
        if (cp == '\\') {
            int flags = 0;
            int r = parse_escape(c, &lo, &flags);
            if (r < 0) { rr_free(k.r); return -1; }
            if (r == 2) { k.cls |= flags; continue; }
        }
        uint32_t hi = lo;
        if (c->i + 1 < c->n && c->p[c->i] == '-' && c->p[c->i + 1] != ']') {
            c->i++;
            if (!next_cp(c, &hi)) { rr_free(k.r); return fail(c, "bad range"); }
            if (hi == '\\') {
                int flags = 0;
                if (parse_escape(c, &hi, &flags) != 1) { rr_free(k.r); return fail(c, "bad range end"); }
            }
            if (hi < lo) { rr_free(k.r); return fail(c, "reversed range"); }
        }
        if ((c->st = rr_grow((void **)&k.r, &cap, k.n + 1, sizeof(range_t)))) { rr_free(k.r); return -1; }
        k.r[k.n].lo = lo;
        k.r[k.n].hi = hi;
        k.n++;
    }
    if ((c->st = rr_grow((void **)&c->re->cls, &c->cap_cls, c->re->n_cls + 1, sizeof(cls_t)))) {
        rr_free(k.r);
        return -1;
    }
    c->re->cls[c->re->n_cls] = k;
    return emit(c, I_CLASS, (uint32_t)c->re->n_cls++, 0, 0);
}

static int parse_alt(comp_t *c);

static int make_flag_class(comp_t *c, int flags) {
    if ((c->st = rr_grow((void **)&c->re->cls, &c->cap_cls, c->re->n_cls + 1, sizeof(cls_t)))) return -1;
    cls_t k = {0};
    k.cls = flags;
    c->re->cls[c->re->n_cls] = k;
    return emit(c, I_CLASS, (uint32_t)c->re->n_cls++, 0, 0);
}

/* One atom (no quantifier). Returns 0 on success. */
static int parse_atom(comp_t *c) {
    uint32_t cp;
    if (++c->work > 100000) return fail(c, "pattern too complex");
    if (!next_cp(c, &cp)) return fail(c, "missing atom");
    switch (cp) {
    case '.': return emit(c, I_ANY, 0, 0, 0) < 0 ? -1 : 0;
    case '[': return parse_class(c) < 0 ? -1 : 0;
    case '(': {
        if (c->i + 1 < c->n && c->p[c->i] == '?') {
            if (c->p[c->i + 1] != ':') return fail(c, "unsupported group kind");
            c->i += 2;
        }
        if (++c->depth > RE_MAX_DEPTH) return fail(c, "groups nested too deeply");
        if (parse_alt(c) < 0) return -1;
        c->depth--;
        if (c->i >= c->n || c->p[c->i] != ')') return fail(c, "missing ')'");
        c->i++;
        return 0;
    }
    case '\\': {
        int flags = 0;
        int r = parse_escape(c, &cp, &flags);
        if (r < 0) return -1;
        if (r == 2) return make_flag_class(c, flags) < 0 ? -1 : 0;
        return emit(c, I_CHAR, cp, 0, 0) < 0 ? -1 : 0;
    }
    case '^': case '$': return fail(c, "anchors are not supported");
    case '*': case '+': case '?': case '{': return fail(c, "quantifier without operand");
    case ')': case '|': return fail(c, "unexpected character");
    default: return emit(c, I_CHAR, cp, 0, 0) < 0 ? -1 : 0;
    }
}

static int parse_uint(comp_t *c, unsigned *v) {
    int d = 0;
    *v = 0;
    while (c->i < c->n && c->p[c->i] >= '0' && c->p[c->i] <= '9') {
        *v = *v * 10 + (unsigned)(c->p[c->i++] - '0');
        if (*v > 1000) return 0;
        d++;
    }
    return d > 0;
}

/* Emit `atom` (pattern bytes [a0, a1)) once more by re-parsing it. */
static int reemit(comp_t *c, size_t a0, size_t a1) {
    size_t save = c->i;
    c->i = a0;
    int r = parse_atom(c);
    RR_ASSERT(r < 0 || c->i == a1);
    c->i = save;
    return r;
}

/* Patch a SPLIT so that `prefer` says which branch is preferred. */
static void set_split(comp_t *c, int at, int body, int out, int greedy) {
    if (c->st) return;
    c->re->ins[at].x = greedy ? body : out;
    c->re->ins[at].y = greedy ? out : body;
}

static int parse_piece(comp_t *c) {
    size_t a0 = c->i;
    int start = (int)c->re->n_ins;
    if (parse_atom(c) < 0) return -1;
    size_t a1 = c->i;
    if (c->i >= c->n) return 0;
    char q = c->p[c->i];
    unsigned lo, hi;
    int inf = 0;
    if (q == '*') { lo = 0; inf = 1; hi = 0; c->i++; }
    else if (q == '+') { lo = 1; inf = 1; hi = 0; c->i++; }
    else if (q == '?') { lo = 0; hi = 1; c->i++; }
    else if (q == '{') {
        size_t save = c->i;
        c->i++;
        if (!parse_uint(c, &lo)) { c->i = save; return fail(c, "bad {n,m} quantifier"); }
        hi = lo;
        if (c->i < c->n && c->p[c->i] == ',') {
            c->i++;
            if (c->i < c->n && c->p[c->i] == '}') inf = 1;
            else if (!parse_uint(c, &hi) || hi < lo) return fail(c, "bad {n,m} quantifier");
        }
        if (c->i >= c->n || c->p[c->i] != '}') return fail(c, "bad {n,m} quantifier");
        c->i++;
    } else return 0;
    int greedy = 1;
    if (c->i < c->n && c->p[c->i] == '?') { greedy = 0; c->i++; }
    if (c->i < c->n && (c->p[c->i] == '*' || c->p[c->i] == '+' || c->p[c->i] == '{'))
        return fail(c, "possessive or repeated quantifiers are not supported");
    /* The atom was emitted once at [start, end). Build: lo copies, then
     * either a star loop or (hi - lo) nested optionals. */
    size_t after_i = c->i;
    if (lo == 0) {
        /* turn the emitted atom into an optional / star: need a SPLIT before it.
         * Simplest: drop it and re-emit after the SPLIT. */
        c->re->n_ins = (size_t)start;
        if (inf) {
            int sp = emit(c, I_SPLIT, 0, 0, 0);
            if (reemit(c, a0, a1) < 0) return -1;
            int j = emit(c, I_JMP, 0, sp, 0);
            if (j < 0) return -1;
            set_split(c, sp, sp + 1, (int)c->re->n_ins, greedy);
        } else {
            for (unsigned k = 0; k < hi; k++) {
                int sp = emit(c, I_SPLIT, 0, 0, 0);
                if (sp < 0 || reemit(c, a0, a1) < 0) return -1;
                set_split(c, sp, sp + 1, (int)c->re->n_ins, greedy);
            }
            /* x?x?x? instead of (x(x)?)?: same first match under leftmost-first
             * (the first occurrence of each repetition count comes in
             * preference order). */
        }
        c->i = after_i;
        return c->st ? -1 : 0;
    }
    if (inf) {
        /* x{lo,}: lo-1 fixed copies, then the last copy loops (x+) */
        int body = start;
        if (lo > 1) {
            for (unsigned k = 2; k < lo; k++)
                if (reemit(c, a0, a1) < 0) return -1;
            body = (int)c->re->n_ins;
            if (reemit(c, a0, a1) < 0) return -1;
        }
        int sp = emit(c, I_SPLIT, 0, 0, 0);
        if (sp < 0) return -1;
        set_split(c, sp, body, sp + 1, greedy);
    } else {
        for (unsigned k = 1; k < lo; k++)
            if (reemit(c, a0, a1) < 0) return -1;
        for (unsigned k = lo; k < hi; k++) {
            int sp = emit(c, I_SPLIT, 0, 0, 0);
            if (sp < 0 || reemit(c, a0, a1) < 0) return -1;
            set_split(c, sp, sp + 1, (int)c->re->n_ins, greedy);
        }
    }
    c->i = after_i;
    return c->st ? -1 : 0;
}

/* Is there a '|' at this nesting level before the closing ')' or the end? */
static int has_bar(const comp_t *c) {
    int depth = 0;
    for (size_t i = c->i; i < c->n; i++) {
        char ch = c->p[i];
        if (ch == '\\') { i++; continue; }
        if (ch == '[') {
            i++;
            if (i < c->n && c->p[i] == '^') i++;
            if (i < c->n && c->p[i] == ']') i++;
            while (i < c->n && c->p[i] != ']') {
                if (c->p[i] == '\\') i++;
                i++;
            }
            continue;
        }
        if (ch == '(') depth++;
        else if (ch == ')') { if (depth == 0) return 0; depth--; }
        else if (ch == '|' && depth == 0) return 1;
    }
    return 0;
}

static int parse_seq(comp_t *c) {
    while (c->i < c->n && c->p[c->i] != '|' && c->p[c->i] != ')')
        if (parse_piece(c) < 0) return -1;
    return 0;
}

static int parse_alt(comp_t *c) {
    int jumps = -1; /* chain of JMPs to patch, linked through .x */
    while (has_bar(c)) {
        int sp = emit(c, I_SPLIT, 0, 0, 0);
        if (sp < 0 || parse_seq(c) < 0) return -1;
        int j = emit(c, I_JMP, 0, jumps, 0);
        if (j < 0) return -1;
        jumps = j;
        c->re->ins[sp].x = sp + 1;
        c->re->ins[sp].y = (int)c->re->n_ins;
        RR_ASSERT(c->i < c->n && c->p[c->i] == '|');
        c->i++;
    }
    if (parse_seq(c) < 0) return -1;
    while (jumps >= 0) {
        int nx = c->re->ins[jumps].x;
        c->re->ins[jumps].x = (int)c->re->n_ins;
        jumps = nx;
    }
    return 0;
}

void rr_regex_free(rr_regex_t *re) {
    if (!re) return;
    for (size_t i = 0; i < re->n_cls; i++) rr_free(re->cls[i].r);
    rr_free(re->cls);
    rr_free(re->ins);
    rr_free(re);
}

rerank_status_t rr_regex_compile(const char *pat, size_t n, rr_regex_t **out) {
    *out = NULL;
    if (n > 4096) return rr_error(RERANK_ERR_UNSUPPORTED, "regex: pattern longer than 4096 bytes");
    if (!rr_utf8_valid(pat, n, NULL)) return rr_error(RERANK_ERR_FORMAT, "regex: pattern is not UTF-8");
    rr_regex_t *re = rr_calloc(1, sizeof *re);
    if (!re) return rr_error(RERANK_ERR_NOMEM, "regex: out of memory");
    comp_t c = {.p = pat, .n = n, .re = re};
    if (parse_alt(&c) == 0 && c.i < c.n) fail(&c, "unbalanced ')'");
    if (!c.st) emit(&c, I_MATCH, 0, 0, 0);
    if (c.st) {
        rr_regex_free(re);
        rr_error_prefix("pattern '%.*s'", (int)(n > 80 ? 80 : n), pat);
        return c.st;
    }
    *out = re;
    return RERANK_OK;
}

rerank_status_t rr_regex_compile_literal(const char *lit, size_t n, rr_regex_t **out) {
    *out = NULL;
    if (n > 4000) return rr_error(RERANK_ERR_UNSUPPORTED, "regex: literal pattern longer than 4000 bytes");
    if (!rr_utf8_valid(lit, n, NULL)) return rr_error(RERANK_ERR_FORMAT, "regex: pattern is not UTF-8");
    rr_regex_t *re = rr_calloc(1, sizeof *re);
    if (!re) return rr_error(RERANK_ERR_NOMEM, "regex: out of memory");
    comp_t c = {.p = lit, .n = n, .re = re};
    uint32_t cp;
    while (!c.st && next_cp(&c, &cp)) emit(&c, I_CHAR, cp, 0, 0);
    if (!c.st) emit(&c, I_MATCH, 0, 0, 0);
    if (c.st) { rr_regex_free(re); return c.st; }
    *out = re;
    return RERANK_OK;
}

/* ---- Pike VM ------------------------------------------------------------- */

typedef struct {
    int pc;
    size_t start;
} thr_t;

typedef struct {
    thr_t *t;
    size_t n;
} tlist_t;

typedef struct {
    const rr_regex_t *re;
    uint32_t *mark;
    uint32_t gen;
    int *stack;
} vm_t;

static void add_thread(vm_t *vm, tlist_t *l, int pc0, size_t start) {
    size_t sp = 0;
    vm->stack[sp++] = pc0;
    while (sp) {
        int pc = vm->stack[--sp];
        if (vm->mark[pc] == vm->gen) continue;
        vm->mark[pc] = vm->gen;
        const inst_t *in = &vm->re->ins[pc];
        if (in->op == I_JMP) vm->stack[sp++] = in->x;
        else if (in->op == I_SPLIT) {
            vm->stack[sp++] = in->y;
            vm->stack[sp++] = in->x;
        } else {
            l->t[l->n].pc = pc;
            l->t[l->n].start = start;
            l->n++;
        }
    }
}

int rr_regex_find(const rr_regex_t *re, const char *s, size_t n, size_t from, size_t *ms,
                  size_t *me) {
    size_t ni = re->n_ins;
    thr_t *buf = rr_malloc(2 * ni * sizeof(thr_t));
    uint32_t *mark = rr_calloc(ni, sizeof(uint32_t));
    int *stack = rr_malloc((2 * ni + 2) * sizeof(int));
    if (!buf || !mark || !stack) {
        rr_free(buf); rr_free(mark); rr_free(stack);
        return -1;
    }
    vm_t vm = {.re = re, .mark = mark, .gen = 1, .stack = stack};
    tlist_t cl = {buf, 0}, nl = {buf + ni, 0};
    /* literal first char: skip to its next occurrence while no thread lives */
    int lit = re->ins[0].op == I_CHAR;
    char litb[4];
    int litn = lit ? rr_utf8_encode(re->ins[0].c, litb) : 0;
    int matched = 0;
    size_t pos = from;
    for (;;) {
        if (!matched) {
            if (cl.n == 0 && lit) {
                const char *hit = NULL;
                if (pos < n) {
                    if (litn == 1) hit = memchr(s + pos, litb[0], n - pos);
                    else hit = memmem(s + pos, n - pos, litb, (size_t)litn);
                }
                if (!hit) break;
                pos = (size_t)(hit - s);
            }
            add_thread(&vm, &cl, 0, pos);
        }
        if (cl.n == 0) break;
        uint32_t ch = 0;
        int len = 0;
        if (pos < n) ch = rr_utf8_decode(s, n, pos, &len);
        vm.gen++;
        nl.n = 0;
        for (size_t k = 0; k < cl.n; k++) {
            const inst_t *in = &re->ins[cl.t[k].pc];
            int ok = 0;
            switch (in->op) {
            case I_MATCH:
                matched = 1;
                *ms = cl.t[k].start;
                *me = pos;
                k = cl.n; /* cut lower-priority threads */
                continue;
            case I_CHAR: ok = pos < n && ch == in->c; break;
            case I_ANY: ok = pos < n && ch != '\n'; break;
            case I_CLASS: ok = pos < n && cls_match(&re->cls[in->c], ch); break;
            default: break;
            }
            if (ok) add_thread(&vm, &nl, cl.t[k].pc + 1, cl.t[k].start);
        }
        tlist_t tmp = cl;
        cl = nl;
        nl = tmp;
        if (pos >= n) break;
        pos += (size_t)len;
        if (matched && cl.n == 0) break;
    }
    rr_free(buf);
    rr_free(mark);
    rr_free(stack);
    return matched;
}
