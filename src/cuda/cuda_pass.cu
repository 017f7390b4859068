/* cuda_pass.cu — the device part of one forward pass over a packed chunk, all on c->stream:
 *
 *   x32 = LN(word[id] + type[t] + pos[p]); xh = x32 in the GEMM input type        embeddings (1 kernel)
 *   per layer (8 launches, 9 in fp8 mode; 4 of them GEMMs):
 *     qkv = xh Wqkv^T + bqkv                                                cuBLASLt, act dtype out
 *     ctx = attention(qkv) per sequence and head                           flash kernel
 *     [fp8: xh, xs = E4M3 rows of ctx]                                     quantize kernel
 *     y32 = xh|ctx Wo^T;  x32 = LN(x32 + y32 + bo), xh = x32              cuBLASLt fp32 out (*); norm kernel
 *     ffn = xh W1^T;  xh = gelu_erf(ffn + b1)                             cuBLASLt; bias + GELU kernel
 *     y32 = xh W2^T;  x32 = LN(x32 + y32 + b2), xh = x32                  cuBLASLt fp32 out; norm kernel
 *   logits = head(x32[first token of each pair])                          fp32 kernel
 * (*) fp16 where the library has no FP8 GEMM with fp32 output (cuda_context.cu).
 * xh is fp16 / bf16, or E4M3 with per-token scales xs in fp8 mode (written directly by the norm and GELU
 * kernels: no separate conversion passes). Nothing here waits for the host, so the sequence can be captured
 * as a CUDA graph (cuda_graph.cu). */
#include "cuda/cuda_internal.h"

rerank_status_t rr_cu_forward_chunk(rr_cuda_t *c, int64_t T, int64_t P, int32_t max_n, int32_t layers) {
    const rr_config_t *cfg = &c->cfg;
    const rr_cu_ws_t *w = &c->ws;
    cudaStream_t s = c->stream;
    const int32_t H = cfg->hidden, I = cfg->ffn;
    const int fp8 = c->wdt == RR_CU_E4M3;
    const rr_cu_mat_t xin = {w->xh, c->wdt, fp8 ? w->xs : NULL};
    const rr_cu_mat_t ctx = {w->ctx, c->dt, NULL}, ffn = {w->ffn, c->dt, NULL};
    /* FFN-down reads the activation: xh (fp8) or ffn itself (GELU in place) */
    const rr_cu_mat_t *act = fp8 ? &xin : &ffn;
    const int32_t *ids = w->d_in, *types = w->d_in + T, *pos = w->d_in + 2 * T, *cu = w->d_in + 3 * T;
    const rr_cu_embed_t emb = {ids, types, pos, c->word, c->dt, c->pos, c->type};
    rerank_status_t st = rr_cu_embed_norm(&emb, &c->emb_ln, w->x32, T, H, &xin, s);
    c->launches++;
    for (int32_t l = 0; l < layers && !st; l++) {
        const rr_cu_layer_t *L = &c->layer[l];
        if ((st = rr_cu_linear(&c->gemm, &L->qkv, T, &xin, w->qkv, s)) ||
            (st = rr_cu_attention(w->qkv, w->ctx, cu, P, max_n, &c->attn, c->dt, c->attn_impl, s)) ||
            (fp8 && (st = rr_cu_quantize_rows(w->ctx, c->dt, T, H, 0.0f, &xin, s))) ||
            (st = rr_cu_linear(&c->gemm, &L->o, T, fp8 ? &xin : &ctx, w->y32, s)) ||
            (st = rr_cu_add_norm(&L->ln1, w->x32, w->y32, L->o.out_dt, L->bo, 0, T, H, &xin, s)) ||
            (st = rr_cu_linear(&c->gemm, &L->up, T, &xin, w->ffn, s)) ||
            (st = rr_cu_bias_act(w->ffn, c->dt, L->b1, RR_ACT_GELU, 0, T, I, act, s)) ||
            (st = rr_cu_linear(&c->gemm, &L->down, T, act, w->y32, s)) ||
            (st = rr_cu_add_norm(&L->ln2, w->x32, w->y32, L->down.out_dt, L->b2, 0, T, H, &xin, s)))
            break;
        c->launches += fp8 ? 5 : 4; /* + 4 GEMMs, counted by c->gemm */
    }
    if (!st) st = rr_cu_head(w->x32, cu, P, H, c->head_w, c->head_b, c->out_w, c->out_b, w->d_logits, s);
    c->launches++;
    return st;
}
