/* gemm.c — oneDNN matmul primitives for the linear layers (see gemm.h). */
#include "cpu/gemm.h"

#include <dnnl.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"
#include "cpu/scratch.h"
#include "engine/bench_api.h"
#include "kernels/kernels.h"

/* One weight layout per (out, in, precision), shared by every layer of that
 * shape. oneDNN's brgemm matmul (AVX-512) wants its weights in a blocked
 * layout and a fixed M: at M = 128 it runs fp32 2.3x, int8 1.3x faster than
 * the run-time-M GEMM over plain weights, which must repack W at every call
 * (bench's gemm_at_batch_m_gflops on W3; README, "GEMM layout"). Where oneDNN prefers a plain layout (AVX2), the
 * weights stay plain (W [out, in]) and one run-time-M primitive serves all M. */
typedef struct gemm_shape {
    int32_t out, in;
    rerank_precision_t prec;
    int blocked;              /* weights in w_md's blocked layout, a primitive per M */
    int no_bf16_out;          /* oneDNN cannot fuse GELU with a bf16 output here */
    int row_blocks;           /* calls see whole RR_GEMM_ROW_BLOCK blocks and a padded tail (run) */
    int64_t calls;            /* run calls, their seconds in oneDNN and useful FLOPs */
    double seconds, flops;
    dnnl_memory_desc_t plain; /* W [out, in] row-major, as [in, out] dnnl_ba   */
    dnnl_memory_desc_t w_md;  /* how layers of this shape hold their weights    */
} shape_t;

typedef struct prim {
    int shape;               /* index into g->shapes                           */
    int epi;                 /* rr_epilogue_t, | EPI_DST_BF16                  */
    int64_t m;               /* rows (blocked), or 0: M given at run time      */
    int fused;               /* bias + epilogue applied by oneDNN             */
    uint64_t used;           /* last use (least recently used goes first)      */
    dnnl_primitive_t p;
} prim_t;

struct rr_gemm {
    dnnl_engine_t eng;
    dnnl_stream_t stream;
    shape_t *shapes;
    int n_shapes, cap_shapes;
    prim_t prims[RR_GEMM_MAX_PRIMS];
    int n_prims;
    uint64_t tick;
    int plain_only;  /* rr_gemm_set_plain: never the blocked layout          */
    int rows_mode;   /* rr_gemm_set_row_blocks: > 0 every shape splits its rows, < 0 none */
    int64_t created; /* primitives created (rr_gemm_primitives_created)     */
    rr_buf_t act;    /* activations converted for bf16 / int8: [m, in]     */
    rr_buf_t ascale; /* int8: per-token scales [m]                         */
    rr_buf_t azero;  /* int8: per-token zero points [m]                    */
    rr_buf_t tmp;    /* int8 residual layers: raw output [m, out]          */
    rr_buf_t act2, ascale2, azero2; /* int8 FFN: the quantized GELU output  */
    rr_buf_t rows;   /* int8 FFN: one row of floats per thread             */
    rr_buf_t gated;  /* fp32/bf16 gated FFN: down's input [m, I]           */
    rr_buf_t pad_x, pad_y; /* run: the tail rows, padded, in and out      */
    struct {         /* rr_gemm_stage: the next GEMM's input, made early    */
        const float *x; /* NULL: nothing staged                          */
        int64_t m, k;
        rerank_precision_t prec;
        rr_buf_t q[2], scale[2], zero[2]; /* as act / ascale / azero: two sets,
                                   a new stage is made while its maker's own staged input is read */
        int set;                /* the set of the latest stage             */
    } stage;
    int64_t staged_uses; /* inputs taken from a stage (rr_gemm_staged_uses) */
    double exec_s;   /* seconds in matmuls (rr_gemm_seconds)               */
};

double rr_gemm_seconds(const rr_gemm_t *g) { return g->exec_s; }
int64_t rr_gemm_primitives_created(const rr_gemm_t *g) { return g->created; }
int64_t rr_gemm_staged_uses(const rr_gemm_t *g) { return g->staged_uses; }
void rr_gemm_set_plain(rr_gemm_t *g, int plain) { g->plain_only = plain; }
void rr_gemm_set_row_blocks(rr_gemm_t *g, int mode) { g->rows_mode = mode; }

int rr_gemm_shape_stats(const rr_gemm_t *g, rr_gemm_shape_stat_t *out, int cap) {
    int n = 0;
    for (int i = 0; i < g->n_shapes && n < cap; i++) {
        const shape_t *sh = &g->shapes[i];
        if (sh->calls)
            out[n++] = (rr_gemm_shape_stat_t){.in = sh->in, .out = sh->out, .precision = sh->prec, .calls = sh->calls,
                                              .seconds = sh->seconds, .flops = sh->flops};
    }
    return n;
}

rerank_status_t rr_gemm_new(rr_gemm_t **out) {
    *out = NULL;
    rr_gemm_t *g = rr_calloc(1, sizeof *g);
    if (!g) return rr_error(RERANK_ERR_NOMEM, "out of memory creating the GEMM context");
    if (dnnl_engine_create(&g->eng, dnnl_cpu, 0) != dnnl_success ||
        dnnl_stream_create(&g->stream, g->eng, dnnl_stream_default_flags) != dnnl_success) {
        rr_gemm_free(g);
        return rr_error(RERANK_ERR_INTERNAL, "oneDNN: cannot create the CPU engine/stream");
    }
    *out = g;
    return RERANK_OK;
}

void rr_gemm_free(rr_gemm_t *g) {
    if (!g) return;
    for (int i = 0; i < g->n_prims; i++) dnnl_primitive_destroy(g->prims[i].p);
    rr_free(g->shapes);
    rr_buf_release(&g->act);
    rr_buf_release(&g->ascale);
    rr_buf_release(&g->azero);
    rr_buf_release(&g->tmp);
    rr_buf_release(&g->act2);
    rr_buf_release(&g->ascale2);
    rr_buf_release(&g->azero2);
    rr_buf_release(&g->rows);
    rr_buf_release(&g->gated);
    rr_buf_release(&g->pad_x);
    rr_buf_release(&g->pad_y);
    for (int i = 0; i < 2; i++) {
        rr_buf_release(&g->stage.q[i]);
        rr_buf_release(&g->stage.scale[i]);
        rr_buf_release(&g->stage.zero[i]);
    }
    if (g->stream) dnnl_stream_destroy(g->stream);
    if (g->eng) dnnl_engine_destroy(g->eng);
    rr_free(g);
}

/* ---- primitives ---------------------------------------------------------- */

/* A primitive's epilogue with this bit writes bf16 instead of f32 (bf16
 * layers whose output only feeds another bf16 GEMM). */
#define EPI_DST_BF16 0x100
#define EPI_KIND(e) ((rr_epilogue_t)((int)(e) & ~EPI_DST_BF16))

static dnnl_data_type_t dst_type(int epi) { return epi & EPI_DST_BF16 ? dnnl_bf16 : dnnl_f32; }

