/* weights.h — a checkpoint's tensors as the blocks use them: views into the
 * safetensors mapping, found by name and checked against their shapes.
 *
 * A model family binds its tensors with the helpers below into a struct of
 * its own (rr_weights_t.family); every linear layer it binds is also listed
 * in rr_weights_t.dense, so a backend can prepare each (convert, quantize,
 * upload) without knowing the family.
 *
 * F32 tensors are views into the mapping (copied only when the file leaves
 * them misaligned); F16/BF16 vectors (norms, biases) are converted to F32 at
 * bind. Embedding tables (rr_weights_table) stay in the mapping in their own
 * dtype (1 GB in F32 for bge-m3): a lookup converts only the rows it reads.
 * A linear layer's weights are not converted at bind: the layer records
 * where they lie (its parts), and the backend materializes one layer at a
 * time in the form it computes with (rr_weights_dense_f32 / _bf16), so a
 * BF16 checkpoint never exists as F32 all at once. */
#ifndef RR_MODEL_WEIGHTS_H
#define RR_MODEL_WEIGHTS_H

#include <stddef.h>
#include <stdint.h>

#include "model/safetensors.h"

/* A matrix [rows, cols] or a vector (rows = 1). p is F32 and aligned unless
 * dtype says otherwise (embedding tables); p == NULL: absent. */
typedef struct rr_tensor {
    const void *p;
    rr_dtype_t dtype;
    int32_t rows, cols;
} rr_tensor_t;

static inline const float *rr_f32(const rr_tensor_t *t) { return (const float *)t->p; }

/* Most checkpoint tensors one linear layer stacks (query, key, value). */
#define RR_DENSE_MAX_PARTS 4

/* One checkpoint tensor [rows, in] of a linear layer, in the mapping. */
typedef struct rr_dense_part {
    const void *p;      /* checkpoint data; may be unaligned                   */
    rr_dtype_t dtype;   /* F32, F16 or BF16                                    */
    int32_t rows;
} rr_dense_part_t;

/* A linear layer y = x W^T + b, W as PyTorch stores it: [out, in]: its parts
 * stacked in order. */
typedef struct rr_dense {
    rr_tensor_t w;  /* [out, in] F32. p: a view (one aligned F32 part), or an
                     * owned copy made by rr_weights_dense_keep; NULL: not
                     * materialized (rows, cols are always set)               */
    rr_tensor_t b;  /* [1, out] F32; zeros where the checkpoint has no bias       */
    int32_t id;     /* index in rr_weights_t.dense                                */
    int keep_fp32;  /* a head layer: computed in fp32 whatever the precision      */
    int32_t n_parts;
    rr_dense_part_t part[RR_DENSE_MAX_PARTS];
} rr_dense_t;

typedef enum rr_norm_type {
    RR_NORM_LAYER = 0, /* (x - mean) / sqrt(var + eps) * g (+ b)   */
    RR_NORM_RMS = 1,   /* x / sqrt(mean(x^2) + eps) * g            */
} rr_norm_type_t;

typedef struct rr_norm {
    rr_tensor_t g, b; /* [1, n]; b: zeros for a LayerNorm without bias, NULL for RMS */
    float eps;
    rr_norm_type_t kind;
} rr_norm_t;

typedef struct rr_weights {
    rr_st_set_t files;  /* the mappings the views point into                  */
    rr_dtype_t dtype;   /* the checkpoint's: that of the first table bound     */
    int has_dtype;
    void *family;       /* the family's struct of views (one rr_malloc block)  */
    rr_dense_t **dense; /* every linear layer bound, by id                     */
    int32_t n_dense, cap_dense;
    void **owned;       /* converted / realigned / stacked copies              */
    int32_t n_owned, cap_owned;
} rr_weights_t;

/* Open DIR's checkpoint (model.safetensors or a sharded index). */
rerank_status_t rr_weights_open(rr_weights_t *w, const char *dir);
/* Release everything: copies, the family struct, the mappings. */
void rr_weights_release(rr_weights_t *w);

/* Tensor `name` is looked up as prefix + name, then bare (checkpoints saved
 * from the base model carry no prefix). 1 if present. */
