/* cuda_blocks.cu — the blocks of engine/blocks.h on the GPU: each call checks that the device path has what
 * the block asks for and records it as one step of the pass; end (cuda_forward.cu) runs the steps, chunk by
 * chunk, as kernels and GEMMs (cuda_pass.cu) or as a CUDA graph (cuda_graph.cu). Recording first lets the
 * whole pass be split when it does not fit in device memory and be captured as one graph.
 *
 * What the device path does not have yet is refused here, at its first use, with RERANK_ERR_UNSUPPORTED
 * naming it: activations other than GELU / SiLU, heads other than a pooled row (first, last or mean), an
 * optional dense layer kept in fp32 (GELU or nothing after), an optional norm and one or two classifier
 * rows, per-head norms other than RMSNorm, rotary tables that do not cover the batch's positions, and layer
 * groups smaller than the batch. */
#include <string.h>

#include "cuda/cuda_ctx.h"

#define UNSUPPORTED(...) rr_error(RERANK_ERR_UNSUPPORTED, "cuda: " __VA_ARGS__)

static const char *act_name(rr_act_t a) {
    static const char *const names[] = {"X", "H", "CTX", "POOL", "HEAD"};
    return (unsigned)a < 5 ? names[a] : "?";
}

/* Append one step; a refused step fails the pass (end then runs nothing). */
static rerank_status_t record(rr_cuda_t *c, rr_cu_op_kind_t kind, const void *desc, rr_act_t src, rr_act_t dst,
                              int arg, rerank_status_t refused) {
    if (refused) {
        if (!c->failed) c->failed = 1;
        return refused;
    }
    if (!c->b) {
        c->failed = 1;
        return rr_error(RERANK_ERR_INTERNAL, "cuda: a block was called outside begin .. end");
    }
    if (c->n_ops == c->cap_ops) {
        const size_t cap = c->cap_ops ? 2 * c->cap_ops : 256;
        rr_cu_op_t *t = (rr_cu_op_t *)rr_realloc(c->tape, cap * sizeof *t);
        if (!t) {
            c->failed = 1;
            return rr_error(RERANK_ERR_NOMEM, "out of memory recording %zu cuda steps", cap);
        }
        c->tape = t;
        c->cap_ops = cap;
    }
    c->tape[c->n_ops++] = (rr_cu_op_t){kind, desc, src, dst, arg};
    return RERANK_OK;
}

static rerank_status_t check_norm(const rr_cuda_t *c, const rr_norm_t *n) {
    if (n->g.cols != c->cfg->hidden)
        return UNSUPPORTED("a norm over %d values (only over the hidden size %d)", (int)n->g.cols, (int)c->cfg->hidden);
    if (n->kind == RR_NORM_LAYER && !n->b.p) return UNSUPPORTED("a LayerNorm without its bias tensor");
    return RERANK_OK;
}

static rerank_status_t check_dense(const rr_cuda_t *c, const rr_dense_t *d) {
    if (d->id < 0 || d->id >= c->n_dense || !c->dense[d->id].L.w)
        return rr_error(RERANK_ERR_INTERNAL, "cuda: linear layer %d was not uploaded at create", (int)d->id);
    return RERANK_OK;
}

rerank_status_t rr_cu_begin(void *be, const rr_batch_t *b, int64_t group_max) {
    rr_cuda_t *c = (rr_cuda_t *)be;
    (void)group_max; /* one group: the whole batch */
    c->b = NULL;
    c->n_ops = 0;
    c->logits = NULL;
    c->failed = 0;
    if (!__atomic_load_n(&c->healthy, __ATOMIC_ACQUIRE))
        return rr_error(RERANK_ERR_INTERNAL, "cuda: %s had an unrecoverable error earlier (%s); reload the model",
                        c->name, c->fault);
    if (b->tokens > (int64_t)INT32_MAX / 4 || b->n_pairs > (size_t)INT32_MAX / 4)
        return rr_error(RERANK_ERR_LIMIT, "cuda: batch of %lld tokens is too large", (long long)b->tokens);
    /* ids index device tables: one out of range would fault the device, so check them here */
    const rr_config_t *cfg = c->cfg;
    for (size_t p = 0; p < b->n_pairs; p++) {
        const rerank_pair_t *pr = &b->pairs[p];
        if (pr->n < 1 || !pr->ids)
            return rr_error(RERANK_ERR_INVALID_ARGUMENT, "pair %zu: %d tokens or NULL ids", p, (int)pr->n);
        /* token type ids index a table only where the family has one (the others ignore them) */
        const int32_t *ty = cfg->type_vocab > 0 ? pr->type_ids : NULL;
        for (int32_t j = 0; j < pr->n; j++)
            if (pr->ids[j] < 0 || pr->ids[j] >= cfg->vocab || (ty && (ty[j] < 0 || ty[j] >= cfg->type_vocab)))
                return rr_error(RERANK_ERR_INVALID_ARGUMENT, "pair %zu: token %d has id %d / type id %d out of range",
                                p, (int)j, (int)pr->ids[j], pr->type_ids ? (int)pr->type_ids[j] : 0);
    }
    c->pos_max = 0;
    for (int64_t i = 0; i < b->tokens; i++) {
        if (b->pos[i] < 0 || b->pos[i] >= cfg->max_pos)
            return rr_error(RERANK_ERR_INVALID_ARGUMENT, "packed token %lld has position %d outside [0, %d)", (long long)i,
                            (int)b->pos[i], (int)cfg->max_pos);
        if (b->pos[i] > c->pos_max) c->pos_max = b->pos[i];
    }
    c->b = b;
    return RERANK_OK;
}