static dnnl_data_type_t src_type(rerank_precision_t p) {
    return p == RERANK_PRECISION_BF16 ? dnnl_bf16 : p == RERANK_PRECISION_INT8 ? dnnl_u8 : dnnl_f32;
}

static dnnl_data_type_t wei_type(rerank_precision_t p) {
    return p == RERANK_PRECISION_INT8 ? dnnl_s8 : src_type(p);
}

/* The primitive descriptor of [m, in] x W -> f32 [m, out] (m 0: run-time M)
 * with weights `w_md`. fp32/bf16: + bias, + epilogue as post-ops if `epi`
 * is not NONE. int8: the raw sums (weight and token scales, zero points,
 * bias and epilogue come after, in one pass: oneDNN 2.6's brgemm takes no
 * run-time output scales, and per-layer constant ones would mean a
 * primitive per layer). */
static dnnl_status_t describe(rr_gemm_t *g, const shape_t *sh, const dnnl_memory_desc_t *w_md, int64_t m,
                              int epi, dnnl_primitive_desc_t *pd) {
    const int64_t rows = m > 0 ? m : DNNL_RUNTIME_DIM_VAL;
    dnnl_memory_desc_t src_md, dst_md, b_md;
    dnnl_dims_t sd = {rows, sh->in}, bd = {1, sh->out}, dd = {rows, sh->out};
    const int int8 = sh->prec == RERANK_PRECISION_INT8;
    dnnl_status_t s;
    if ((s = dnnl_memory_desc_init_by_tag(&src_md, 2, sd, src_type(sh->prec), dnnl_ab)) ||
        (s = dnnl_memory_desc_init_by_tag(&b_md, 2, bd, dnnl_f32, dnnl_ab)) ||
        (s = dnnl_memory_desc_init_by_tag(&dst_md, 2, dd, dst_type(epi), dnnl_ab)))
        return s;
    dnnl_matmul_desc_t md;
    if ((s = dnnl_matmul_desc_init(&md, &src_md, w_md, int8 ? NULL : &b_md, &dst_md))) return s;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    if ((s = dnnl_primitive_attr_create(&attr))) return s;
    if (!int8 && EPI_KIND(epi) != RR_EPI_NONE) {
        if ((s = dnnl_post_ops_create(&po))) goto done;
        s = EPI_KIND(epi) == RR_EPI_GELU ? dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_gelu_erf, 0, 0)
                               : dnnl_post_ops_append_sum(po, 1.0f);
        if (s || (s = dnnl_primitive_attr_set_post_ops(attr, po))) goto done;
    }
    s = dnnl_primitive_desc_create(pd, &md, attr, g->eng, NULL);
done:
    if (po) dnnl_post_ops_destroy(po);
    dnnl_primitive_attr_destroy(attr);
    return s;
}

/* The layout for (out, in, prec): ask oneDNN what it wants at a typical M;
 * blocked if that is a blocked layout (and not rr_gemm_set_plain), else
 * plain. *idx = -1 with RERANK_OK if oneDNN has no matmul for this
 * precision on this CPU (callers fall back to fp32). */
static rerank_status_t get_shape(rr_gemm_t *g, int32_t out, int32_t in, rerank_precision_t prec, int *idx) {
    *idx = -1;
    for (int i = 0; i < g->n_shapes; i++)
        if (g->shapes[i].out == out && g->shapes[i].in == in && g->shapes[i].prec == prec) { *idx = i; return RERANK_OK; }
    shape_t sh = {.out = out, .in = in, .prec = prec};
    dnnl_dims_t wd = {in, out};
    dnnl_memory_desc_t any;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t s;
    if ((s = dnnl_memory_desc_init_by_tag(&sh.plain, 2, wd, wei_type(prec), dnnl_ba)) || /* W[out, in] */
        (s = dnnl_memory_desc_init_by_tag(&any, 2, wd, wei_type(prec), dnnl_format_tag_any)))
        goto fail;
    sh.w_md = sh.plain;
    if (!g->plain_only && describe(g, &sh, &any, 256, RR_EPI_NONE, &pd) == dnnl_success) {
        const dnnl_memory_desc_t *w = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
        if (w && w->format_kind == dnnl_blocked && w->format_desc.blocking.inner_nblks > 0) {
            sh.w_md = *w;
            sh.blocked = 1;
        }
        const char *impl = NULL;
        sh.row_blocks = g->rows_mode == 0 &&
                        dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success && impl &&
                        strstr(impl, "amx");
        dnnl_primitive_desc_destroy(pd);
        pd = NULL;
    }
    sh.row_blocks |= g->rows_mode > 0;
    /* the plain layout must run at a run-time M (a blocked one just did at M = 256) */
    if (!sh.blocked) {
        if ((s = describe(g, &sh, &sh.w_md, 0, RR_EPI_NONE, &pd))) goto fail;
        dnnl_primitive_desc_destroy(pd);
    }
    if (g->n_shapes == g->cap_shapes) {
        int cap = g->cap_shapes ? 2 * g->cap_shapes : 8;
        shape_t *ns = rr_realloc(g->shapes, (size_t)cap * sizeof *ns);
        if (!ns) return rr_error(RERANK_ERR_NOMEM, "out of memory for GEMM shapes");
        g->shapes = ns;
        g->cap_shapes = cap;
    }
    g->shapes[g->n_shapes] = sh;
    *idx = g->n_shapes++;
    return RERANK_OK;
fail:
    if (s == dnnl_unimplemented && prec != RERANK_PRECISION_FP32) return RERANK_OK;
    return rr_error(RERANK_ERR_INTERNAL, "oneDNN: cannot create %s matmul [M x %d] x [%d x %d] (status %d)",
                    rerank_precision_str(prec), in, in, out, (int)s);
}

rerank_status_t rr_gemm_layout_blocked(rr_gemm_t *g, int32_t out, int32_t in, rerank_precision_t prec, int *blocked) {
    int si;
    rerank_status_t st = get_shape(g, out, in, prec, &si);
    *blocked = !st && si >= 0 && g->shapes[si].blocked;
    return st;
}

/* The primitive for shape `si`, epilogue and m rows (blocked layouts; the
 * plain one has one run-time-M primitive). Valid until the next get_prim. */
