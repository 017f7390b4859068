#!/usr/bin/env python3
"""What a number format costs by itself, with exact (float64) arithmetic.

Runs an XLM-R sequence classifier (F32 model.safetensors) in float64 numpy on
the golden pairs' input ids, once exactly and once per simulated format, and
prints Kendall tau and max |diff| against the exact scores. The formats are
applied to the inputs of the encoder's linear layers only (as the engine
does: LayerNorm, softmax, residuals and the head stay exact):

  w8a8       weights s8 per output channel (+-127), activations s8 per token
  w7a8       weights +-63 (what AVX2 without VNNI can run exactly), s8 tokens
  w8a8u      weights +-127, activations u8 per token with a zero point
  w7a8u      weights +-63, u8 per token with a zero point (rerank int8 on AVX2)
  w8         weights only, activations exact
  a8         activations only (s8 per token), weights exact
  bf16       weights and activations rounded to bf16 (fp32 accumulation is
             closer to exact than bf16 rounding, so it is not modelled)

This separates what the format loses from what a kernel adds: rerank's
measured tau (scripts/precision_agreement.py) should match the simulated one.
Needs numpy (Debian: python3-numpy).

  python3 scripts/quant_sim.py --model ../shared/fixtures/models/tiny-xlmr

Attention formats (src/kernels/attention.h), simulated with the same online
softmax over 256-key tiles (p is rounded relative to the running max):

  a8       rerank's int8 attention: q, k s8 per token, p u8 with the fixed
           scale 1/255, v s8 per channel
  a8qh     q, k s8 with one scale per head instead of per token
  a8vh     v s8 with one scale per head instead of per channel
  a8vt     v s8 per token (not a VNNI layout: shown for comparison)
  a8vf     v s8 per token, each key's scale folded into its u8 p (p * s_j /
           max_j s_j, rounded): per-token values on the VNNI layout
  a8pb     p in bf16 instead of u8 (q, k, v as a8)
  a8pe     p exact (q, k, v as a8): what p's 8 bits cost
  abf16    q, k, v, p rounded to bf16 (rerank's bf16 attention)

  --attention a8,abf16,...        model runs with those attention formats
                                  (combined with each --formats entry, and
                                  "exact" for exact linear layers)
  --attention-only a8,a8qh,...    no model: synthetic heads (d = 64, 128 to
                                  2048 keys; soft, peaked, and outlier
                                  keys/channels), error of o against exact
                                  attention, relative to the rms of o
"""
import argparse, json, math, struct, sys

import numpy as np


