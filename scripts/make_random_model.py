#!/usr/bin/env python3
"""Full-size random models of the rotary-position rerankers, for benchmarks.

Speed does not depend on the weights' values, so a checkpoint of the real
shape with random weights measures what the real one would. Standard library
only (no numpy): every tensor is cut from one pool of 2^20 normal floats at a
random offset, repeated.

  python3 scripts/make_random_model.py /tmp/gte-base --like gte-multilingual-reranker-base
  python3 scripts/make_random_model.py /tmp/mb-base --like gte-reranker-modernbert-base

--like picks the shape (hidden 768; 12 / 22 layers; the real configs' other
values: intermediate 3072 / 1152, 12 heads, 8192 positions, ModernBERT's
local_attention 128 and a global layer every 3); config.json is the
fixture's (../shared/fixtures/models/tiny-gte or tiny-modernbert, whose fields
are the real models') with those sizes, and the fixture's tokenizer files are
copied. --layers N keeps the first N layers, --dtype F32|BF16 (default F32).

OUT/workloads.json holds bench workloads in the model's own vocabulary and
pair template (ids random in [5, 50000), seed 20240601): W1 (32 pairs of 256
tokens: 16 query ids, 236 document ids, the special tokens) and L4096 (one
pair of 4096 tokens), for `rerank bench --workload OUT/workloads.json:W1`.
Generate models outside the repository (GBs) and never commit them.
"""
import argparse, json, os, random, shutil, struct

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, '..', '..', 'shared', 'fixtures', 'models')

# fixture, layers, hidden, heads, intermediate, vocab, extra config fields
LIKE = {
    'gte-multilingual-reranker-base': ('tiny-gte', 12, 768, 12, 3072, 250048, {}),
    'gte-reranker-modernbert-base': ('tiny-modernbert', 22, 768, 12, 1152, 50368,
                                     {'local_attention': 128, 'global_attn_every_n_layers': 3}),
}
# [CLS]-like, [SEP]-like ids and the separator between the two sides
TEMPLATE = {'tiny-gte': (0, 2, [2, 2]), 'tiny-modernbert': (50281, 50282, [50282])}


def gte_tensors(L, H, I, V):
    """name -> shape of NewForSequenceClassification (packed qkv, [up | gate])."""
    p = 'new.'
    t = [(p + 'embeddings.word_embeddings.weight', (V, H)), (p + 'embeddings.token_type_embeddings.weight', (1, H)),
         (p + 'embeddings.LayerNorm.weight', (H,)), (p + 'embeddings.LayerNorm.bias', (H,))]
    for i in range(L):
        b = f'{p}encoder.layer.{i}.'
        t += [(b + 'attention.qkv_proj.weight', (3 * H, H)), (b + 'attention.qkv_proj.bias', (3 * H,)),
              (b + 'attention.o_proj.weight', (H, H)), (b + 'attention.o_proj.bias', (H,)),
              (b + 'mlp.up_gate_proj.weight', (2 * I, H)), (b + 'mlp.down_proj.weight', (H, I)),
              (b + 'mlp.down_proj.bias', (H,))]
        t += [(b + n + s, (H,)) for n in ('attn_ln', 'mlp_ln') for s in ('.weight', '.bias')]
    t += [(p + 'pooler.dense.weight', (H, H)), (p + 'pooler.dense.bias', (H,)), ('classifier.weight', (1, H)),
          ('classifier.bias', (1,))]
    return t


def modernbert_tensors(L, H, I, V):
    """name -> shape of ModernBertForSequenceClassification (no biases but the classifier's)."""
    p = 'model.'
    t = [(p + 'embeddings.tok_embeddings.weight', (V, H)), (p + 'embeddings.norm.weight', (H,))]
    for i in range(L):
        b = f'{p}layers.{i}.'
        if i: t.append((b + 'attn_norm.weight', (H,)))
        t += [(b + 'attn.Wqkv.weight', (3 * H, H)), (b + 'attn.Wo.weight', (H, H)), (b + 'mlp_norm.weight', (H,)),
              (b + 'mlp.Wi.weight', (2 * I, H)), (b + 'mlp.Wo.weight', (H, I))]
    t += [(p + 'final_norm.weight', (H,)), ('head.dense.weight', (H, H)), ('head.norm.weight', (H,)),
          ('classifier.weight', (1, H)), ('classifier.bias', (1,))]
    return t