static rerank_status_t get_prim(rr_gemm_t *g, int si, int epi, int64_t m, prim_t **pp) {
    const shape_t *sh = &g->shapes[si];
    const int64_t key = sh->blocked ? m : 0;
    int lru = 0;
    for (int i = 0; i < g->n_prims; i++) {
        prim_t *p = &g->prims[i];
        if (p->shape == si && p->epi == epi && p->m == key) {
            p->used = ++g->tick;
            *pp = p;
            return RERANK_OK;
        }
        if (p->used < g->prims[lru].used) lru = i;
    }
    /* Fused epilogue first; without it, the kernels apply it afterwards. */
    prim_t np = {.shape = si, .epi = epi, .m = key, .used = ++g->tick};
    dnnl_primitive_desc_t pd;
    np.fused = sh->prec != RERANK_PRECISION_INT8 && EPI_KIND(epi) != RR_EPI_NONE;
    dnnl_status_t s = describe(g, sh, &sh->w_md, key, np.fused ? epi : RR_EPI_NONE, &pd);
    if (s != dnnl_success && np.fused && !(epi & EPI_DST_BF16)) {
        np.fused = 0;
        s = describe(g, sh, &sh->w_md, key, RR_EPI_NONE, &pd);
    }
    if (s == dnnl_success) {
        s = dnnl_primitive_create(&np.p, pd);
        dnnl_primitive_desc_destroy(pd);
    }
    if (s != dnnl_success && (epi & EPI_DST_BF16)) return RERANK_ERR_UNSUPPORTED; /* the caller has another way */
    if (s != dnnl_success)
        return rr_error(RERANK_ERR_INTERNAL, "oneDNN: cannot create %s matmul [%lld x %d] x [%d x %d] (status %d)",
                        rerank_precision_str(sh->prec), (long long)m, sh->in, sh->in, sh->out, (int)s);
    g->created++;
    prim_t *slot = &g->prims[g->n_prims < RR_GEMM_MAX_PRIMS ? g->n_prims++ : lru];
    if (slot->p) dnnl_primitive_destroy(slot->p);
    *slot = np;
    *pp = slot;
    return RERANK_OK;
}

/* dst [m, out] = x [m, in] . W (+ b and, if p->fused, the epilogue; int8:
 * the raw sums) with primitive p from get_prim(.., m, ..). */
static rerank_status_t exec(rr_gemm_t *g, const prim_t *p, const void *x, int64_t m, const void *w, const float *b,
                            void *dst) {
    const shape_t *sh = &g->shapes[p->shape];
    dnnl_memory_desc_t src_md, dst_md, b_md;
    dnnl_dims_t sd = {m, sh->in}, dd = {m, sh->out}, bd = {1, sh->out};
    dnnl_memory_t ms = NULL, mw = NULL, mb = NULL, md = NULL;
    dnnl_status_t s;
    int n = 0;
    dnnl_exec_arg_t args[4];
    const double t0 = omp_get_wtime();
    if ((s = dnnl_memory_desc_init_by_tag(&src_md, 2, sd, src_type(sh->prec), dnnl_ab)) ||
        (s = dnnl_memory_desc_init_by_tag(&dst_md, 2, dd, dst_type(p->epi), dnnl_ab)) ||
        (s = dnnl_memory_create(&ms, &src_md, g->eng, (void *)x)) ||
        (s = dnnl_memory_create(&mw, &sh->w_md, g->eng, (void *)w)) ||
        (s = dnnl_memory_create(&md, &dst_md, g->eng, dst)))
        goto done;
    args[n++] = (dnnl_exec_arg_t){DNNL_ARG_SRC, ms};
    args[n++] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, mw};
    args[n++] = (dnnl_exec_arg_t){DNNL_ARG_DST, md};
    if (b && sh->prec != RERANK_PRECISION_INT8) {
        if ((s = dnnl_memory_desc_init_by_tag(&b_md, 2, bd, dnnl_f32, dnnl_ab)) ||
            (s = dnnl_memory_create(&mb, &b_md, g->eng, (void *)b)))
            goto done;
        args[n++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, mb};
    }
    if ((s = dnnl_primitive_execute(p->p, g->stream, n, args))) goto done;
    s = dnnl_stream_wait(g->stream);
    const double dt = omp_get_wtime() - t0;
    g->exec_s += dt;
    g->shapes[p->shape].seconds += dt;
done:
    if (ms) dnnl_memory_destroy(ms);
    if (mw) dnnl_memory_destroy(mw);
    if (mb) dnnl_memory_destroy(mb);
    if (md) dnnl_memory_destroy(md);
    if (s != dnnl_success)
        return rr_error(RERANK_ERR_INTERNAL, "oneDNN: %s matmul [%lld x %d] x [%d x %d] failed (status %d)",
                        rerank_precision_str(sh->prec), (long long)m, sh->in, sh->in, sh->out, (int)s);
    return RERANK_OK;
}

/* How many rows each oneDNN call sees. oneDNN 2.6's AMX matmul picks its
 * row block from the divisors of M, and some (51, 53, 57-59, 61, 62 rows)
 * run 5-20x slower than their neighbours: M = 885 runs at 1/8 of M = 884
 * (README, "AMX row blocks"). On shapes whose kernel is AMX, a call sees
 * whole RR_GEMM_ROW_BLOCK-row blocks, and the rest goes through a second
 * call of a multiple of 16 rows (one AMX tile). Under two blocks, where a
 * second pass over the weights would cost more than the rows do, the batch
 * is one call of a multiple of 16 rows (padded if need be). All use the
 * same kernel, so a row's result does not depend on where it sits. */
#define RR_GEMM_ROW_BLOCK 64
#define RR_GEMM_TAIL_ALIGN 16

/* Rows of the first call (the rest: the tail call). */
static int64_t lead_rows(const shape_t *sh, int64_t m) {
    if (!sh->row_blocks) return m;
    if (m < 2 * RR_GEMM_ROW_BLOCK) return m % RR_GEMM_TAIL_ALIGN ? 0 : m;
    return m / RR_GEMM_ROW_BLOCK * RR_GEMM_ROW_BLOCK;
}

static int64_t tail_rows(int64_t r) { return (r + RR_GEMM_TAIL_ALIGN - 1) / RR_GEMM_TAIL_ALIGN * RR_GEMM_TAIL_ALIGN; }

/* The primitive of run's first call for m rows (callers ask it whether the
 * epilogue is fused, then hand it to run). */
static rerank_status_t first_prim(rr_gemm_t *g, int si, int epi, int64_t m, prim_t **pp) {
    const int64_t lead = lead_rows(&g->shapes[si], m);
    return get_prim(g, si, epi, lead > 0 ? lead : tail_rows(m), pp);
}

/* dst[0, m) = src[0, m), rows of `bytes` each, rows in parallel. */
static void copy_rows(void *dst, const void *src, int64_t m, size_t bytes) {
#pragma omp parallel for schedule(static) if ((size_t)m * bytes >= (size_t)RR_PAR_MIN_WORK * sizeof(float))
    for (int64_t r = 0; r < m; r++) memcpy((char *)dst + (size_t)r * bytes, (const char *)src + (size_t)r * bytes, bytes);
}

/* dst [m, out] = x [m, in] . W (+ b and p's epilogue where fused) with p
 * from first_prim(.., m, ..), the rows split as lead_rows says: rows [0, lead) in one
 * call, then the last tail_rows(m - lead) rows of the batch in another.
 * The two calls share up to 15 rows; the second's values replace the
 * first's (the same, bit for bit), and for a fused sum those rows get their
 * old values back in between, so each row is added once. A batch that is
 * all tail (m < 128, not a multiple of 16) goes through zero-padded copies
 * in pad_x / pad_y. */
