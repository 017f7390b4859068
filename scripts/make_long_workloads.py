#!/usr/bin/env python3
"""Writes bench/workloads-long.json: the long-document workloads of issue #15,
in the layout of ../shared/bench/workloads.json (XLM-R ids, one list per pair:
<s>=0, 16 query ids, </s></s>=2 2, document ids, </s>=2), deterministic
(ids random in [5, 250000) from a fixed seed; a dense transformer's speed
does not depend on which ids they are).

  W4: 2 pairs x 4,096 tokens (a long document against two queries)
  W5: 1 pair  x 8,192 tokens (bge-reranker-v2-m3's whole context)

With --short it writes bench/workloads-short.json instead: single pairs whose
token counts are not multiples of 64 (the GEMM's row split on AMX, README
"AMX row blocks"):

  S40: 1 pair x 40 tokens, S100: 1 pair x 100 tokens

usage: scripts/make_long_workloads.py [--short] [OUT]
Standard library only; the same file comes out every time.
"""
import json, random, sys

SEED = 20261205
SHAPES = {"W4": (2, 4096), "W5": (1, 8192)}
SHORT = {"S40": (1, 40), "S100": (1, 100)}


def pair(rng, n):
    query = [rng.randrange(5, 250000) for _ in range(16)]
    doc = [rng.randrange(5, 250000) for _ in range(n - 20)]
    return [0] + query + [2, 2] + doc + [2]


def main():
    args = sys.argv[1:]
    short = "--short" in args
    args = [a for a in args if a != "--short"]
    shapes = SHORT if short else SHAPES
    out = args[0] if args else "bench/workloads-short.json" if short else "bench/workloads-long.json"
    rng = random.Random(SEED)
    w = {name: [pair(rng, n) for _ in range(pairs)] for name, (pairs, n) in shapes.items()}
    for name, (pairs, n) in shapes.items():
        assert len(w[name]) == pairs and all(len(p) == n for p in w[name])
    with open(out, "w") as f:
        json.dump(w, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