/* The GPU takes the whole batch as one group (group_tokens is 0). */
void rr_cu_group(void *be, size_t p0, size_t p1) {
    rr_cuda_t *c = (rr_cuda_t *)be;
    if (c->b && (p0 != 0 || p1 != c->b->n_pairs)) c->failed = 2; /* end reports it */
}

rerank_status_t rr_cu_embed(void *be, const rr_embed_t *e) {
    rr_cuda_t *c = (rr_cuda_t *)be;
    rerank_status_t st = RERANK_OK;
    const int32_t H = c->cfg->hidden;
    /* the word table, and the position / token type tables and the norm where the family has them */
    if (e->word.cols != H || (e->pos.p && e->pos.cols != H) || (e->type.p && e->type.cols != H))
        st = UNSUPPORTED("embedding tables not of the hidden size %d", (int)H);
    else if ((e->pos.p && e->pos.rows < c->cfg->max_pos) ||
             (e->type.p && e->type.rows < (c->cfg->type_vocab > 0 ? c->cfg->type_vocab : 1)))
        st = UNSUPPORTED("position / token type tables smaller than the config's (%d, %d)", (int)c->cfg->max_pos,
                         (int)c->cfg->type_vocab);
    else if (e->norm) st = check_norm(c, e->norm);
    return record(c, RR_OP_EMBED, e, RR_ACT_X, RR_ACT_X, 0, st);
}

/* X to X or H in a layer; POOL or HEAD in place is a head's norm (checked with the head in classify). */
rerank_status_t rr_cu_norm_block(void *be, const rr_norm_t *n, rr_act_t src, rr_act_t dst) {
    rr_cuda_t *c = (rr_cuda_t *)be;
    rerank_status_t st = check_norm(c, n);
    const int layer = src == RR_ACT_X && (dst == RR_ACT_X || dst == RR_ACT_H),
              head = (src == RR_ACT_POOL || src == RR_ACT_HEAD) && dst == src;
    if (!st && !layer && !head)
        st = UNSUPPORTED("a norm from %s to %s (only X to X or to H, and POOL or HEAD in place)", act_name(src),
                         act_name(dst));
    return record(c, RR_OP_NORM, n, src, dst, 0, st);
}

/* The two linear layers a pass has outside attention and FFN: a residual one (CTX into X, accumulated) and
 * the head's (POOL to HEAD, checked with the head in rr_cu_classify). */
rerank_status_t rr_cu_linear_block(void *be, const rr_dense_t *d, rr_act_t src, rr_act_t dst, rr_epilogue_t epi) {
    rr_cuda_t *c = (rr_cuda_t *)be;
    rerank_status_t st = check_dense(c, d);
    const int residual = src == RR_ACT_CTX && dst == RR_ACT_X && epi == RR_EPI_ACC,
              head = src == RR_ACT_POOL && dst == RR_ACT_HEAD && (epi == RR_EPI_NONE || epi == RR_EPI_GELU);
    if (!st && !residual && !head)
        st = UNSUPPORTED("a linear layer from %s to %s with epilogue %d (only CTX added into X, and the head's POOL "
                         "to HEAD, with GELU or nothing after)", act_name(src), act_name(dst), (int)epi);
    if (!st && residual && (c->dense[d->id].fp32 || d->w.cols != c->ctx_cols || d->w.rows != c->cfg->hidden))
        st = UNSUPPORTED("a residual linear layer of [%d, %d] (expected [%d, %d] in the compute type)",
                         (int)d->w.rows, (int)d->w.cols, (int)c->cfg->hidden, (int)c->ctx_cols);
    return record(c, RR_OP_LINEAR, d, src, dst, (int)epi, st);
}

