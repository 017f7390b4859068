/* hub_cache.c — the Hugging Face cache layout: paths, validation, lookup of cached snapshots; no network code (see hub.c). */
#include "hub/hub.h"
#include "hub/hub_internal.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/file.h"
#include "common/limits.h"

void rr_hub_options_init(rr_hub_options_t *o) {
    memset(o, 0, sizeof *o);
    o->revision = "main";
    o->progress = -1;
    o->retries = -1;
}

static int name_char(char c) {
    return isalnum((unsigned char)c) || c == '_' || c == '-' || c == '.';
}

/* One part of a repo id (ORG or NAME). */
static int valid_part(const char *s, size_t n) {
    if (n == 0) return 0;
    if (s[0] == '-' || s[0] == '.' || s[n - 1] == '-' || s[n - 1] == '.') return 0;
    for (size_t i = 0; i < n; i++) {
        if (!name_char(s[i])) return 0;
        if (i + 1 < n && ((s[i] == '-' && s[i + 1] == '-') || (s[i] == '.' && s[i + 1] == '.')))
            return 0;
    }
    return 1;
}

int rr_hub_valid_repo_id(const char *s) {
    if (!s) return 0;
    size_t n = strlen(s);
    if (n == 0 || n > 96) return 0;
    const char *slash = strchr(s, '/');
    if (!slash) return valid_part(s, n);
    if (strchr(slash + 1, '/')) return 0;
    return valid_part(s, (size_t)(slash - s)) && valid_part(slash + 1, strlen(slash + 1));
}

int rr_hub_valid_filename(const char *s) {
    if (!s || !*s || s[0] == '.') return 0;
    size_t n = strlen(s);
    if (n > 255) return 0;
    if (strstr(s, "..")) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '/' || c == '\\' || c < 0x20 || c == 0x7f || c == ':') return 0;
    }
    return 1;
}

int rr_hub_valid_revision(const char *s) {
    if (!s || !*s || strlen(s) > 255 || s[0] == '/' || s[0] == '.' || strstr(s, "..") ||
        strstr(s, "//"))
        return 0;
    for (const char *p = s; *p; p++)
        if (!name_char(*p) && *p != '/') return 0;
    return s[strlen(s) - 1] != '/';
}

int rr_hub_is_commit(const char *s) {
    size_t n = strlen(s);
    if (n != 40 && n != 64) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i])) return 0;
    return 1;
}

int rr_hub_is_sha256(const char *s) { return strlen(s) == 64 && rr_hub_is_commit(s); }

int rr_hub_valid_etag(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 128) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_') return 0;
    return 1;
}

void rr_hub_sha256_hex(const void *buf, size_t len, char hex[65]) {
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
    hex[64] = 0;
}

int rr_hub_fmt(char *out, size_t n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(out, n, fmt, ap);
    va_end(ap);
    return (k < 0 || (size_t)k >= n) ? -1 : 0;
}

int rr_hub_mkdirs(const char *path) {
    char tmp[RR_HUB_PATH];
    if (rr_hub_fmt(tmp, sizeof tmp, "%s", path)) { errno = ENAMETOOLONG; return -1; }
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(tmp, 0755) && errno != EEXIST) return -1;
        *p = '/';
    }
    if (mkdir(tmp, 0755) && errno != EEXIST) return -1;
    struct stat st;
    if (stat(tmp, &st) || !S_ISDIR(st.st_mode)) { errno = ENOTDIR; return -1; }
    return 0;
}

