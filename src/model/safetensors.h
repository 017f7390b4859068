/* safetensors.h — read-only, memory-mapped safetensors checkpoints.
 *
 * A file is: 8-byte little-endian header length N, N bytes of JSON
 * {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]},
 *  "__metadata__": {...}}, then the data (offsets are relative to it).
 * Every field is validated at open time; nothing is trusted. A sharded
 * checkpoint is model.safetensors.index.json ({"weight_map": {name: file}})
 * next to its shard files; rr_st_set_t opens either layout behind one lookup.
 */
#ifndef RR_MODEL_SAFETENSORS_H
#define RR_MODEL_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "common/limits.h"
#include "rerank.h"

typedef enum rr_dtype {
    RR_DT_F32 = 0,
    RR_DT_F16,
    RR_DT_BF16,
    RR_DT_OTHER, /* a valid safetensors dtype the engine cannot compute with */
} rr_dtype_t;

const char *rr_dtype_name(rr_dtype_t dt);
size_t rr_dtype_size(rr_dtype_t dt); /* 0 for RR_DT_OTHER */

typedef struct rr_st_tensor {
    const char *name;     /* NUL-terminated, owned by the file            */
    rr_dtype_t dtype;
    char dtype_str[16];   /* as written in the header, e.g. "I64"          */
    int32_t ndim;
    int64_t shape[RR_MAX_TENSOR_DIMS];
    int64_t numel;
    const void *data;     /* into the mapping; may be unaligned            */
    size_t nbytes;
} rr_st_tensor_t;

typedef struct rr_st_file rr_st_file_t;

/* Open and validate one .safetensors file (mmap, read-only). */
rerank_status_t rr_st_open(const char *path, rr_st_file_t **out);
void rr_st_close(rr_st_file_t *f);
size_t rr_st_count(const rr_st_file_t *f);
const rr_st_tensor_t *rr_st_at(const rr_st_file_t *f, size_t i);
const rr_st_tensor_t *rr_st_find(const rr_st_file_t *f, const char *name);
const char *rr_st_path(const rr_st_file_t *f);
/* Advise the kernel about upcoming access to all mapped data. */
void rr_st_advise_willneed(rr_st_file_t *f);

/* A checkpoint: one file or the shards named by an index. */
typedef struct rr_st_set {
    rr_st_file_t **files;
    size_t n_files;
    char *source; /* DIR/model.safetensors or DIR/model.safetensors.index.json (errors name it) */
} rr_st_set_t;

/* Open DIR/model.safetensors, or DIR/model.safetensors.index.json and every
 * shard it names (shard names must be plain file names: no '/' or ".."). */
rerank_status_t rr_st_set_open(const char *dir, rr_st_set_t *set);
void rr_st_set_close(rr_st_set_t *set);
const rr_st_tensor_t *rr_st_set_find(const rr_st_set_t *set, const char *name);
/* Copy n bytes of checkpoint data at p (inside one of set's mappings, e.g.
 * part of a tensor's data) into dst. Read from the file, not through the
 * mapping: no page-table work per 4 KiB page (several times faster where
 * page faults are dear, as in a VM) and nothing stays mapped. Falls back to
 * the mapping if the read fails. Safe from several threads at once. */
void rr_st_set_copy(const rr_st_set_t *set, const void *p, size_t n, void *dst);

#endif
