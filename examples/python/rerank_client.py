#!/usr/bin/env python3
"""rerank_client.py — talk to a running `rerank serve` (standard library only).

    rerank serve --model ../shared/fixtures/models/tiny-xlmr --port 8080 &
    python3 examples/python/rerank_client.py --url http://127.0.0.1:8080 \
        --query "what is panda?" "hi" "The giant panda is a bear species endemic to China."

Calls both APIs the server speaks and prints the ranking:
  POST /v1/rerank   Cohere / Jina: {"model", "query", "documents", "top_n",
                    "return_documents"} -> {"results": [{"index",
                    "relevance_score", "document": {"text"}}], ...}
                    (/v2/rerank is the same)
  POST /rerank      Hugging Face Text Embeddings Inference (TEI): {"query",
                    "texts", "raw_scores", "return_text"} -> [{"index",
                    "score", "text"}]

Existing clients work unchanged by pointing their base URL at the server:
  - Cohere SDK:  cohere.Client(api_key="KEY", base_url="http://HOST:8080")
                 .rerank(model="m", query=q, documents=docs)   (-> /v1/rerank)
  - Jina:        POST http://HOST:8080/v1/rerank with Jina's JSON body
  - TEI clients: Haystack HuggingFaceTEIRanker(url="http://HOST:8080"),
                 LlamaIndex's TEI rerank postprocessor, any TEI /rerank client
                                                                (-> /rerank)
  - LangChain / LlamaIndex CohereRerank: set the Cohere client's base_url.
If the server runs with --api-key / RERANK_API_KEY, pass --api-key (sent as
"Authorization: Bearer KEY", which is what the Cohere and Jina SDKs send).
"""
import argparse
import json
import sys
import urllib.error
import urllib.request


def post(url, path, body, api_key=None, timeout=30.0):
    data = json.dumps(body).encode("utf-8")
    req = urllib.request.Request(url.rstrip("/") + path, data=data, method="POST")
    req.add_header("Content-Type", "application/json")
    if api_key:
        req.add_header("Authorization", "Bearer " + api_key)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read().decode("utf-8"))
    except urllib.error.HTTPError as e:
        detail = e.read().decode("utf-8", "replace")
        raise SystemExit("%s %s: HTTP %d: %s" % ("POST", path, e.code, detail.strip()))
    except urllib.error.URLError as e:
        raise SystemExit("cannot reach %s: %s (is `rerank serve` running?)" % (url, e.reason))


def get(url, path, timeout=5.0):
    try:
        with urllib.request.urlopen(url.rstrip("/") + path, timeout=timeout) as resp:
            return resp.status, resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")
    except urllib.error.URLError as e:
        raise SystemExit("cannot reach %s: %s (is `rerank serve` running?)" % (url, e.reason))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", default="http://127.0.0.1:8080", help="server base URL")
    ap.add_argument("--query", default="what is panda?")
    ap.add_argument("--top-n", type=int, default=None, help="Cohere/Jina top_n")
    ap.add_argument("--raw-scores", action="store_true", help="TEI: raw logits, not sigmoid")
    ap.add_argument("--api-key", default=None)
    ap.add_argument("--model", default="rerank", help='"model" field (informational)')
    ap.add_argument("--api", choices=["both", "cohere", "tei"], default="both")
    ap.add_argument("--json", action="store_true", help="print the raw JSON responses")
    ap.add_argument("documents", nargs="*", default=[
        "hi",
        "The giant panda (Ailuropoda melanoleuca), sometimes called a panda bear or simply "
        "panda, is a bear species endemic to China.",
        "Pandas are a fast Python library for data frames.",
    ])
    a = ap.parse_args(argv)

    status, body = get(a.url, "/health")
    print("GET /health -> %d %s" % (status, body.strip()[:80]))
    status, body = get(a.url, "/ready")
    print("GET /ready  -> %d %s" % (status, body.strip()[:80]))
    print("query: %r" % a.query)

    if a.api in ("both", "cohere"):
        body = {"model": a.model, "query": a.query, "documents": a.documents,
                "return_documents": True}
        if a.top_n is not None:
            body["top_n"] = a.top_n
        r = post(a.url, "/v1/rerank", body, a.api_key)
        if a.json:
            print(json.dumps(r, indent=2))
        print("\nPOST /v1/rerank (Cohere / Jina)")
        for res in r["results"]:
            text = (res.get("document") or {}).get("text", a.documents[res["index"]])
            print("  %8.5f  [%d] %.70s" % (res["relevance_score"], res["index"], text))

    if a.api in ("both", "tei"):
        body = {"query": a.query, "texts": a.documents, "raw_scores": a.raw_scores,
                "return_text": True}
        r = post(a.url, "/rerank", body, a.api_key)
        if a.json:
            print(json.dumps(r, indent=2))
        print("\nPOST /rerank (TEI)")
        for res in r:
            print("  %8.5f  [%d] %.70s" % (res["score"], res["index"],
                                          res.get("text", a.documents[res["index"]])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