def load_safetensors(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        if t["dtype"] != "F32":
            sys.exit(f"{path}: {name} is {t['dtype']}; this script reads F32 checkpoints only")
        a, b = t["data_offsets"]
        out[name] = np.frombuffer(raw[8 + n + a:8 + n + b], dtype=np.float32).reshape(t["shape"]).astype(np.float64)
    return out


def q_sym(x, qmax, axis):
    amax = np.abs(x).max(axis=axis, keepdims=True)  # axis None: one scale for all
    s = np.where(amax > 0, amax / qmax, 1.0)
    return np.clip(np.round(x / s), -qmax, qmax) * s


def q_asym(x, axis):
    lo = np.minimum(x.min(axis=axis, keepdims=True), 0)
    hi = np.maximum(x.max(axis=axis, keepdims=True), 0)
    s = np.where(hi > lo, (hi - lo) / 255, 1.0)
    z = np.round(-lo / s)
    return (np.clip(np.round(x / s) + z, 0, 255) - z) * s


def bf16(x):
    u = x.astype(np.float32).view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000
    return u.astype(np.uint32).view(np.float32).astype(np.float64)


FORMATS = {
    "w8a8": (lambda w: q_sym(w, 127, 1), lambda x: q_sym(x, 127, -1)),
    "w7a8": (lambda w: q_sym(w, 63, 1), lambda x: q_sym(x, 127, -1)),
    "w8a8u": (lambda w: q_sym(w, 127, 1), lambda x: q_asym(x, -1)),
    "w7a8u": (lambda w: q_sym(w, 63, 1), lambda x: q_asym(x, -1)),
    "w8": (lambda w: q_sym(w, 127, 1), lambda x: x),
    "a8": (lambda w: w, lambda x: q_sym(x, 127, -1)),
    "bf16": (bf16, bf16),
}

ERF = np.vectorize(math.erf)

LOG2E = 1 / math.log(2)
TILE = 256  # RR_ATTN_TILE_KEYS

# attention format: (q and k quantizer, v quantizer, p rounding)
ATTN = {
    "exact": None,
    "a8": ("tok", "chan", "u8"),
    "a8qh": ("head", "chan", "u8"),
    "a8vh": ("tok", "head", "u8"),
    "a8vt": ("tok", "tok", "u8"),
    "a8vf": ("tok", "fold", "u8"),
    "a8pb": ("tok", "chan", "bf16"),
    "a8pe": ("tok", "chan", "exact"),
    "abf16": ("bf16", "bf16", "bf16"),
}


def q_operand(x, how):
    """x [n, d] quantized as one attention operand."""
    if how == "tok":
        return q_sym(x, 127, -1)
    if how == "chan":
        return q_sym(x, 127, 0)
    if how == "head":
        return q_sym(x, 127, None)
    if how == "bf16":
        return bf16(x)
    return x


def attention(q, k, v, scale, fmt):
    """softmax(scale q k^T) v for one head, in attention format fmt (online
    softmax over TILE-key tiles, base 2, as the kernels compute it)."""
    if ATTN[fmt] is None:
        s = q @ k.T * scale
        a = np.exp(s - s.max(-1, keepdims=True))
        return (a / a.sum(-1, keepdims=True)) @ v
    qk, vq, pr = ATTN[fmt]
    fold = None
    if vq == "fold":  # integer values per token, their scales folded into p
        amax = np.abs(v).max(-1)
        sv = np.where(amax > 0, amax / 127, 1.0)
        v = np.clip(np.round(v / sv[:, None]), -127, 127)
        fold = sv / sv.max()
        vq = None
    q, k, v = q_operand(q, qk), q_operand(k, qk), q_operand(v, vq)
    s2 = q @ k.T * (scale * LOG2E)
    n = q.shape[0]
    m, l, o = np.full(n, -np.inf), np.zeros(n), np.zeros((n, v.shape[1]))
    for t0 in range(0, k.shape[0], TILE):
        st = s2[:, t0:t0 + TILE]
        mn = np.maximum(m, st.max(1))
        alpha = np.exp2(m - mn)
        p = np.exp2(st - mn[:, None])
        if pr == "u8":
            p = np.round(p * 255) / 255
        elif pr == "bf16":
            p = bf16(p)
        l = alpha * l + p.sum(1)
        if fold is not None:
            pv = np.round(np.exp2(st - mn[:, None]) * 255 * fold[t0:t0 + TILE]) / 255
            o = alpha[:, None] * o + pv @ v[t0:t0 + TILE]
        else:
            o = alpha[:, None] * o + p @ v[t0:t0 + TILE]
        m = mn
    if fold is not None:
        o = o * (sv.max())
    return o / l[:, None]


def attention_only(fmts, seed=1):
    """Synthetic heads: the error of each format against exact attention."""
    rng = np.random.default_rng(seed)
    cases = []
    for n in (128, 512, 2048):
        for kind in ("soft", "peaked", "outliers"):
            d = 64
            q, k, v = rng.standard_normal((n, d)), rng.standard_normal((n, d)), rng.standard_normal((n, d))
            if kind == "peaked":
                q, k = q * 2, k * 2  # scores ~ N(0, 16): a few keys dominate
            if kind == "outliers":
                k[rng.random(n) < 0.02] *= 6  # a few long keys
                q[:, :2] *= 8  # two outlier channels (LLM-style activations)
                k[:, :2] *= 8
                v[:, 3] *= 10  # one loud value channel
            cases.append((n, kind, q, k, v))
    for n, kind, q, k, v in cases:
        exact = attention(q, k, v, 1 / math.sqrt(q.shape[1]), "exact")
        rms = math.sqrt(float((exact ** 2).mean()))
        for f in fmts:
            e = np.abs(attention(q, k, v, 1 / math.sqrt(q.shape[1]), f) - exact) / rms
            print(json.dumps({"attention": f, "n": n, "kind": kind, "max_err_rel_rms": round(float(e.max()), 5),
                              "rms_err_rel_rms": round(math.sqrt(float((e ** 2).mean())), 5)}), flush=True)


class Model:
    def __init__(self, d):
        self.cfg = json.load(open(f"{d}/config.json"))
        self.w = load_safetensors(f"{d}/model.safetensors")
        emb = [k for k in self.w if k.endswith("embeddings.word_embeddings.weight")][0]
        self.pre = emb[: emb.index("embeddings.")]
        self.fmt = None
        self.attn = "exact"
        self.wcache = {}

    def ln(self, x, name):
        m = x.mean(-1, keepdims=True)
        v = ((x - m) ** 2).mean(-1, keepdims=True)
        return (x - m) / np.sqrt(v + self.cfg["layer_norm_eps"]) * self.w[name + ".weight"] + self.w[name + ".bias"]

    def linear(self, x, name):
        w, b = self.w[name + ".weight"], self.w[name + ".bias"]
        if self.fmt:
            key = (name, self.fmt)
            if key not in self.wcache:
                self.wcache[key] = FORMATS[self.fmt][0](w)
            w, x = self.wcache[key], FORMATS[self.fmt][1](x)
        return x @ w.T + b

    def score(self, ids, fmt, attn="exact"):
        self.fmt, W, p, c = fmt, self.w, self.pre, self.cfg
        ids = np.asarray(ids)
        pos = np.arange(len(ids)) + c.get("pad_token_id", 1) + 1  # XLM-R positions start after padding_idx
        x = W[p + "embeddings.word_embeddings.weight"][ids] + W[p + "embeddings.position_embeddings.weight"][pos]
        x = self.ln(x + W[p + "embeddings.token_type_embeddings.weight"][0], p + "embeddings.LayerNorm")
        heads = c["num_attention_heads"]
        d = c["hidden_size"] // heads
        for layer in range(c["num_hidden_layers"]):
            l = f"{p}encoder.layer.{layer}."
            q, k, v = (self.linear(x, l + "attention.self." + n) for n in ("query", "key", "value"))
            ctx = np.zeros_like(x)
            for h in range(heads):
                s = slice(h * d, (h + 1) * d)
                ctx[:, s] = attention(q[:, s], k[:, s], v[:, s], 1 / math.sqrt(d), attn)
            x = self.ln(self.linear(ctx, l + "attention.output.dense") + x, l + "attention.output.LayerNorm")
            f = self.linear(x, l + "intermediate.dense")
            f = 0.5 * f * (1 + ERF(f / math.sqrt(2)))
            x = self.ln(self.linear(f, l + "output.dense") + x, l + "output.LayerNorm")
        self.fmt = None  # the head stays exact
        h = np.tanh(self.linear(x[:1], "classifier.dense"))
        return float(self.linear(h, "classifier.out_proj")[0, 0])


def kendall(a, b):
    a, b = np.asarray(a), np.asarray(b)
    s = np.sign(a[:, None] - a[None]) * np.sign(b[:, None] - b[None])
    return float(s[np.triu_indices(len(a), 1)].mean())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", help="model directory (not needed with --attention-only)")
    ap.add_argument("--pairs", default="../shared/fixtures/golden/pairs-xlmr.jsonl")
    ap.add_argument("--formats", default=",".join(FORMATS))
    ap.add_argument("--attention", default="", help="attention formats to combine with each linear format")
    ap.add_argument("--attention-only", default="", help="synthetic heads only, these attention formats")
    a = ap.parse_args()
    if a.attention_only:
        attention_only(a.attention_only.split(","))
        return
    if not a.model:
        ap.error("--model is required (unless --attention-only)")
    m = Model(a.model)
    if "XLMRoberta" not in "".join(m.cfg.get("architectures", [])):
        sys.exit("quant_sim.py simulates XLMRobertaForSequenceClassification only")
    limit = m.cfg["max_position_embeddings"] - m.cfg.get("pad_token_id", 1) - 1
    ids = [r["input_ids"] for r in map(json.loads, open(a.pairs))
           if r.get("truncation", "flag") == "flag" and len(r["input_ids"]) <= limit]
    exact = [m.score(x, None) for x in ids]
    attns = [t for t in a.attention.split(",") if t] or ["exact"]
    for f in a.formats.split(","):
        for t in attns:
            got = [m.score(x, None if f == "exact" else f, t) for x in ids]
            rec = {"format": f, "pairs": len(ids), "max_abs_diff": round(max(abs(u - v) for u, v in zip(exact, got)), 6),
                   "kendall_tau": round(kendall(exact, got), 4)}
            if a.attention:
                rec["attention"] = t
            print(json.dumps(rec), flush=True)


if __name__ == "__main__":
    main()