static rerank_status_t run(rr_gemm_t *g, prim_t *p, const void *x, int64_t m, const void *w, const float *b,
                           void *dst) {
    shape_t *sh = &g->shapes[p->shape];
    const int si = p->shape, epi = p->epi;
    const int64_t lead = lead_rows(sh, m), r = m - lead, rows = tail_rows(r), t0 = m - rows;
    sh->calls++;
    sh->flops += 2.0 * (double)m * sh->in * sh->out;
    const size_t xb = dnnl_data_type_size(src_type(sh->prec)) * (size_t)sh->in,
                 yb = dnnl_data_type_size(dst_type(epi)) * (size_t)sh->out;
    const int64_t shared = t0 >= 0 && r > 0 ? lead - t0 : 0; /* rows both calls compute */
    rerank_status_t st;
    if (lead > 0) { /* p is the lead primitive */
        const int keep = shared > 0 && p->fused && EPI_KIND(epi) == RR_EPI_ACC;
        if (keep) {
            if ((st = rr_buf_reserve(&g->pad_y, (size_t)shared * yb, "GEMM tail rows"))) return st;
            memcpy(g->pad_y.p, (char *)dst + (size_t)t0 * yb, (size_t)shared * yb);
        }
        if ((st = exec(g, p, x, lead, w, b, dst))) return st;
        if (keep) memcpy((char *)dst + (size_t)t0 * yb, g->pad_y.p, (size_t)shared * yb);
        if (r == 0) return RERANK_OK;
        const int fused = p->fused;
        if ((st = get_prim(g, si, epi, rows, &p))) return st;
        if (p->fused != fused)
            return rr_error(RERANK_ERR_INTERNAL,
                            "oneDNN: the %s matmul [M x %d] x [%d x %d] fuses its epilogue at one M only",
                            rerank_precision_str(sh->prec), sh->in, sh->in, sh->out);
    }
    /* p is the tail primitive (`rows` rows) */
    if (t0 >= 0) return exec(g, p, (const char *)x + (size_t)t0 * xb, rows, w, b, (char *)dst + (size_t)t0 * yb);
    /* m < rows: the m rows zero-padded to `rows` */
    if ((st = rr_buf_reserve(&g->pad_x, (size_t)rows * xb, "GEMM tail rows")) ||
        (st = rr_buf_reserve(&g->pad_y, (size_t)rows * yb, "GEMM tail rows")))
        return st;
    char *px = g->pad_x.p, *py = g->pad_y.p;
    copy_rows(px, x, m, xb);
    memset(px + (size_t)m * xb, 0, (size_t)(rows - m) * xb);
    if (p->fused && EPI_KIND(epi) == RR_EPI_ACC) {
        copy_rows(py, dst, m, yb);
        memset(py + (size_t)m * yb, 0, (size_t)(rows - m) * yb);
    }
    if ((st = exec(g, p, px, rows, w, b, py))) return st;
    copy_rows(dst, py, m, yb);
    return RERANK_OK;
}

/* Weights W [out, in] (plain, at the shape's precision) in the shape's
 * layout: a new block (*out; rr_free) for a blocked shape, else NULL. */
static rerank_status_t to_layout(rr_gemm_t *g, int si, const void *plain, void **out) {
    const shape_t *sh = &g->shapes[si];
    *out = NULL;
    if (!sh->blocked) return RERANK_OK;
    const size_t bytes = dnnl_memory_desc_get_size(&sh->w_md);
    void *q = rr_malloc_large(bytes ? bytes : 1);
    if (!q) return rr_error(RERANK_ERR_NOMEM, "out of memory for a [%d, %d] layer in oneDNN's layout", sh->out, sh->in);
    dnnl_primitive_desc_t rpd = NULL;
    dnnl_primitive_t r = NULL;
    dnnl_memory_t ms = NULL, md = NULL;
    dnnl_status_t s;
    if (!(s = dnnl_reorder_primitive_desc_create(&rpd, &sh->plain, g->eng, &sh->w_md, g->eng, NULL)) &&
        !(s = dnnl_primitive_create(&r, rpd)) && !(s = dnnl_memory_create(&ms, &sh->plain, g->eng, (void *)plain)) &&
        !(s = dnnl_memory_create(&md, &sh->w_md, g->eng, q))) {
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, ms}, {DNNL_ARG_TO, md}};
        if (!(s = dnnl_primitive_execute(r, g->stream, 2, args))) s = dnnl_stream_wait(g->stream);
    }
    if (ms) dnnl_memory_destroy(ms);
    if (md) dnnl_memory_destroy(md);
    if (r) dnnl_primitive_destroy(r);
    if (rpd) dnnl_primitive_desc_destroy(rpd);
    if (s != dnnl_success) {
        rr_free(q);
        return rr_error(RERANK_ERR_INTERNAL, "oneDNN: cannot reorder a [%d, %d] layer (status %d)", sh->out, sh->in, (int)s);
    }
    *out = q;
    return RERANK_OK;
}

/* Without VNNI, oneDNN's int8 GEMM multiplies u8 x s8 pairs into saturating
 * 16-bit sums (vpmaddubsw): 2 x 255 x 63 fits, 2 x 255 x 127 does not, so
 * weights keep 7 bits there to stay exact. What counts is the ISA oneDNN
 * itself runs (the CPU's, lowered by DNNL_MAX_CPU_ISA), not the CPU's. */
float rr_gemm_int8_weight_qmax(void) {
    const unsigned isa = (unsigned)dnnl_get_effective_cpu_isa();
    const int vnni = (isa & (unsigned)dnnl_cpu_isa_avx512_core_vnni & ~(unsigned)dnnl_cpu_isa_avx512_core) ||
                     (isa & (unsigned)dnnl_cpu_isa_avx2_vnni & ~(unsigned)dnnl_cpu_isa_avx2);
    return vnni ? 127.0f : 63.0f;
}
/* ---- layers -------------------------------------------------------------- */

/* Symmetric per-row quantization to [-qmax, qmax] (the weights). */
static void quantize_rows(const float *x, int64_t m, int64_t k, float qmax, int8_t *q, float *scale) {
#pragma omp parallel for schedule(static) if (m * k >= RR_PAR_MIN_WORK)
    for (int64_t r = 0; r < m; r++) {
        const float *xr = x + r * k;
        int8_t *qr = q + r * k;
        float amax = 0;
        for (int64_t i = 0; i < k; i++) {
            float a = fabsf(xr[i]);
            amax = a > amax ? a : amax;
        }
        float s = amax > 0 ? amax / qmax : 1.0f, inv = 1.0f / s;
        /* round to nearest even as nearbyintf does, for |v| <= qmax + 1:
         * adding and removing 1.5 * 2^23 leaves no fraction bits (a loop
         * the compiler vectorizes, unlike the libm call; load time) */
        const float magic = 12582912.0f;
        for (int64_t i = 0; i < k; i++) {
            float v = xr[i] * inv;
            v = v > qmax ? qmax : v < -qmax ? -qmax : v == v ? v : 0.0f; /* NaN: 0 */
            qr[i] = (int8_t)((v + magic) - magic);
        }
        scale[r] = s;
    }
}

void rr_quantize_rows_s8(const float *x, int64_t m, int64_t k, int8_t *q, float *scale) {
    quantize_rows(x, m, k, 127.0f, q, scale);
}

