/* safetensors.c — parse, validate and mmap safetensors files and indexes. */
#include "model/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/file.h"
#include "common/error.h"
#include "common/strmap.h"
#include "model/json_load.h"

struct rr_st_file {
    char *path;
    void *map;          /* whole file, PROT_READ                          */
    int fd;             /* the file, open for rr_st_set_copy; -1: none    */
    size_t map_size;
    rr_st_tensor_t *tensors;
    size_t n_tensors;
    char *names;        /* arena of NUL-terminated tensor names           */
    rr_strmap_t *index; /* name -> position in tensors                    */
};

/* ---- dtypes ------------------------------------------------------------- */

static const struct {
    const char *name;
    size_t size;
} k_other_dtypes[] = {
    {"F64", 8}, {"I64", 8}, {"U64", 8}, {"I32", 4}, {"U32", 4}, {"I16", 2}, {"U16", 2},
    {"I8", 1},  {"U8", 1},  {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1},
};

const char *rr_dtype_name(rr_dtype_t dt) {
    switch (dt) {
    case RR_DT_F32: return "F32";
    case RR_DT_F16: return "F16";
    case RR_DT_BF16: return "BF16";
    case RR_DT_OTHER: break;
    }
    return "other";
}

size_t rr_dtype_size(rr_dtype_t dt) {
    switch (dt) {
    case RR_DT_F32: return 4;
    case RR_DT_F16: case RR_DT_BF16: return 2;
    case RR_DT_OTHER: break;
    }
    return 0;
}

/* Returns the element size, or 0 for a dtype string nobody knows. */
static size_t parse_dtype(const char *s, rr_dtype_t *dt) {
    if (!strcmp(s, "F32")) { *dt = RR_DT_F32; return 4; }
    if (!strcmp(s, "F16")) { *dt = RR_DT_F16; return 2; }
    if (!strcmp(s, "BF16")) { *dt = RR_DT_BF16; return 2; }
    *dt = RR_DT_OTHER;
    for (size_t i = 0; i < sizeof k_other_dtypes / sizeof k_other_dtypes[0]; i++)
        if (!strcmp(s, k_other_dtypes[i].name)) return k_other_dtypes[i].size;
    return 0;
}

/* ---- header ------------------------------------------------------------- */

static int64_t get_nonneg_int(json_t *v) {
    if (!json_is_integer(v)) return -1;
    json_int_t x = json_integer_value(v);
    return x < 0 ? -1 : (int64_t)x;
}

/* Parse one tensor entry {dtype, shape, data_offsets} into *t (name set by
 * the caller). data_size is the byte length of the data section. */