rerank_status_t rr_cu_attention_block(void *be, const rr_attn_t *a, rr_act_t src, rr_act_t dst) {
    rr_cuda_t *c = (rr_cuda_t *)be;
    rerank_status_t st = check_dense(c, a->qkv);
    if (st) {
    } else if (a->rope && (a->rope->dim != a->head_dim || a->head_dim % 2 || a->rope->positions <= c->pos_max)) {
        st = UNSUPPORTED("rotary tables of %d values for %d positions (heads of %d, positions up to %d)",
                         (int)a->rope->dim, (int)a->rope->positions, (int)a->head_dim, (int)c->pos_max);
    } else if ((a->q_norm && (a->q_norm->kind != RR_NORM_RMS || a->q_norm->g.cols != a->head_dim)) ||
               (a->k_norm && (a->k_norm->kind != RR_NORM_RMS || a->k_norm->g.cols != a->head_dim))) {
        st = UNSUPPORTED("per-head q / k norms other than RMSNorm over the head size %d", (int)a->head_dim);
    } else if ((src != RR_ACT_X && src != RR_ACT_H) || dst != RR_ACT_CTX) {
        st = UNSUPPORTED("attention from %s to %s (only X or H to CTX)", act_name(src), act_name(dst));
    } else if (a->head_dim > RR_CU_ATTN_MAX_D || a->kv_heads < 1 || a->heads % a->kv_heads ||
               a->heads * a->head_dim != c->ctx_cols) {
        st = UNSUPPORTED("attention with %d heads of %d (%d key / value heads): head_dim at most %d, key / value "
                         "heads dividing heads", (int)a->heads, (int)a->head_dim, (int)a->kv_heads, RR_CU_ATTN_MAX_D);
    } else if (c->dense[a->qkv->id].fp32 || a->qkv->w.rows != (a->heads + 2 * a->kv_heads) * a->head_dim) {
        st = UNSUPPORTED("a q | k | v projection of %d rows for %d + 2 x %d heads of %d", (int)a->qkv->w.rows,
                         (int)a->heads, (int)a->kv_heads, (int)a->head_dim);
    }
    return record(c, RR_OP_ATTN, a, src, dst, 0, st);
}

rerank_status_t rr_cu_ffn(void *be, const rr_ffn_t *f, rr_act_t src, rr_act_t dst) {
    rr_cuda_t *c = (rr_cuda_t *)be;
    rerank_status_t st = check_dense(c, f->up);
    if (!st) st = check_dense(c, f->down);
    const int32_t I = f->down->w.cols;
    if (st) {
    } else if (f->act != RR_FN_GELU && f->act != RR_FN_SILU) {
        st = UNSUPPORTED("FFN activation %d (only exact GELU and SiLU)", (int)f->act);
    } else if ((src != RR_ACT_X && src != RR_ACT_H) || dst != RR_ACT_X) {
        st = UNSUPPORTED("an FFN from %s to %s (only X or H added into X)", act_name(src), act_name(dst));
    } else if (c->dense[f->up->id].fp32 || c->dense[f->down->id].fp32 ||
               f->up->w.rows != (f->gate ? 2 : 1) * I || f->down->w.rows != c->cfg->hidden || I % 8) {
        st = UNSUPPORTED("an FFN of [%d, %d] then [%d, %d]", (int)f->up->w.rows, (int)f->up->w.cols,
                         (int)f->down->w.rows, (int)I);
    }
    return record(c, RR_OP_FFN, f, src, dst, 0, st);
}

rerank_status_t rr_cu_pool(void *be, rr_pooling_t how) {
    rr_cuda_t *c = (rr_cuda_t *)be;
    rerank_status_t st = how == RR_POOL_FIRST || how == RR_POOL_LAST || how == RR_POOL_MEAN
                             ? RERANK_OK
                             : UNSUPPORTED("pooling %d (only the first or last token, or the mean)", (int)how);
    return record(c, RR_OP_POOL, NULL, RR_ACT_X, RR_ACT_POOL, (int)how, st);
}