/* Asymmetric per-row quantization to u8 (the activations): the row's range
 * [min(lo, 0), max(hi, 0)] maps onto 0..255, zero exactly at `zero`;
 * x ~= (q - zero) * scale. One bit finer than symmetric s8 for one-sided
 * rows (GELU outputs), never coarser. */
void rr_quantize_rows_u8(const float *x, int64_t m, int64_t k, uint8_t *q, float *scale, int32_t *zero) {
    const rr_kernels_t *kern = rr_kernels();
#pragma omp parallel for schedule(static) if (m * k >= RR_PAR_MIN_WORK)
    for (int64_t r = 0; r < m; r++) kern->quantize_u8(x + r * k, k, q + r * k, &scale[r], &zero[r]);
}

rerank_status_t rr_linear_precision(rr_gemm_t *g, int32_t out, int32_t in, rerank_precision_t prec,
                                    rerank_precision_t *got) {
    *got = RERANK_PRECISION_FP32;
    if (prec == RERANK_PRECISION_FP32) return RERANK_OK;
    /* Is there a matmul for this precision here? */
    int si;
    rerank_status_t st = get_shape(g, out, in, prec, &si);
    if (!st && si >= 0) *got = prec;
    return st;
}

/* L's weights `plain` (W [out, in] at L->prec; rr_malloc'd and taken by L
 * if `owned`, else a view) into the layout of L's shape. */
static rerank_status_t set_weights(rr_gemm_t *g, rr_linear_t *L, void *plain, int owned) {
    rerank_status_t st = get_shape(g, L->out, L->in, L->prec, &L->shape);
    if (!st && L->shape < 0)
        st = rr_error(RERANK_ERR_INTERNAL, "oneDNN: no %s matmul for [%d x %d]", rerank_precision_str(L->prec), L->in,
                      L->out);
    void *q = NULL;
    if (!st) st = to_layout(g, L->shape, plain, &q);
    if (st) {
        if (owned) rr_free(plain);
        return st;
    }
    if (q) { /* blocked: the plain copy goes */
        if (owned) rr_free(plain);
        L->wq = q;
    } else if (owned) {
        L->wq = plain;
    }
    return RERANK_OK;
}

rerank_status_t rr_linear_init_bf16(rr_gemm_t *g, rr_linear_t *L, uint16_t *wq, const float *b, int32_t out,
                                    int32_t in) {
    *L = (rr_linear_t){.out = out, .in = in, .prec = RERANK_PRECISION_BF16, .b = b};
    rerank_status_t st = set_weights(g, L, wq, 1);
    if (st) L->prec = RERANK_PRECISION_FP32;
    return st;
}

rerank_status_t rr_linear_init(rr_gemm_t *g, rr_linear_t *L, const float *w, const float *b, int32_t out,
                               int32_t in, rerank_precision_t prec) {
    memset(L, 0, sizeof *L);
    *L = (rr_linear_t){.out = out, .in = in, .prec = RERANK_PRECISION_FP32, .w = w, .b = b, .shape = -1};
    rerank_precision_t got;
    rerank_status_t st = rr_linear_precision(g, out, in, prec, &got);
    if (st) return st;
    /* fp32, asked for or not available: the F32 view, or a blocked copy */
    if (got == RERANK_PRECISION_FP32) return set_weights(g, L, (void *)w, 0);
    size_t n = (size_t)out * (size_t)in;
    if (prec == RERANK_PRECISION_BF16) {
        uint16_t *q = rr_malloc_large(n * sizeof *q);
        if (!q) return rr_error(RERANK_ERR_NOMEM, "out of memory converting a [%d, %d] layer to bf16", out, in);
        const rr_kernels_t *k = rr_kernels();
#pragma omp parallel for schedule(static)
        for (int32_t o = 0; o < out; o++) k->to_bf16(w + (size_t)o * in, in, q + (size_t)o * in);
        L->prec = prec;
        st = set_weights(g, L, q, 1);
    } else {
        int8_t *q = rr_malloc_large(n);
        float *s = rr_malloc((size_t)out * sizeof *s), *zc = rr_malloc((size_t)out * sizeof *zc);
        if (!q || !s || !zc) {
            rr_free(q);
            rr_free(s);
            rr_free(zc);
            return rr_error(RERANK_ERR_NOMEM, "out of memory quantizing a [%d, %d] layer to int8", out, in);
        }
        quantize_rows(w, out, in, rr_gemm_int8_weight_qmax(), q, s); /* per output channel = per row of W */
        /* zero-point correction: sum_k (qa - z) qw = sum_k qa qw - z sum_k qw */
#pragma omp parallel for schedule(static) if (n >= RR_PAR_MIN_WORK)
        for (int32_t o = 0; o < out; o++) {
            int64_t sum = 0;
            for (int32_t i = 0; i < in; i++) sum += q[(size_t)o * in + i];
            zc[o] = (float)sum * s[o];
        }
        L->wscale = s;
        L->wzero = zc;
        L->prec = prec;
        st = set_weights(g, L, q, 1);
    }
    if (st) {
        rr_linear_release(L);
        L->prec = RERANK_PRECISION_FP32;
    }
    return st;
}

void rr_linear_release(rr_linear_t *L) {
    if (!L) return;
    rr_free(L->wq);
    rr_free(L->wscale);
    rr_free(L->wzero);
    L->wq = NULL;
    L->wscale = NULL;
    L->wzero = NULL;
}

/* The weights L's GEMM reads: its own copy (converted or blocked), else the view. */
static const void *weights(const rr_linear_t *L) { return L->wq ? L->wq : (const void *)L->w; }

/* Epilogue not fused by oneDNN: y = epi((y * wscale - zero * wzero) *
 * row_scale + b) (column scales, zero points and row scales only for int8),
 * then `then` on the row. */
static void epilogue(const rr_linear_t *L, float *y, const float *raw, const float *row_scale,
                     const int32_t *row_zero, int64_t m, rr_epilogue_t epi, int add_bias, rr_gemm_t *g,
                     const rr_row_then_t *then) {
    const rr_kernels_t *k = rr_kernels();
    const int64_t n = L->out;
    const float *ws = row_zero ? L->wscale : NULL, *wz = row_zero ? L->wzero : NULL, *b = add_bias ? L->b : NULL;
#pragma omp parallel for schedule(static) if (m * n >= RR_PAR_MIN_WORK)
    for (int64_t r = 0; r < m; r++) {
        float *yr = y + r * n;
        k->dequant(yr, (raw ? raw : y) + r * n, ws, wz, wz ? (float)row_zero[r] : 0.0f, row_scale ? row_scale[r] : 1.0f,
                   b, n, epi == RR_EPI_ACC);
        if (epi == RR_EPI_GELU) k->gelu(yr, n);
        if (then) {
            then->fn(then->ctx, r, yr);
            rr_gemm_stage_row(g, r);
        }
    }
}