def pools(rng):
    """Byte pools of 2^20 floats: N(0, 0.02^2) for matrices, 1 + N(0, 0.1^2) for norms, in F32 and BF16."""
    n = 1 << 20
    w = [rng.gauss(0, 0.02) for _ in range(n)]
    g = [1 + rng.gauss(0, 0.1) for _ in range(n)]
    out = {}
    for key, xs in (('w', w), ('g', g)):
        f32 = struct.pack(f'<{n}f', *xs)
        out[key, 'F32'] = f32
        out[key, 'BF16'] = b''.join(f32[i + 2:i + 4] for i in range(0, len(f32), 4))  # truncated to bf16
    return out


def write_tensor(f, pool, nbytes, rng, width):
    """nbytes of pool, from a random element offset, wrapping around."""
    at = rng.randrange(len(pool) // width) * width
    while nbytes > 0:
        chunk = pool[at:at + nbytes]
        f.write(chunk)
        nbytes -= len(chunk)
        at = 0


def write_model(a):
    fixture, L, H, nh, I, V, extra = LIKE[a.like]
    L = a.layers or L
    src = os.path.join(FIXTURES, fixture)
    order = (gte_tensors if fixture == 'tiny-gte' else modernbert_tensors)(L, H, I, V)
    width = {'F32': 4, 'BF16': 2}[a.dtype]
    header, off = {}, 0
    for n, s in order:
        size = width
        for d in s: size *= d
        header[n] = {'dtype': a.dtype, 'shape': list(s), 'data_offsets': [off, off + size]}
        off += size
    header['__metadata__'] = {'format': 'pt'}
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * ((8 - len(h) % 8) % 8)
    rng = random.Random(a.seed)
    pool = pools(rng)
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, 'model.safetensors'), 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h)
        for n, s in order:
            kind = 'g' if 'norm' in n.lower() or n.endswith('_ln.weight') else 'w'
            if n.endswith('.bias') and kind == 'g': kind = 'w'
            write_tensor(f, pool[kind, a.dtype], header[n]['data_offsets'][1] - header[n]['data_offsets'][0], rng,
                         width)
    cfg = json.load(open(os.path.join(src, 'config.json')))
    cfg.update({'num_hidden_layers': L, 'hidden_size': H, 'num_attention_heads': nh, 'intermediate_size': I,
                'vocab_size': V, 'torch_dtype': {'F32': 'float32', 'BF16': 'bfloat16'}[a.dtype]})
    cfg.update(extra)
    with open(os.path.join(a.out, 'config.json'), 'w') as f:
        json.dump(cfg, f, indent=2)
        f.write('\n')
    for fn in os.listdir(src):
        if fn not in ('config.json', 'model.safetensors'):
            shutil.copy(os.path.join(src, fn), a.out)
    write_workloads(a.out, fixture)
    print(f'{a.out}: {a.like} shape, {L} layers, {a.dtype}, {off / 1e9:.2f} GB of weights')


def pair(rng, cls, sep, mid, q, n):
    """[CLS] q query ids [SEP..] document ids [SEP]: n ids in all."""
    d = n - q - 2 - len(mid)
    return [cls] + [rng.randrange(5, 50000) for _ in range(q)] + mid + [rng.randrange(5, 50000)
                                                                          for _ in range(d)] + [sep]


def write_workloads(out, fixture):
    cls, sep, mid = TEMPLATE[fixture]
    rng = random.Random(20240601)
    w = {'W1': [pair(rng, cls, sep, mid, 16, 256) for _ in range(32)],
         'L4096': [pair(rng, cls, sep, mid, 16, 4096)]}
    with open(os.path.join(out, 'workloads.json'), 'w') as f:
        json.dump(w, f)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('out')
    ap.add_argument('--like', required=True, choices=sorted(LIKE))
    ap.add_argument('--layers', type=int, default=0)
    ap.add_argument('--dtype', default='F32', choices=['F32', 'BF16'])
    ap.add_argument('--seed', type=int, default=20240601)
    write_model(ap.parse_args())


if __name__ == '__main__':
    main()