static rerank_status_t parse_entry(const char *path, const char *name, json_t *e,
                                   size_t data_size, const char *data, rr_st_tensor_t *t) {
    if (!json_is_object(e))
        return rr_error(RERANK_ERR_FORMAT, "%s: tensor '%s': entry is not an object", path, name);
    json_t *jd = json_object_get(e, "dtype");
    json_t *js = json_object_get(e, "shape");
    json_t *jo = json_object_get(e, "data_offsets");
    if (!json_is_string(jd))
        return rr_error(RERANK_ERR_FORMAT, "%s: tensor '%s': missing or non-string dtype", path, name);
    if (!json_is_array(js))
        return rr_error(RERANK_ERR_FORMAT, "%s: tensor '%s': missing or non-array shape", path, name);
    if (!json_is_array(jo) || json_array_size(jo) != 2)
        return rr_error(RERANK_ERR_FORMAT, "%s: tensor '%s': data_offsets must be [begin, end]",
                        path, name);
    const char *ds = json_string_value(jd);
    size_t esize = parse_dtype(ds, &t->dtype);
    if (esize == 0)
        return rr_error(RERANK_ERR_FORMAT, "%s: tensor '%s': unknown dtype '%.32s'", path, name, ds);
    snprintf(t->dtype_str, sizeof t->dtype_str, "%s", ds);

    size_t nd = json_array_size(js);
    if (nd > RR_MAX_TENSOR_DIMS)
        return rr_error(RERANK_ERR_FORMAT, "%s: tensor '%s': rank %zu exceeds %d", path, name, nd,
                        RR_MAX_TENSOR_DIMS);
    uint64_t numel = 1;
    t->ndim = (int32_t)nd;
    for (size_t i = 0; i < nd; i++) {
        int64_t d = get_nonneg_int(json_array_get(js, i));
        if (d < 0)
            return rr_error(RERANK_ERR_FORMAT, "%s: tensor '%s': shape[%zu] is not a non-negative integer",
                            path, name, i);
        t->shape[i] = d;
        if (__builtin_mul_overflow(numel, (uint64_t)d, &numel))
            return rr_error(RERANK_ERR_FORMAT, "%s: tensor '%s': shape product overflows", path, name);
    }
    uint64_t nbytes;
    if (__builtin_mul_overflow(numel, (uint64_t)esize, &nbytes) || numel > INT64_MAX)
        return rr_error(RERANK_ERR_FORMAT, "%s: tensor '%s': byte size overflows", path, name);
    int64_t b = get_nonneg_int(json_array_get(jo, 0));
    int64_t en = get_nonneg_int(json_array_get(jo, 1));
    if (b < 0 || en < 0)
        return rr_error(RERANK_ERR_FORMAT, "%s: tensor '%s': data_offsets are not non-negative integers",
                        path, name);
    if (b > en)
        return rr_error(RERANK_ERR_FORMAT, "%s: tensor '%s': data_offsets begin %lld > end %lld", path,
                        name, (long long)b, (long long)en);
    if ((uint64_t)en > data_size)
        return rr_error(RERANK_ERR_FORMAT,
                        "%s: tensor '%s': data_offsets end %lld beyond the data section (%zu bytes; "
                        "file truncated?)", path, name, (long long)en, data_size);
    if ((uint64_t)(en - b) != nbytes)
        return rr_error(RERANK_ERR_FORMAT,
                        "%s: tensor '%s': %lld data bytes but shape x dtype needs %llu", path, name,
                        (long long)(en - b), (unsigned long long)nbytes);
    t->numel = (int64_t)numel;
    t->nbytes = (size_t)nbytes;
    t->data = data + b;
    return RERANK_OK;
}

static int cmp_by_offset(const void *a, const void *b) {
    const rr_st_tensor_t *x = *(rr_st_tensor_t *const *)a, *y = *(rr_st_tensor_t *const *)b;
    if (x->data != y->data) return (const char *)x->data < (const char *)y->data ? -1 : 1;
    return x->nbytes < y->nbytes ? -1 : x->nbytes > y->nbytes;
}

/* Tensors must not overlap (empty tensors may sit anywhere). */
static rerank_status_t check_overlap(rr_st_file_t *f) {
    if (f->n_tensors < 2) return RERANK_OK;
    rr_st_tensor_t **order = rr_malloc(f->n_tensors * sizeof *order);
    if (!order) return rr_error(RERANK_ERR_NOMEM, "%s: out of memory sorting tensors", f->path);
    for (size_t i = 0; i < f->n_tensors; i++) order[i] = &f->tensors[i];
    qsort(order, f->n_tensors, sizeof *order, cmp_by_offset);
    const char *end = NULL;
    const rr_st_tensor_t *prev = NULL;
    rerank_status_t st = RERANK_OK;
    for (size_t i = 0; i < f->n_tensors; i++) {
        const rr_st_tensor_t *t = order[i];
        if (t->nbytes == 0) continue;
        if (end && (const char *)t->data < end) {
            st = rr_error(RERANK_ERR_FORMAT, "%s: tensors '%s' and '%s' overlap", f->path, prev->name,
                          t->name);
            break;
        }
        end = (const char *)t->data + t->nbytes;
        prev = t;
    }
    rr_free(order);
    return st;
}