/* `then` on every row of y [m, n] (layers whose epilogue oneDNN fused). */
static void then_rows(rr_gemm_t *g, float *y, int64_t m, int64_t n, const rr_row_then_t *then) {
#pragma omp parallel for schedule(static) if (m * n >= RR_PAR_MIN_WORK)
    for (int64_t r = 0; r < m; r++) {
        then->fn(then->ctx, r, y + r * n);
        rr_gemm_stage_row(g, r);
    }
}

/* Arm the stage `then` asks for (after this call's own input is made). */
static rerank_status_t arm(rr_gemm_t *g, const rr_row_then_t *then, int64_t m) {
    return then && then->stage_x ? rr_gemm_stage(g, then->stage_prec, then->stage_x, m, then->stage_k) : RERANK_OK;
}

/* ---- staged inputs ------------------------------------------------------- */

/* Bytes of the converted / quantized rows [m, k] at prec, and whether prec
 * converts at all (fp32 reads x itself). */
static size_t act_bytes(rerank_precision_t prec, int64_t m, int64_t k) {
    const size_t mk = (size_t)m * (size_t)k;
    return prec == RERANK_PRECISION_INT8 ? mk : prec == RERANK_PRECISION_BF16 ? mk * sizeof(uint16_t) : 0;
}

/* Reserve act (and for int8 the token scales and zero points) for m rows. */
static rerank_status_t reserve_act(rr_buf_t *act, rr_buf_t *scale, rr_buf_t *zero, rerank_precision_t prec,
                                   int64_t m, int64_t k) {
    rerank_status_t st;
    if ((st = rr_buf_reserve(act, act_bytes(prec, m, k), "converted activations"))) return st;
    if (prec != RERANK_PRECISION_INT8) return RERANK_OK;
    if ((st = rr_buf_reserve(scale, (size_t)m * sizeof(float), "token scales")) ||
        (st = rr_buf_reserve(zero, (size_t)m * sizeof(int32_t), "token zero points")))
        return st;
    return RERANK_OK;
}

/* One row of k values (row r of the input) into row r of the converted
 * buffers. */
static void convert_row(const rr_kernels_t *kern, rerank_precision_t prec, const float *row, int64_t k, int64_t r,
                        void *act, float *scale, int32_t *zero) {
    if (prec == RERANK_PRECISION_INT8)
        kern->quantize_u8(row, k, (uint8_t *)act + r * k, &scale[r], &zero[r]);
    else
        kern->to_bf16(row, k, (uint16_t *)act + r * k);
}

/* Row r of the staged input, from `row` (its values, wherever they are). */
static void stage_row_from(rr_gemm_t *g, int64_t r, const float *row) {
    const int i = g->stage.set;
    convert_row(rr_kernels(), g->stage.prec, row, g->stage.k, r, g->stage.q[i].p, g->stage.scale[i].p,
                g->stage.zero[i].p);
}

rerank_status_t rr_gemm_stage(rr_gemm_t *g, rerank_precision_t prec, const float *x, int64_t m, int64_t k) {
    g->stage.x = NULL;
    if (prec == RERANK_PRECISION_FP32 || m <= 0) return RERANK_OK;
    const int set = !g->stage.set;
    rerank_status_t st = reserve_act(&g->stage.q[set], &g->stage.scale[set], &g->stage.zero[set], prec, m, k);
    if (st) return st;
    g->stage.set = set;
    g->stage.x = x;
    g->stage.m = m;
    g->stage.k = k;
    g->stage.prec = prec;
    return RERANK_OK;
}

void rr_gemm_stage_row(rr_gemm_t *g, int64_t r) {
    if (g->stage.x) stage_row_from(g, r, g->stage.x + r * g->stage.k);
}

void rr_gemm_unstage(rr_gemm_t *g) { g->stage.x = NULL; }

/* The GEMM's left operand for x [m, L->in] at L's precision: x itself for
 * fp32; for bf16 converted, for int8 quantized with per-token scales and
 * zero points (*scale, *zero): taken from the stage when it holds exactly
 * these rows (the stage is used or dropped here), else made in g->act. */
typedef struct src_rows {
    const void *p;
    const float *scale;
    const int32_t *zero;
} src_rows_t;

static rerank_status_t prepare_src(rr_gemm_t *g, const rr_linear_t *L, const float *x, int64_t m, src_rows_t *src) {
    const int staged = g->stage.x == x && g->stage.m == m && g->stage.k == L->in && g->stage.prec == L->prec;
    g->stage.x = NULL;
    *src = (src_rows_t){.p = x};
    if (L->prec != RERANK_PRECISION_INT8 && L->prec != RERANK_PRECISION_BF16) return RERANK_OK;
    if (staged) {
        g->staged_uses++;
        const int i = g->stage.set;
        *src = (src_rows_t){.p = g->stage.q[i].p, .scale = g->stage.scale[i].p, .zero = g->stage.zero[i].p};
        return RERANK_OK;
    }
    rerank_status_t st = reserve_act(&g->act, &g->ascale, &g->azero, L->prec, m, L->in);
    if (st) return st;
    const rr_kernels_t *kern = rr_kernels();
    const rerank_precision_t prec = L->prec;
    const int64_t k = L->in;
    void *act = g->act.p;
    float *scale = g->ascale.p;
    int32_t *zero = g->azero.p;
#pragma omp parallel for schedule(static) if (m * k >= RR_PAR_MIN_WORK)
    for (int64_t r = 0; r < m; r++) convert_row(kern, prec, x + r * k, k, r, act, scale, zero);
    *src = (src_rows_t){.p = act, .scale = scale, .zero = zero};
    return RERANK_OK;
}

/* An int8 layer's GEMM: x quantized per token, u8 x s8 -> f32 scaled by
 * W's scales into y; *raw says how to finish it. Every int8 layer runs the
 * RR_EPI_NONE primitive (int8 primitives carry no post-ops: the epilogue is
 * ours). */
static rerank_status_t linear_int8(rr_gemm_t *g, const rr_linear_t *L, const float *x, int64_t m, float *y,
                                   rr_raw_out_t *raw) {
    src_rows_t src;
    rerank_status_t st;
    prim_t *p;
    if ((st = prepare_src(g, L, x, m, &src)) || (st = first_prim(g, L->shape, RR_EPI_NONE, m, &p)) ||
        (st = run(g, p, src.p, m, L->wq, NULL, y)))
        return st;
    *raw = (rr_raw_out_t){.scale = src.scale, .zero = src.zero, .wscale = L->wscale, .wzero = L->wzero, .b = L->b};
    return RERANK_OK;
}