int rr_weights_has(const rr_weights_t *w, const char *prefix, const char *name);
/* An F32 matrix [d0, d1], or a vector [d0] when d1 < 0 (then rows = 1,
 * cols = d0). Errors name the tensor and both shapes. */
rerank_status_t rr_weights_f32(rr_weights_t *w, const char *prefix, const char *name, int64_t d0, int64_t d1,
                               rr_tensor_t *t);
/* A table [rows, cols] left in its checkpoint dtype (F32, F16 or BF16). */
rerank_status_t rr_weights_table(rr_weights_t *w, const char *prefix, const char *name, int64_t rows, int64_t cols,
                                 rr_tensor_t *t);
/* Rows `which[0..n)` of a table as an F32 copy [n, cols] (e.g. two rows of
 * an LM head). */
rerank_status_t rr_weights_rows(rr_weights_t *w, const rr_tensor_t *table, const int32_t *which, int32_t n,
                                rr_tensor_t *t);

/* A linear layer `name`.weight [out, in] and, if `bias`, `name`.bias [out]
 * (else zeros). Registered in w->dense. `d` must stay where it is (it lives
 * in the family's struct). The weights are recorded, not converted. */
rerank_status_t rr_weights_dense(rr_weights_t *w, const char *prefix, const char *name, int32_t out, int32_t in,
                                 int bias, rr_dense_t *d);
/* Several linear layers with the same input stacked into one [sum outs, in]
 * (e.g. query, key, value: one GEMM instead of three); at most
 * RR_DENSE_MAX_PARTS. The weights are recorded, the biases stacked. */
rerank_status_t rr_weights_dense_stacked(rr_weights_t *w, const char *prefix, const char *const *names,
                                         const int32_t *outs, int n, int32_t in, int bias, rr_dense_t *d);
/* A norm `name`.weight [n] (+ `name`.bias if `bias`). */
rerank_status_t rr_weights_norm(rr_weights_t *w, const char *prefix, const char *name, int32_t n, int bias,
                                rr_norm_type_t kind, float eps, rr_norm_t *out);
/* An owned F32 vector of n zeros (a missing bias). */
rerank_status_t rr_weights_zeros(rr_weights_t *w, int32_t n, rr_tensor_t *t);
/* An owned, zeroed allocation freed with the weights (e.g. the family struct
 * or derived tables such as rotary cos/sin). NULL when out of memory. */
void *rr_weights_alloc(rr_weights_t *w, size_t bytes);

/* ---- materializing a linear layer's weights ---------------------------------
 * Each reads the parts from the checkpoint file (rr_st_set_copy: not through
 * the mapping), stacking them; the reads and conversions run on the OpenMP
 * threads. None needs w.p; all stay valid after a drop. A layer made in
 * memory (no parts, w.p set: tests) is copied from w.p instead. */

/* The dtype all of layer `id`'s parts share, or RR_DT_OTHER if they differ. */
rr_dtype_t rr_weights_dense_dtype(const rr_weights_t *w, int32_t id);
/* Layer `id`'s weights as F32 into dst [out * in] (bit exact). */
void rr_weights_dense_f32(const rr_weights_t *w, int32_t id, float *dst);
/* Layer `id`'s weights as BF16 into dst [out * in], only where every part is
 * BF16: the checkpoint's bits, with a NaN made quiet — exactly what
 * converting them to F32 and rounding back to BF16 gives. */
void rr_weights_dense_bf16(const rr_weights_t *w, int32_t id, uint16_t *dst);
/* Make layer `id`'s w.p valid for the weights' life (fp32 computes from it):
 * nothing for a view, else an owned F32 copy. */
rerank_status_t rr_weights_dense_keep(rr_weights_t *w, int32_t id);
/* The most weights (out * in) of any linear layer. */
size_t rr_weights_dense_max(const rr_weights_t *w);

/* Fault in the mapped pages of every linear layer's weights that is a view. */
void rr_weights_prefault(const rr_weights_t *w);
/* A backend converted linear layer `id` and will not read its weights again:
 * free its F32 copy if it has one and drop the mapped pages its parts cover
 * (neighbours stay mapped; a later read faults them back in); its w.p
 * becomes NULL. */
void rr_weights_drop_dense(rr_weights_t *w, int32_t id);

#endif