static rerank_status_t parse_header(rr_st_file_t *f, const char *json, size_t json_len,
                                    const char *data, size_t data_size) {
    json_t *root;
    rerank_status_t st = rr_json_parse(json, json_len, f->path, &root);
    if (st) return st;
    if (!json_is_object(root)) {
        st = rr_error(RERANK_ERR_FORMAT, "%s: header is not a JSON object", f->path);
        goto done;
    }
    size_t n = json_object_size(root), names_len = 0;
    if (n > RR_MAX_TENSORS + 1) {
        st = rr_error(RERANK_ERR_LIMIT, "%s: %zu header entries exceed the limit of %d tensors", f->path,
                      n, RR_MAX_TENSORS);
        goto done;
    }
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) names_len += strlen(key) + 1;
    f->tensors = rr_calloc(n ? n : 1, sizeof *f->tensors);
    f->names = rr_malloc(names_len ? names_len : 1);
    f->index = rr_strmap_new(n);
    if (!f->tensors || !f->names || !f->index) {
        st = rr_error(RERANK_ERR_NOMEM, "%s: out of memory for %zu tensors", f->path, n);
        goto done;
    }
    size_t off = 0;
    json_object_foreach(root, key, val) {
        if (!strcmp(key, "__metadata__")) {
            if (!json_is_object(val)) {
                st = rr_error(RERANK_ERR_FORMAT, "%s: __metadata__ is not an object", f->path);
                goto done;
            }
            continue;
        }
        rr_st_tensor_t *t = &f->tensors[f->n_tensors];
        size_t kl = strlen(key);
        memcpy(f->names + off, key, kl + 1);
        t->name = f->names + off;
        off += kl + 1;
        st = parse_entry(f->path, t->name, val, data_size, data, t);
        if (st) goto done;
        if (rr_strmap_put(f->index, t->name, kl, (int32_t)f->n_tensors)) {
            st = rr_error(RERANK_ERR_NOMEM, "%s: out of memory indexing tensors", f->path);
            goto done;
        }
        f->n_tensors++;
    }
    st = check_overlap(f);
done:
    json_decref(root);
    return st;
}

/* ---- files -------------------------------------------------------------- */

rerank_status_t rr_st_open(const char *path, rr_st_file_t **out) {
    *out = NULL;
    rr_st_file_t *f = rr_calloc(1, sizeof *f);
    if (!f) return rr_error(RERANK_ERR_NOMEM, "out of memory opening %s", path);
    f->fd = -1;
    rerank_status_t st = RERANK_OK;
    f->path = rr_strndup(path, strlen(path));
    if (!f->path) { st = rr_error(RERANK_ERR_NOMEM, "out of memory opening %s", path); goto fail; }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) { st = rr_error(RERANK_ERR_IO, "%s: cannot open: %s", path, strerror(errno)); goto fail; }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        st = rr_error(RERANK_ERR_IO, "%s: not a readable regular file", path);
        goto fail;
    }
    if (sb.st_size < 8) {
        close(fd);
        st = rr_error(RERANK_ERR_FORMAT, "%s: %lld bytes is too short for a safetensors file", path,
                      (long long)sb.st_size);
        goto fail;
    }
    f->map_size = (size_t)sb.st_size;
    f->map = mmap(NULL, f->map_size, PROT_READ, MAP_PRIVATE, fd, 0);
    f->fd = fd; /* kept: rr_st_set_copy reads the weights with pread */
    if (f->map == MAP_FAILED) {
        f->map = NULL;
        st = rr_error(RERANK_ERR_IO, "%s: mmap failed: %s", path, strerror(errno));
        goto fail;
    }
    const unsigned char *p = f->map;
    if (rr_is_lfs_pointer(p, f->map_size)) {
        st = rr_error(RERANK_ERR_FORMAT, "%s: a Git LFS pointer (%zu bytes), not the weights: the repository was "
                      "cloned without git-lfs (run `git lfs pull` there, or fetch it with `rerank pull`)", path,
                      f->map_size);
        goto fail;
    }
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | p[i];
    if (hlen > RR_MAX_SAFETENSORS_HEADER_BYTES) {
        st = rr_error(RERANK_ERR_FORMAT, "%s: header length %llu exceeds %u bytes", path,
                      (unsigned long long)hlen, RR_MAX_SAFETENSORS_HEADER_BYTES);
        goto fail;
    }
    if (hlen < 2 || hlen > f->map_size - 8) {
        st = rr_error(RERANK_ERR_FORMAT, "%s: header length %llu does not fit the %zu-byte file", path,
                      (unsigned long long)hlen, f->map_size);
        goto fail;
    }
    const char *json = (const char *)p + 8;
    st = parse_header(f, json, (size_t)hlen, json + hlen, f->map_size - 8 - (size_t)hlen);
    if (st) goto fail;
    *out = f;
    return RERANK_OK;