rerank_status_t rr_linear_then(rr_gemm_t *g, const rr_linear_t *L, const float *x, int64_t m, rr_epilogue_t epi,
                               float *y, const rr_row_then_t *then) {
    if (m <= 0) {
        rr_gemm_unstage(g);
        return RERANK_OK;
    }
    const size_t mn = (size_t)m * (size_t)L->out;
    rerank_status_t st;
    if (L->prec == RERANK_PRECISION_INT8) {
        /* the token scales, zero points, bias and epilogue after the GEMM */
        if (epi == RR_EPI_ACC && (st = rr_buf_reserve(&g->tmp, mn * sizeof(float), "int8 output"))) return st;
        float *out = epi == RR_EPI_ACC ? g->tmp.p : y;
        rr_raw_out_t raw;
        if ((st = linear_int8(g, L, x, m, out, &raw)) || (st = arm(g, then, m))) return st;
        epilogue(L, y, epi == RR_EPI_ACC ? out : NULL, raw.scale, raw.zero, m, epi, 1, g, then);
        return RERANK_OK;
    }
    src_rows_t src;
    prim_t *p;
    if ((st = prepare_src(g, L, x, m, &src)) || (st = first_prim(g, L->shape, epi, m, &p))) return st;
    if (p->fused || epi == RR_EPI_NONE) {
        if ((st = run(g, p, src.p, m, weights(L), L->b, y)) || !then || (st = arm(g, then, m))) return st;
        then_rows(g, y, m, L->out, then);
        return RERANK_OK;
    }
    /* Unfused epilogue (a fallback; oneDNN fuses these on x86). */
    float *out = y;
    if (epi == RR_EPI_ACC) {
        if ((st = rr_buf_reserve(&g->tmp, mn * sizeof(float), "unfused output"))) return st;
        out = g->tmp.p;
    }
    if ((st = run(g, p, src.p, m, weights(L), L->b, out)) || (st = arm(g, then, m))) return st;
    epilogue(L, y, out != y ? out : NULL, NULL, NULL, m, epi, 0, g, then);
    return RERANK_OK;
}

rerank_status_t rr_linear(rr_gemm_t *g, const rr_linear_t *L, const float *x, int64_t m, rr_epilogue_t epi,
                          float *y) {
    return rr_linear_then(g, L, x, m, epi, y, NULL);
}

rerank_status_t rr_linear_raw(rr_gemm_t *g, const rr_linear_t *L, const float *x, int64_t m, float *y,
                              rr_raw_out_t *raw) {
    *raw = (rr_raw_out_t){0};
    if (L->prec != RERANK_PRECISION_INT8) return rr_linear(g, L, x, m, RR_EPI_NONE, y);
    if (m <= 0) {
        rr_gemm_unstage(g);
        return RERANK_OK;
    }
    return linear_int8(g, L, x, m, y, raw);
}

/* x[0, n) = act(x) in place. */
static void activate(const rr_kernels_t *k, rr_fn_t act, float *x, int64_t n) {
    if (act == RR_FN_GELU) k->gelu(x, n);
    else if (act == RR_FN_SILU) k->silu(x, n);
    else if (act == RR_FN_TANH)
        for (int64_t i = 0; i < n; i++) x[i] = tanhf(x[i]);
}

/* One row of up's output u [w] (w = I, or 2I when gated) to down's input
 * [I], in place at the start of u or of its second half: act(u), or
 * act(one half) * the other half. Returns where the I values are. */
static float *gate_row(const rr_kernels_t *k, rr_fn_t act, rr_gate_t gate, float *u, int64_t I) {
    float *a = gate == RR_GATE_SECOND ? u + I : u, *m = gate == RR_GATE_SECOND ? u : u + I;
    activate(k, act, a, I);
    if (gate != RR_GATE_NONE) k->mul(a, m, I);
    return a;
}

/* bf16 up projection with GELU whose bf16 output is staged as down's input
 * ([m, up->out] rows "of" ffn, which stays unwritten).
 * RERANK_ERR_UNSUPPORTED: oneDNN has no such primitive here. */
static rerank_status_t ffn_bf16_up(rr_gemm_t *g, const rr_linear_t *up, const float *x, int64_t m, float *ffn) {
    shape_t *sh = &g->shapes[up->shape];
    src_rows_t src;
    prim_t *p;
    rerank_status_t st;
    if (sh->no_bf16_out) return RERANK_ERR_UNSUPPORTED;
    if ((st = first_prim(g, up->shape, RR_EPI_GELU | EPI_DST_BF16, m, &p))) {
        if (st == RERANK_ERR_UNSUPPORTED) sh->no_bf16_out = 1;
        return st;
    }
    if ((st = prepare_src(g, up, x, m, &src)) || (st = rr_gemm_stage(g, RERANK_PRECISION_BF16, ffn, m, up->out)))
        return st;
    return run(g, p, src.p, m, weights(up), up->b, g->stage.q[g->stage.set].p);
}

/* y += down(gate(act, up(x))).
 * fp32/bf16: rr_linear(up) (GELU fused by oneDNN when ungated), the
 * activation and gate row by row into g->gated, rr_linear(down, ACC).
 * int8: up's raw output (in `ffn`) is dequantized, biased, activated, gated
 * and requantized for `down` row by row in a per-thread row buffer, so the
 * floating-point activations never go back to memory; the bytes are the
 * same as the fp32/bf16 sequence's followed by rr_quantize_rows_u8. */
