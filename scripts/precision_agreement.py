#!/usr/bin/env python3
"""Agreement of reduced precisions with fp32 on the golden pairs.

Scores the `flag` pairs of ../shared/fixtures/golden/pairs-xlmr.jsonl (or
--pairs FILE) with `rerank score --precision P` for fp32 and each other
precision, and prints max |score diff| and Kendall tau (tau-a over all pairs
of pairs) against fp32. Pairs the model cannot take are left out of both.
Standard library only.

  python3 scripts/precision_agreement.py --model ../shared/fixtures/models/tiny-xlmr

With --trec FILE (a ../shared/eval/trec-dl retrieve_results file) it scores
the first --docs BM25 candidates of the first --queries queries instead
(64 text pairs by default), e.g. on the full-size random model:

  python3 scripts/precision_agreement.py --model /tmp/bge-m3 \
      --trec ../shared/eval/trec-dl/retrieve_results_dl19.json

On the golden pairs it also prints the agreement of the fixture's own
float64 reference scores for the bf16-stored copy of tiny-xlmr with those of
tiny-xlmr: what rounding the weights alone to bf16 costs, with exact math.
"""
import argparse, json, os, subprocess, sys, tempfile


def scores(binary, model, path, precision):
    out = subprocess.run([binary, "score", "--model", model, "--input", path, "--precision", precision],
                         capture_output=True, text=True)
    return [json.loads(l).get("score") for l in out.stdout.splitlines()]


def kendall(a, b):
    c = d = 0
    n = len(a)
    for i in range(n):
        for j in range(i + 1, n):
            s = (a[i] - a[j]) * (b[i] - b[j])
            c += s > 0
            d += s < 0
    return (c - d) / (n * (n - 1) / 2)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--pairs", default="../shared/fixtures/golden/pairs-xlmr.jsonl")
    ap.add_argument("--binary", default="build/rerank")
    ap.add_argument("--precisions", default="bf16,int8")
    ap.add_argument("--trec", help="score TREC DL text pairs from this retrieve_results file instead")
    ap.add_argument("--queries", type=int, default=8)
    ap.add_argument("--docs", type=int, default=8)
    a = ap.parse_args()
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        if a.trec:
            for q in json.load(open(a.trec))[:a.queries]:
                for h in q["hits"][:a.docs]:
                    f.write(json.dumps({"query": q["query"], "doc": h["content"]}) + "\n")
        else:
            golden = []
            for line in open(a.pairs):
                r = json.loads(line)
                if r.get("truncation", "flag") == "flag":
                    f.write(json.dumps({"query": r["query"], "doc": r["doc"]}) + "\n")
                    golden.append(r.get("scores", {}))
            ref = [g.get("tiny-xlmr") for g in golden]
            bf = [g.get("tiny-xlmr-bf16") for g in golden]
            idx = [i for i in range(len(ref)) if ref[i] is not None and bf[i] is not None]
            if idx:
                x, y = [ref[i] for i in idx], [bf[i] for i in idx]
                print(json.dumps({"reference": "golden float64: tiny-xlmr-bf16 vs tiny-xlmr", "pairs": len(idx),
                                  "max_abs_diff": max(abs(u - v) for u, v in zip(x, y)),
                                  "kendall_tau": round(kendall(x, y), 4)}))
        path = f.name
    try:
        ref = scores(a.binary, a.model, path, "fp32")
        for p in a.precisions.split(","):
            got = scores(a.binary, a.model, path, p)
            idx = [i for i in range(len(ref)) if ref[i] is not None and got[i] is not None]
            x, y = [ref[i] for i in idx], [got[i] for i in idx]
            print(json.dumps({"precision": p, "pairs": len(idx),
                              "max_abs_diff": max(abs(u - v) for u, v in zip(x, y)),
                              "kendall_tau": round(kendall(x, y), 4)}))
    finally:
        os.unlink(path)


if __name__ == "__main__":
    sys.exit(main())
