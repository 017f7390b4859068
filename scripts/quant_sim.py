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
    amax = np.abs(x).max(axis=axis, keepdims=True)
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


class Model:
    def __init__(self, d):
        self.cfg = json.load(open(f"{d}/config.json"))
        self.w = load_safetensors(f"{d}/model.safetensors")
        emb = [k for k in self.w if k.endswith("embeddings.word_embeddings.weight")][0]
        self.pre = emb[: emb.index("embeddings.")]
        self.fmt = None
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

    def score(self, ids, fmt):
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
                a = q[:, s] @ k[:, s].T / math.sqrt(d)
                a = np.exp(a - a.max(-1, keepdims=True))
                ctx[:, s] = (a / a.sum(-1, keepdims=True)) @ v[:, s]
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
    ap.add_argument("--model", required=True)
    ap.add_argument("--pairs", default="../shared/fixtures/golden/pairs-xlmr.jsonl")
    ap.add_argument("--formats", default=",".join(FORMATS))
    a = ap.parse_args()
    m = Model(a.model)
    if "XLMRoberta" not in "".join(m.cfg.get("architectures", [])):
        sys.exit("quant_sim.py simulates XLMRobertaForSequenceClassification only")
    limit = m.cfg["max_position_embeddings"] - m.cfg.get("pad_token_id", 1) - 1
    ids = [r["input_ids"] for r in map(json.loads, open(a.pairs))
           if r.get("truncation", "flag") == "flag" and len(r["input_ids"]) <= limit]
    exact = [m.score(x, None) for x in ids]
    for f in a.formats.split(","):
        got = [m.score(x, f) for x in ids]
        print(json.dumps({"format": f, "pairs": len(ids), "max_abs_diff": round(max(abs(u - v) for u, v in zip(exact, got)), 6),
                          "kendall_tau": round(kendall(exact, got), 4)}), flush=True)


if __name__ == "__main__":
    main()