rerank_status_t rr_ffn(rr_gemm_t *g, const rr_linear_t *up, const rr_linear_t *down, rr_fn_t act, rr_gate_t gate,
                       const float *x, int64_t m, float *ffn, float *y, const rr_row_then_t *then) {
    if (m <= 0) {
        rr_gemm_unstage(g);
        return RERANK_OK;
    }
    const int64_t I = down->in, w = up->out;
    if (w != (gate == RR_GATE_NONE ? I : 2 * I))
        return rr_error(RERANK_ERR_INTERNAL, "FFN: up projection of %lld outputs for a down projection of %lld inputs",
                        (long long)w, (long long)I);
    const rr_kernels_t *k = rr_kernels();
    rerank_status_t st;
    if (up->prec != RERANK_PRECISION_INT8 || down->prec != RERANK_PRECISION_INT8) {
        const int bf16 = up->prec == RERANK_PRECISION_BF16 && down->prec == RERANK_PRECISION_BF16;
        if (gate == RR_GATE_NONE && act == RR_FN_GELU) {
            /* bf16: up writes gelu(..) in bf16 straight into the stage down
             * reads (oneDNN rounds as rr_f32_to_bf16 does) */
            if (bf16 && (st = ffn_bf16_up(g, up, x, m, ffn)) != RERANK_ERR_UNSUPPORTED) {
                if (st) return st;
            } else if ((st = rr_linear(g, up, x, m, RR_EPI_GELU, ffn))) {
                return st;
            }
            return rr_linear_then(g, down, ffn, m, RR_EPI_ACC, y, then);
        }
        if ((st = rr_linear(g, up, x, m, RR_EPI_NONE, ffn))) return st;
        float *in = ffn; /* [m, I] input of down */
        if (gate != RR_GATE_NONE) {
            if ((st = rr_buf_reserve(&g->gated, (size_t)m * (size_t)I * sizeof(float), "gated FFN"))) return st;
            in = g->gated.p;
            /* bf16: the gated rows go straight to down's bf16 input */
            if (bf16 && (st = rr_gemm_stage(g, RERANK_PRECISION_BF16, in, m, I))) return st;
        }
        const int staged = bf16 && gate != RR_GATE_NONE; /* armed just above */
#pragma omp parallel for schedule(static) if (m * w >= RR_PAR_MIN_WORK)
        for (int64_t r = 0; r < m; r++) {
            const float *a = gate_row(k, act, gate, ffn + r * w, I);
            if (staged) stage_row_from(g, r, a);
            else if (in != ffn) memcpy(in + r * I, a, (size_t)I * sizeof *a);
        }
        return rr_linear_then(g, down, in, m, RR_EPI_ACC, y, then);
    }
    const int threads = omp_get_max_threads();
    if ((st = rr_buf_reserve(&g->act2, (size_t)m * (size_t)I, "int8 activations")) ||
        (st = rr_buf_reserve(&g->ascale2, (size_t)m * sizeof(float), "token scales")) ||
        (st = rr_buf_reserve(&g->azero2, (size_t)m * sizeof(int32_t), "token zero points")) ||
        (st = rr_buf_reserve(&g->rows, (size_t)threads * (size_t)w * sizeof(float), "row buffers")) ||
        (st = rr_buf_reserve(&g->tmp, (size_t)m * (size_t)down->out * sizeof(float), "int8 output")))
        return st;
    /* up: u8 x s8 -> raw f32 [m, w] */
    rr_raw_out_t ru;
    if ((st = linear_int8(g, up, x, m, ffn, &ru))) return st;
    /* raw -> (raw ws - z wzero) s + b -> act (gate) -> u8 for down, one row at a time */
    uint8_t *q2 = g->act2.p;
    float *s2 = g->ascale2.p, *rowbuf = g->rows.p;
    int32_t *z2 = g->azero2.p;
    const int gelu = gate == RR_GATE_NONE && act == RR_FN_GELU; /* one kernel for the row */
#pragma omp parallel for schedule(static) if (m * w >= RR_PAR_MIN_WORK)
    for (int64_t r = 0; r < m; r++) {
        float *row = rowbuf + (int64_t)omp_get_thread_num() * w;
        if (gelu) {
            k->dequant_gelu_u8(ffn + r * w, ru.wscale, ru.wzero, (float)ru.zero[r], ru.scale[r], ru.b, w, row,
                               q2 + r * I, &s2[r], &z2[r]);
            continue;
        }
        k->dequant(row, ffn + r * w, ru.wscale, ru.wzero, (float)ru.zero[r], ru.scale[r], ru.b, w, 0);
        const float *a = gate_row(k, act, gate, row, I);
        k->quantize_u8(a, I, q2 + r * I, &s2[r], &z2[r]);
    }
    /* down: u8 x s8 -> raw f32 [m, H], then y += dequantized + bias */
    float *raw = g->tmp.p;
    prim_t *pd;
    if ((st = first_prim(g, down->shape, RR_EPI_NONE, m, &pd)) || (st = run(g, pd, q2, m, down->wq, NULL, raw)) ||
        (st = arm(g, then, m)))
        return st;
    epilogue(down, y, raw, s2, z2, m, RR_EPI_ACC, 1, g, then);
    return RERANK_OK;
}

/* ---- ceiling -------------------------------------------------------------- */

rerank_status_t rr_gemm_ceiling(rerank_precision_t precision, int64_t m, int32_t k, int32_t n, int reps,
                                int threads, double *gflops) {
    return rr_gemm_rate(precision, m, k, n, reps, threads, 0, gflops);
}

/* x[i] uniform in [-r, r) from a xorshift64 stream (*s: its state). */
static void fill_uniform(float *x, size_t n, float r, uint64_t *s) {
    for (size_t i = 0; i < n; i++) {
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        x[i] = (float)((double)(*s >> 11) * 0x1p-53 * 2.0 - 1.0) * r;
    }
}

rerank_status_t rr_gemm_rate(rerank_precision_t precision, int64_t m, int32_t k, int32_t n, int reps, int threads,
                             int row_blocks, double *gflops) {
    *gflops = 0;
    size_t na, nw, nc;
    if (rr_mul_size((size_t)m, (size_t)k * sizeof(float), &na) || rr_mul_size((size_t)n, (size_t)k * sizeof(float), &nw) ||
        rr_mul_size((size_t)m, (size_t)n * sizeof(float), &nc))
        return rr_error(RERANK_ERR_LIMIT, "GEMM ceiling: sizes overflow");
    rr_gemm_t *g = NULL;
    rr_linear_t L = {0};
    /* aligned as the engine's buffers are (rr_malloc_large: a misaligned
     * block would measure a slower GEMM than the engine runs) */
    float *a = rr_malloc_large(na), *w = rr_malloc_large(nw), *c = rr_malloc_large(nc),
          *b = rr_calloc((size_t)n, sizeof(float));
    rerank_status_t st = RERANK_OK;
    if (!a || !w || !c || !b) { st = rr_error(RERANK_ERR_NOMEM, "GEMM ceiling: out of memory"); goto done; }
    /* values like a model's (activations of a few units, weights of a few
     * hundredths, every mantissa bit in play): on AMX the bf16 GEMM runs
     * about 10 % faster on regular patterns, which would set the ceiling
     * above what the same GEMM does on real weights (README, "A ceiling
     * on model-like data") */
    uint64_t seed = 0x9e3779b97f4a7c15u;
    fill_uniform(a, na / sizeof(float), 2.0f, &seed);
    fill_uniform(w, nw / sizeof(float), 0.05f, &seed);
    memset(c, 0, nc);
    int prev = omp_get_max_threads();
    omp_set_num_threads(threads);
    if ((st = rr_gemm_new(&g))) goto restore;
    rr_gemm_set_row_blocks(g, row_blocks);
    if ((st = rr_linear_init(g, &L, w, b, n, k, precision))) goto restore;
    /* The matmul alone: activations converted once, outside the timing
     * (rr_linear's per-call conversion and int8 epilogue are the engine's
     * overhead, which the fraction of this ceiling is meant to expose). */
    src_rows_t src;
    prim_t *p;
    if ((st = prepare_src(g, &L, a, m, &src))) goto restore;
    double best = 1e30;
    for (int r = 0; r <= reps && !st; r++) {
        double t0 = omp_get_wtime();
        if (!(st = first_prim(g, L.shape, RR_EPI_NONE, m, &p))) st = run(g, p, src.p, m, weights(&L), L.b, c);
        double t = omp_get_wtime() - t0;
        if (r > 0 && t < best) best = t;
    }
    if (!st) *gflops = 2.0 * (double)m * k * n / best / 1e9;
restore:
    omp_set_num_threads(prev);
done:
    rr_linear_release(&L);
    rr_gemm_free(g);
    rr_free(a); rr_free(w); rr_free(c); rr_free(b);
    return st;
}

const char *rr_gemm_layout(rerank_precision_t precision, int32_t k, int32_t n) {
    rr_gemm_t *g = NULL;
    rerank_precision_t got = RERANK_PRECISION_FP32;
    int blocked = 0;
    const char *r = NULL;
    if (!rr_gemm_new(&g) && !rr_linear_precision(g, n, k, precision, &got) &&
        !rr_gemm_layout_blocked(g, n, k, got, &blocked))
        r = blocked ? "blocked" : "plain";
    rr_gemm_free(g);
    return r;
}