static const char *env(const char *name) {
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static const char *home_dir(void) {
    const char *h = env("HOME");
    if (h) return h;
    struct passwd *pw = getpwuid(getuid());
    return pw && pw->pw_dir ? pw->pw_dir : "/";
}

/* Copy `p` to out, expanding a leading "~/". */
static int expand_user(const char *p, char *out, size_t n) {
    if (p[0] == '~' && (p[1] == '/' || p[1] == 0)) return rr_hub_fmt(out, n, "%s%s", home_dir(), p + 1);
    return rr_hub_fmt(out, n, "%s", p);
}

/* $HF_HOME, else $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface. */
static int hf_home(char *out, size_t n) {
    const char *v = env("HF_HOME");
    if (v) return expand_user(v, out, n);
    if ((v = env("XDG_CACHE_HOME"))) {
        char x[RR_HUB_PATH];
        if (expand_user(v, x, sizeof x)) return -1;
        return rr_hub_fmt(out, n, "%s/huggingface", x);
    }
    return rr_hub_fmt(out, n, "%s/.cache/huggingface", home_dir());
}

rerank_status_t rr_hub_cache_root(const char *override, char *out, size_t n) {
    const char *v = override && *override ? override : env("HF_HUB_CACHE");
    if (!v) v = env("HUGGINGFACE_HUB_CACHE"); /* legacy name, still honoured by Python */
    int bad;
    if (v) {
        bad = expand_user(v, out, n);
    } else {
        char h[RR_HUB_PATH];
        bad = hf_home(h, sizeof h) || rr_hub_fmt(out, n, "%s/hub", h);
    }
    if (bad) return rr_error(RERANK_ERR_INVALID_ARGUMENT, "hub cache path too long");
    size_t len = strlen(out);
    while (len > 1 && out[len - 1] == '/') out[--len] = 0;
    return RERANK_OK;
}

int rr_hub_read_token(char *out, size_t n) {
    const char *v = env("HF_TOKEN");
    if (!v) v = env("HUGGING_FACE_HUB_TOKEN");
    /* The token file is read into a fixed buffer (a token is ~40 bytes), so
     * no allocation can fail and silently drop the token. */
    char path[RR_HUB_PATH], buf[2048];
    if (!v) {
        const char *p = env("HF_TOKEN_PATH");
        if (p) {
            if (expand_user(p, path, sizeof path)) return 0;
        } else {
            char h[RR_HUB_PATH];
            if (hf_home(h, sizeof h) || rr_hub_fmt(path, sizeof path, "%s/token", h)) return 0;
        }
        FILE *f = fopen(path, "r");
        if (!f) return 0;
        size_t k = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[k] = 0;
        v = buf;
    }
    while (*v && isspace((unsigned char)*v)) v++;
    size_t len = 0;
    while (v[len] && !isspace((unsigned char)v[len])) len++;
    /* A token is printable ASCII without spaces; anything else would corrupt
     * the header. */
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)v[i] < 0x21 || (unsigned char)v[i] > 0x7e) return 0;
    if (len == 0 || len >= n) return 0;
    memcpy(out, v, len);
    out[len] = 0;
    return 1;
}

int rr_hub_repo_dir(const char *cache, const char *repo_id, char *out, size_t n) {
    /* models--ORG--NAME: '/' becomes "--" */
    char folder[256];
    size_t k = 0;
    const char *prefix = "models--";
    for (const char *p = prefix; *p; p++) folder[k++] = *p;
    for (const char *p = repo_id; *p && k + 3 < sizeof folder; p++) {
        if (*p == '/') { folder[k++] = '-'; folder[k++] = '-'; }
        else folder[k++] = *p;
    }
    folder[k] = 0;
    return rr_hub_fmt(out, n, "%s/%s", cache, folder);
}

int rr_hub_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0; /* follows symlinks: a dangling link is absent */
}

/* Read refs/<revision> (the commit hash, no newline in Python's files). */
static int read_ref(const char *repo_dir, const char *revision, char commit[65]) {
    char path[RR_HUB_PATH];
    if (rr_hub_fmt(path, sizeof path, "%s/refs/%s", repo_dir, revision)) return -1;
    FILE *f = fopen(path, "r"); /* a fixed buffer: a commit hash is 40 or 64 bytes */
    if (!f) return -1;
    char buf[128];
    size_t k = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[k] = 0;
    while (k && isspace((unsigned char)buf[k - 1])) buf[--k] = 0;
    if (!rr_hub_is_commit(buf)) return -1;
    memcpy(commit, buf, k + 1);
    return 0;
}

/* The first file the snapshot lacks (config, tokenizer, weights: the index
 * and each of its shards) into `missing`; 1 if none is missing. Naming it
 * tells a user of a cache filled by Python (AutoModel without AutoTokenizer
 * leaves no tokenizer.json) what to fetch. */
static int snapshot_missing(const char *snap, char *missing, size_t mn) {
    char p[RR_HUB_PATH];
    snprintf(missing, mn, "config.json");
    if (rr_hub_fmt(p, sizeof p, "%s/config.json", snap) || !rr_hub_exists(p)) return 0;
    snprintf(missing, mn, "tokenizer.json");
    if (rr_hub_fmt(p, sizeof p, "%s/tokenizer.json", snap) || !rr_hub_exists(p)) return 0;
    if (rr_hub_fmt(p, sizeof p, "%s/model.safetensors", snap) == 0 && rr_hub_exists(p)) return 1;
    snprintf(missing, mn, "model.safetensors (or model.safetensors.index.json)");
    if (rr_hub_fmt(p, sizeof p, "%s/model.safetensors.index.json", snap) || !rr_hub_exists(p))
        return 0;
    char **shards = NULL;
    size_t n = 0;
    snprintf(missing, mn, "readable model.safetensors.index.json");
    if (rr_hub_index_shards(p, &shards, &n) != RERANK_OK) return 0;
    int ok = 1;
    for (size_t i = 0; i < n && ok; i++)
        if (rr_hub_fmt(p, sizeof p, "%s/%s", snap, shards[i]) || !rr_hub_exists(p)) {
            snprintf(missing, mn, "%s", shards[i]);
            ok = 0;
        }
    rr_hub_free_names(shards, n);
    if (ok) missing[0] = 0;
    return ok;
}

int rr_hub_snapshot_complete(const char *snap) {
    char missing[300];
    return snapshot_missing(snap, missing, sizeof missing);
}