fail:
    rr_st_close(f);
    return st;
}

void rr_st_close(rr_st_file_t *f) {
    if (!f) return;
    if (f->map) munmap(f->map, f->map_size);
    if (f->fd >= 0) close(f->fd);
    rr_strmap_free(f->index);
    rr_free(f->tensors);
    rr_free(f->names);
    rr_free(f->path);
    rr_free(f);
}

size_t rr_st_count(const rr_st_file_t *f) { return f->n_tensors; }
const rr_st_tensor_t *rr_st_at(const rr_st_file_t *f, size_t i) {
    return i < f->n_tensors ? &f->tensors[i] : NULL;
}
const char *rr_st_path(const rr_st_file_t *f) { return f->path; }

const rr_st_tensor_t *rr_st_find(const rr_st_file_t *f, const char *name) {
    int32_t i;
    if (!rr_strmap_get(f->index, name, strlen(name), &i)) return NULL;
    return &f->tensors[i];
}

/* Copy [p, p + n) of f's mapping into dst with pread; 0 if all read. */
static int file_copy(const rr_st_file_t *f, const void *p, size_t n, void *dst) {
    if (f->fd < 0) return -1;
    size_t off = (size_t)((const char *)p - (const char *)f->map), got = 0;
    while (got < n) {
        ssize_t r = pread(f->fd, (char *)dst + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        got += (size_t)r;
    }
    return 0;
}

void rr_st_set_copy(const rr_st_set_t *set, const void *p, size_t n, void *dst) {
    const char *c = p;
    for (size_t i = 0; i < set->n_files; i++) {
        const rr_st_file_t *f = set->files[i];
        const char *a = f->map;
        /* the file whose mapping holds [p, p + n) */
        if (a && c >= a && n <= f->map_size && (size_t)(c - a) <= f->map_size - n) {
            if (file_copy(f, p, n, dst)) memcpy(dst, p, n);
            return;
        }
    }
    memcpy(dst, p, n); /* not in a mapping: plain memory */
}

void rr_st_advise_willneed(rr_st_file_t *f) {
    if (f && f->map) madvise(f->map, f->map_size, MADV_WILLNEED);
}

/* ---- sets (single file or sharded) -------------------------------------- */

static char *join_path(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *s = rr_malloc(a + b + 2);
    if (!s) return NULL;
    memcpy(s, dir, a);
    s[a] = '/';
    memcpy(s + a + 1, name, b + 1);
    return s;
}

static rerank_status_t set_add(rr_st_set_t *set, const char *dir, const char *name) {
    char *path = join_path(dir, name);
    if (!path) return rr_error(RERANK_ERR_NOMEM, "out of memory opening shard %s", name);
    rr_st_file_t *f;
    rerank_status_t st = rr_st_open(path, &f);
    rr_free(path);
    if (st) return st;
    set->files[set->n_files++] = f;
    return RERANK_OK;
}

static int shard_name_ok(const char *s) {
    return *s && !strchr(s, '/') && !strchr(s, '\\') && !strstr(s, "..");
}

static rerank_status_t open_index(const char *dir, const char *index_path, rr_st_set_t *set) {
    json_t *root;
    rerank_status_t st = rr_json_parse_file(index_path, RR_MAX_CONFIG_JSON_BYTES, &root);
    if (st) return st;
    json_t *wm = json_object_get(root, "weight_map");
    if (!json_is_object(wm)) {
        st = rr_error(RERANK_ERR_FORMAT, "%s: missing \"weight_map\" object", index_path);
        goto done;
    }
    size_t n = json_object_size(wm);
    if (n > RR_MAX_TENSORS) {
        st = rr_error(RERANK_ERR_LIMIT, "%s: %zu tensors exceed the limit of %d", index_path, n,
                      RR_MAX_TENSORS);
        goto done;
    }
    /* Distinct shard names, in first-seen order. */
    const char **names = rr_calloc(n ? n : 1, sizeof *names);
    size_t n_names = 0;
    if (!names) { st = rr_error(RERANK_ERR_NOMEM, "%s: out of memory", index_path); goto done; }
    const char *key;
    json_t *val;
    json_object_foreach(wm, key, val) {
        if (!json_is_string(val)) {
            st = rr_error(RERANK_ERR_FORMAT, "%s: weight_map[\"%s\"] is not a string", index_path, key);
            break;
        }
        const char *s = json_string_value(val);
        if (!shard_name_ok(s)) {
            st = rr_error(RERANK_ERR_FORMAT,
                          "%s: shard name '%.200s' for '%s' must be a plain file name (no '/' or '..')",
                          index_path, s, key);
            break;
        }
        size_t j = 0;
        while (j < n_names && strcmp(names[j], s)) j++;
        if (j == n_names) {
            if (n_names >= RR_MAX_SHARDS) {
                st = rr_error(RERANK_ERR_LIMIT, "%s: more than %d shards", index_path, RR_MAX_SHARDS);
                break;
            }
            names[n_names++] = s;
        }
    }
    if (!st && n_names == 0) st = rr_error(RERANK_ERR_FORMAT, "%s: weight_map is empty", index_path);
    if (!st) {
        set->files = rr_calloc(n_names, sizeof *set->files);
        if (!set->files) st = rr_error(RERANK_ERR_NOMEM, "%s: out of memory", index_path);
    }
    for (size_t j = 0; !st && j < n_names; j++) st = set_add(set, dir, names[j]);
    rr_free(names);
done:
    json_decref(root);
    return st;
}

/* DIR has neither layout; name a PyTorch pickle checkpoint if that is what
 * it has (repos from before safetensors). */
static rerank_status_t no_checkpoint(const char *dir) {
    static const char *const pickles[] = {"pytorch_model.bin", "pytorch_model.bin.index.json"};
    for (size_t i = 0; i < sizeof pickles / sizeof pickles[0]; i++) {
        char *p = join_path(dir, pickles[i]);
        int there = p && access(p, F_OK) == 0;
        rr_free(p);
        if (there)
            return rr_error(RERANK_ERR_UNSUPPORTED,
                            "%s: no model.safetensors or model.safetensors.index.json, only %s (a PyTorch pickle, "
                            "which rerank does not load): save the model as safetensors (transformers: "
                            "save_pretrained(dir, safe_serialization=True))", dir, pickles[i]);
    }
    return rr_error(RERANK_ERR_IO, "%s: no model.safetensors or model.safetensors.index.json", dir);
}

rerank_status_t rr_st_set_open(const char *dir, rr_st_set_t *set) {
    memset(set, 0, sizeof *set);
    char *single = join_path(dir, "model.safetensors");
    char *index = join_path(dir, "model.safetensors.index.json");
    rerank_status_t st = RERANK_OK;
    if (!single || !index) {
        st = rr_error(RERANK_ERR_NOMEM, "out of memory opening %s", dir);
    } else if (access(single, F_OK) == 0) {
        set->files = rr_calloc(1, sizeof *set->files);
        if (!set->files) st = rr_error(RERANK_ERR_NOMEM, "out of memory opening %s", single);
        else st = set_add(set, dir, "model.safetensors");
        set->source = single;
        single = NULL;
    } else if (access(index, F_OK) == 0) {
        st = open_index(dir, index, set);
        set->source = index;
        index = NULL;
    } else {
        st = no_checkpoint(dir);
    }
    rr_free(single);
    rr_free(index);
    if (st) rr_st_set_close(set);
    return st;
}

void rr_st_set_close(rr_st_set_t *set) {
    if (!set) return;
    for (size_t i = 0; i < set->n_files; i++) rr_st_close(set->files[i]);
    rr_free(set->files);
    rr_free(set->source);
    set->files = NULL;
    set->n_files = 0;
    set->source = NULL;
}

const rr_st_tensor_t *rr_st_set_find(const rr_st_set_t *set, const char *name) {
    for (size_t i = 0; i < set->n_files; i++) {
        const rr_st_tensor_t *t = rr_st_find(set->files[i], name);
        if (t) return t;
    }
    return NULL;
}
