/* model_spec.c — parse `--model [NAME=]DIR[,key=value...]` (see model_spec.h). */
#include "server/model_spec.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/limits.h"

static int fail(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
    return -1;
}

int rr_model_spec_name_ok(const char *s, size_t n) {
    if (n == 0 || n >= RR_SRV_MAX_MODEL_NAME) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-' || c == ':'))
            return 0;
    }
    return 1;
}

void rr_model_spec_release(rr_model_spec_t *spec) {
    rr_free(spec->name);
    rr_free(spec->dir);
    rr_free(spec->precision);
    rr_free(spec->device);
    rr_free(spec->instruction);
    memset(spec, 0, sizeof *spec);
    spec->layers = spec->max_length = spec->threads = -1;
}

/* A whole decimal number in [lo, hi]. */
static int parse_long(const char *v, size_t n, long lo, long hi, long *out) {
    char buf[32];
    if (n == 0 || n >= sizeof buf) return -1;
    memcpy(buf, v, n);
    buf[n] = 0;
    errno = 0;
    char *end;
    long long x = strtoll(buf, &end, 10);
    if (*end || errno || x < lo || x > hi) return -1;
    *out = (long)x;
    return 0;
}

/* Store one key=value of the options (each key at most once). */
static int set_key(rr_model_spec_t *sp, const char *key, size_t kn, const char *v, size_t vn, char *err, size_t cap) {
    static const struct { const char *key; long hi; size_t off; } k_nums[] = {
        {"layers", RR_MAX_LAYERS, offsetof(rr_model_spec_t, layers)},
        {"max-length", RR_MAX_SEQ_TOKENS, offsetof(rr_model_spec_t, max_length)},
        {"threads", RR_MAX_THREADS, offsetof(rr_model_spec_t, threads)},
    };
    for (size_t i = 0; i < sizeof k_nums / sizeof *k_nums; i++) {
        if (strlen(k_nums[i].key) != kn || strncmp(key, k_nums[i].key, kn)) continue;
        long *dst = (long *)((char *)sp + k_nums[i].off);
        if (*dst != -1) return fail(err, cap, "%s is given twice", k_nums[i].key);
        if (parse_long(v, vn, 0, k_nums[i].hi, dst))
            return fail(err, cap, "%s='%.*s' is not a number in [0, %ld]", k_nums[i].key, (int)vn, v, k_nums[i].hi);
        return 0;
    }
    char **dst = NULL;
    if (kn == 9 && !strncmp(key, "precision", 9)) dst = &sp->precision;
    else if (kn == 6 && !strncmp(key, "device", 6)) dst = &sp->device;
    else if (kn == 11 && !strncmp(key, "instruction", 11)) dst = &sp->instruction;
    if (!dst)
        return fail(err, cap, "unknown key '%.*s' (precision, device, layers, max-length, threads, instruction)", (int)kn,
                    key);
    if (*dst) return fail(err, cap, "%.*s is given twice", (int)kn, key);
    if (vn == 0) return fail(err, cap, "%.*s= needs a value", (int)kn, key);
    *dst = rr_strndup(v, vn);
    if (!*dst) return fail(err, cap, "out of memory");
    return 0;
}

int rr_model_spec_parse(const char *text, rr_model_spec_t *out, char *err, size_t cap) {
    memset(out, 0, sizeof *out);
    out->layers = out->max_length = out->threads = -1;
    size_t n = strlen(text);
    /* NAME=DIR or DIR, up to the first comma */
    const char *comma = memchr(text, ',', n);
    size_t head = comma ? (size_t)(comma - text) : n;
    const char *eq = memchr(text, '=', head);
    const char *dir = text;
    if (eq) {
        size_t nn = (size_t)(eq - text);
        if (!rr_model_spec_name_ok(text, nn)) {
            fail(err, cap, "'%.*s' is not a model name (1..%d of letters, digits, '.', '_', '-', ':')", (int)nn, text,
                 RR_SRV_MAX_MODEL_NAME - 1);
            goto bad;
        }
        out->name = rr_strndup(text, nn);
        if (!out->name) { fail(err, cap, "out of memory"); goto bad; }
        dir = eq + 1;
    }
    size_t dn = (size_t)(text + head - dir);
    if (dn == 0) { fail(err, cap, "the model directory is empty"); goto bad; }
    out->dir = rr_strndup(dir, dn);
    if (!out->dir) { fail(err, cap, "out of memory"); goto bad; }
    /* ,key=value... */
    const char *p = comma;
    while (p) {
        const char *k = p + 1, *end = text + n;
        const char *e = memchr(k, '=', (size_t)(end - k));
        const char *next = memchr(k, ',', (size_t)(end - k));
        if (!e || (next && next < e)) {
            fail(err, cap, "'%.*s' is not key=value", (int)((next ? next : end) - k), k);
            goto bad;
        }
        size_t kn = (size_t)(e - k);
        if (kn == 11 && !strncmp(k, "instruction", 11)) next = NULL; /* the rest, commas included */
        const char *vend = next ? next : end;
        if (set_key(out, k, kn, e + 1, (size_t)(vend - e - 1), err, cap)) goto bad;
        p = next;
    }
    return 0;
bad:
    rr_model_spec_release(out);
    return -1;
}

const char *rr_model_spec_name(const rr_model_spec_t *spec, const char *fallback, int from_hub, char *buf, size_t cap) {
    if (spec->name) return spec->name;
    if (fallback) return fallback;
    if (from_hub) return spec->dir;
    const char *path = spec->dir;
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') n--;
    size_t b = n;
    while (b > 0 && path[b - 1] != '/') b--;
    snprintf(buf, cap, "%.*s", (int)(n - b), path + b);
    return buf;
}