void rr_hub_free_names(char **names, size_t n) {
    for (size_t i = 0; i < n; i++) rr_free(names[i]);
    rr_free(names);
}

rerank_status_t rr_hub_index_shards(const char *index_path, char ***out, size_t *n_out) {
    *out = NULL;
    *n_out = 0;
    char *text = NULL;
    size_t len = 0;
    rerank_status_t st = rr_file_read(index_path, RR_MAX_CONFIG_JSON_BYTES, &text, &len);
    if (st) return st;
    /* jansson's own allocator here (not rr_json_parse, which routes it
     * through rr_malloc): jansson 2.14's lexer corrupts its heap when an
     * allocation fails mid-parse, which the fault-injection tests would hit. */
    json_error_t jerr;
    json_t *root = json_loadb(text, len, 0, &jerr);
    rr_free(text);
    if (!root) return rr_error(RERANK_ERR_FORMAT, "%s: line %d: %s", index_path, jerr.line, jerr.text);
    json_t *wm = json_object_get(root, "weight_map");
    if (!json_is_object(wm)) {
        json_decref(root);
        return rr_error(RERANK_ERR_FORMAT, "%s: no \"weight_map\" object", index_path);
    }
    char **names = NULL;
    size_t n = 0;
    rerank_status_t st2 = RERANK_OK;
    const char *key;
    json_t *val;
    json_object_foreach(wm, key, val) {
        const char *s = json_string_value(val);
        if (!s) { st2 = rr_error(RERANK_ERR_FORMAT, "%s: weight_map[\"%s\"] is not a string", index_path, key); break; }
        if (!rr_hub_valid_filename(s)) {
            st2 = rr_error(RERANK_ERR_FORMAT,
                           "%s: refusing shard name \"%s\" (must be a plain file name: no '/', "
                           "'\\\\', '..', leading '.')", index_path, s);
            break;
        }
        int dup = 0;
        for (size_t i = 0; i < n && !dup; i++) dup = !strcmp(names[i], s);
        if (dup) continue;
        if (n >= RR_MAX_SHARDS) {
            st2 = rr_error(RERANK_ERR_LIMIT, "%s: more than %d shards", index_path, RR_MAX_SHARDS);
            break;
        }
        char **nn = rr_realloc(names, (n + 1) * sizeof *nn);
        char *copy = nn ? rr_strndup(s, strlen(s)) : NULL;
        if (nn) names = nn;
        if (!copy) { st2 = rr_error(RERANK_ERR_NOMEM, "out of memory"); break; }
        names[n++] = copy;
    }
    json_decref(root);
    if (st2 == RERANK_OK && n == 0) st2 = rr_error(RERANK_ERR_FORMAT, "%s: weight_map is empty", index_path);
    if (st2 != RERANK_OK) { rr_hub_free_names(names, n); return st2; }
    *out = names;
    *n_out = n;
    return RERANK_OK;
}

rerank_status_t rr_hub_find_cached(const char *repo_id, const char *revision, const char *cache_dir,
                                   char *out, size_t n) {
    if (!revision || !*revision) revision = "main";
    if (!rr_hub_valid_repo_id(repo_id))
        return rr_error(RERANK_ERR_INVALID_ARGUMENT, "'%s' is not a valid Hub repo id", repo_id);
    if (!rr_hub_valid_revision(revision))
        return rr_error(RERANK_ERR_INVALID_ARGUMENT, "'%s' is not a valid revision", revision);
    char cache[RR_HUB_PATH], repo_dir[RR_HUB_PATH], commit[65], snap[RR_HUB_PATH];
    rerank_status_t st = rr_hub_cache_root(cache_dir, cache, sizeof cache);
    if (st) return st;
    if (rr_hub_repo_dir(cache, repo_id, repo_dir, sizeof repo_dir))
        return rr_error(RERANK_ERR_INVALID_ARGUMENT, "hub cache path too long");
    if (rr_hub_is_commit(revision)) memcpy(commit, revision, strlen(revision) + 1);
    else if (read_ref(repo_dir, revision, commit))
        return rr_error(RERANK_ERR_IO, "%s@%s is not in the cache %s", repo_id, revision, cache);
    if (rr_hub_fmt(snap, sizeof snap, "%s/snapshots/%s", repo_dir, commit))
        return rr_error(RERANK_ERR_INVALID_ARGUMENT, "hub cache path too long");
    char missing[300];
    if (!snapshot_missing(snap, missing, sizeof missing))
        return rr_error(RERANK_ERR_IO, "%s@%s: cached snapshot %s is incomplete: no %s", repo_id, revision, snap,
                        missing);
    if (rr_hub_fmt(out, n, "%s", snap))
        return rr_error(RERANK_ERR_INVALID_ARGUMENT, "output buffer too small for %s", snap);
    return RERANK_OK;
}

int rr_hub_env_offline(void) {
    const char *v = env("HF_HUB_OFFLINE");
    return v && (!strcmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcasecmp(v, "on"));
}
