#!/usr/bin/env python3
"""rerank_local.py — rerank documents in-process with the `rerank` Python package (librerank through ctypes).

    python3 -m venv .venv && .venv/bin/pip install ./python
    RERANK_LIB=$PWD/build/librerank.so .venv/bin/python examples/python/rerank_local.py \
        --model ../shared/fixtures/models/tiny-xlmr \
        --query "what is panda?" "hi" "The giant panda is a bear species endemic to China."

Prints one line per document, best first: rank, raw score (the logit; --normalize: its sigmoid),
document index and text. --top-k N keeps the best N; --json prints CrossEncoder.rank's list of
{"corpus_id", "score", "text"}. Without RERANK_LIB the package finds librerank where
`make install` put it (see README.md, "Python").
"""
import argparse
import json
import sys

import rerank


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True, help="Hugging Face model directory")
    ap.add_argument("--query", required=True)
    ap.add_argument("documents", nargs="+")
    ap.add_argument("--top-k", type=int, default=None)
    ap.add_argument("--normalize", action="store_true", help="sigmoid of the logit")
    ap.add_argument("--precision", default="fp32", help="fp32, bf16, int8 (CPU); fp16, fp8 (CUDA)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    try:
        with rerank.Reranker(args.model, precision=args.precision) as model:
            ranking = model.rank(args.query, args.documents, top_k=args.top_k, return_documents=True,
                                 activation_fn="sigmoid" if args.normalize else "identity")
    except rerank.RerankError as e:
        sys.exit("rerank: %s" % e)
    if args.json:
        print(json.dumps(ranking, ensure_ascii=False))
        return
    for i, hit in enumerate(ranking):
        print("%d  %+.6f  [%d] %s" % (i + 1, hit["score"], hit["corpus_id"], hit["text"]))


if __name__ == "__main__":
    main()