int rr_cu_head_steps(const rr_cu_op_t *tape, size_t at, rr_cu_head_steps_t *h) {
    memset(h, 0, sizeof *h);
    size_t i = at;
    const rr_act_t src = tape[at].src;
    if (i > 0 && tape[i - 1].kind == RR_OP_NORM && tape[i - 1].src == src && tape[i - 1].dst == src)
        h->norm = (const rr_norm_t *)tape[--i].desc;
    if (i > 0 && tape[i - 1].kind == RR_OP_LINEAR && tape[i - 1].src == RR_ACT_POOL && tape[i - 1].dst == RR_ACT_HEAD &&
        src == RR_ACT_HEAD) {
        h->dense = (const rr_dense_t *)tape[--i].desc;
        h->epi = tape[i].arg;
    }
    if (i == 0 || tape[i - 1].kind != RR_OP_POOL || (src == RR_ACT_HEAD) != (h->dense != NULL)) return 0;
    h->pool = &tape[i - 1];
    return 1;
}

/* The heads the head kernels compute (arg of the classify step: which):
 *   RR_CU_HEAD_BERT    pool the first token, a dense layer kept in fp32, tanh, one output (BERT / XLM-R, GTE);
 *   RR_CU_HEAD_POOLED  pool the first or last token or the mean, an optional dense layer kept in fp32 (with
 *                      GELU or nothing after), an optional norm, one row or two whose difference is the
 *                      logit, of tanh or of the values (Qwen3's "yes" - "no", its seq-cls score, ModernBERT). */
rerank_status_t rr_cu_classify(void *be, const rr_classifier_t *cl, rr_act_t src, float *logits) {
    rr_cuda_t *c = (rr_cuda_t *)be;
    const int32_t H = c->cfg->hidden;
    rr_cu_head_steps_t h;
    rerank_status_t st = RERANK_OK;
    int kind = RR_CU_HEAD_POOLED;
    /* the step itself goes on the tape first, so the head reads back as it will in the pass */
    if ((st = record(c, RR_OP_CLASSIFY, cl, src, src, 0, RERANK_OK))) return st;
    const size_t at = c->n_ops - 1;
    if (!rr_cu_head_steps(c->tape, at, &h)) {
        st = UNSUPPORTED("this classification head is not implemented on the GPU yet (pooling, an optional dense "
                         "layer and norm, then one or two rows)");
    } else if (h.dense && (!c->dense[h.dense->id].fp32 || h.dense->w.rows != H || h.dense->w.cols != H ||
                           H > RR_CU_HEAD_MAX_DENSE)) {
        st = UNSUPPORTED("a head dense layer of [%d, %d] (expected [%d, %d] kept in fp32, hidden at most %d)",
                         (int)h.dense->w.rows, (int)h.dense->w.cols, (int)H, (int)H, RR_CU_HEAD_MAX_DENSE);
    } else if ((cl->f != RR_FN_NONE && cl->f != RR_FN_TANH) || (cl->w.rows != 1 && cl->w.rows != 2) || cl->w.cols != H) {
        st = UNSUPPORTED("a classifier of %d rows of %d with activation %d (one or two rows of the hidden size, "
                         "tanh or nothing)", (int)cl->w.rows, (int)cl->w.cols, (int)cl->f);
    } else if (h.pool->arg == RR_POOL_FIRST && h.dense && h.epi == RR_EPI_NONE && !h.norm && cl->f == RR_FN_TANH &&
               cl->w.rows == 1 && cl->b.p) {
        kind = RR_CU_HEAD_BERT; /* BERT / XLM-R's pooler: its own kernel */
    }
    c->tape[at].arg = kind;
    if (st) {
        c->failed = 1;
        return st;
    }
    c->logits = logits;
    return RERANK_OK;
}

uint64_t rr_cu_tape_sig(const rr_cuda_t *c) {
    uint64_t h = 1469598103934665603ull ^ c->n_ops;
    for (size_t i = 0; i < c->n_ops; i++) {
        const rr_cu_op_t *o = &c->tape[i];
        const uint64_t v[4] = {(uint64_t)o->kind, (uint64_t)(uintptr_t)o->desc,
                               (uint64_t)o->src << 8 | (uint64_t)o->dst, (uint64_t)(int64_t)o->arg};
        for (int k = 0; k < 4; k++) h = (h ^ v[k]) * 1099511628211ull;
    }
    return h;
}
