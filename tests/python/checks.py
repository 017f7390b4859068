"""checks.py — the rerank package's API checks, run by test_python.py with a venv's python in which
`pip install ./python` installed it, against the librerank.so RERANK_LIB names.

    checks.py --build BUILD --layout JSON [--asan]

Scores are compared with the C CLI (`BUILD/rerank score`) on the golden fixture pairs within 1e-6.
"""
import argparse
import gc
import json
import os
import subprocess
import sys
import threading
import time
import weakref

import harness
import rerank
from harness import Harness

SHARED = os.environ.get("RERANK_SHARED") or "../shared"
MODELS = os.path.join(SHARED, "fixtures", "models")
GOLDEN = os.path.join(SHARED, "fixtures", "golden")
XLMR = os.path.join(MODELS, "tiny-xlmr")
BERT = os.path.join(MODELS, "tiny-bert")
QWEN3 = os.path.join(MODELS, "tiny-qwen3")
TOL = 1e-6

H = Harness()
ARGS = None
_cache = {}


def golden(name):
    if name not in _cache:
        with open(os.path.join(GOLDEN, name), encoding="utf-8") as f:
            _cache[name] = [json.loads(line) for line in f]
    return _cache[name]


def cli_scores(model, records, *flags):
    """`rerank score --threads 1` over records' query/doc. (One thread here and in most models below:
    on a busy 2-core machine OpenMP's barriers make two threads slower than one.)"""
    lines = "".join(json.dumps({"query": r["query"], "doc": r["doc"]}) + "\n" for r in records)
    return harness.cli_scores(ARGS.build, model, lines, ("--threads", "1") + flags)


def rss_mib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2.0 ** 20


def close_all(scores_a, scores_b, what):
    if not H.check(len(scores_a) == len(scores_b), "%s: %d vs %d scores" % (what, len(scores_a), len(scores_b))):
        return
    worst = max((abs(a - b), i) for i, (a, b) in enumerate(zip(scores_a, scores_b))) if scores_a else (0, -1)
    H.check(worst[0] <= TOL, "%s: pair %d differs by %.3g (> %g): %.9g vs %.9g" % (
        what, worst[1], worst[0], TOL, scores_a[worst[1]], scores_b[worst[1]]))


# -- the binding matches the header -------------------------------------------------------------------

def test_layout():
    from rerank import _native
    layout = json.loads(ARGS.layout)
    structs = layout["structs"]
    H.check(structs.pop("enum")["size"] == _native.ctypes.sizeof(_native.c_status), "enum size")
    H.check(set(structs) == set(_native.STRUCTS), "structs: C %s, ctypes %s" % (sorted(structs), sorted(_native.STRUCTS)))
    for name, c in structs.items():
        py = _native.STRUCTS.get(name)
        if py is None:
            continue
        H.check(c["size"] == _native.ctypes.sizeof(py), "sizeof(%s): C %d, ctypes %d" % (
            name, c["size"], _native.ctypes.sizeof(py)))
        names = [f[0] for f in py._fields_]
        H.check(sorted(names) == sorted(c["fields"]), "%s fields: C %s, ctypes %s" % (name, sorted(c["fields"]), names))
        for field, (off, size) in c["fields"].items():
            if field in names:
                got = getattr(py, field)
                H.check((got.offset, got.size) == (off, size), "%s.%s: C offset %d size %d, ctypes offset %d size %d"
                        % (name, field, off, size, got.offset, got.size))
    for name, value in layout["constants"].items():
        H.check(_native.CONSTANTS.get(name) == value, "%s: C %d, binding %r" % (name, value, _native.CONSTANTS.get(name)))
    H.check(set(layout["constants"]) == set(_native.CONSTANTS), "constants differ: %s" % (
        set(layout["constants"]) ^ set(_native.CONSTANTS)))
    major, minor = layout["version"].split(".")[:2]
    H.check(_native.ABI_VERSION == major + "." + minor, "header %s, binding ABI %s" % (layout["version"],
                                                                                       _native.ABI_VERSION))
    H.check(rerank.library_version() == layout["version"], "library %s" % rerank.library_version())
    H.check(os.path.realpath(rerank.library_path()) == os.path.realpath(os.environ["RERANK_LIB"]),
            "loaded %s" % rerank.library_path())
    H.check(os.path.join("site-packages", "rerank") in rerank.__file__, "imported from %s" % rerank.__file__)


# -- same numbers as the CLI --------------------------------------------------------------------------

def compare_model(model, pairs_file, options):
    """compute_score, predict and rank against `rerank score`; with options, also normalize and every
    constructor option against the CLI's flags (on one model: each CLI run loads the model again)."""
    records = golden(pairs_file)
    pairs = [[r["query"], r["doc"]] for r in records]
    want = cli_scores(model, records)
    with rerank.Reranker(model, threads=1) as r:
        close_all(r.compute_score(pairs), want, "compute_score")
        close_all(r.compute_score(pairs, batch_size=100), want, "compute_score batch_size=100")
        close_all(r.predict(pairs, activation_fn="identity"), want, "predict identity")
        # rank: one call per query (the library's one-query path)
        by_query = {}
        for i, rec in enumerate(records):
            by_query.setdefault(rec["query"], []).append(i)
        ranked = [None] * len(records)
        for q, idx in by_query.items():
            res = r.rank(q, [records[i]["doc"] for i in idx], activation_fn="identity")
            H.check([x["score"] for x in res] == sorted((x["score"] for x in res), reverse=True), "rank order")
            for x in res:
                ranked[idx[x["corpus_id"]]] = x["score"]
        close_all(ranked, want, "rank")
        if options:
            close_all(r.compute_score(pairs, normalize=True), cli_scores(model, records, "--normalize"), "normalize")
        # the ids scored are the golden ones (FlagEmbedding truncation at 512)
        n = 0
        for rec in records:
            if rec["max_length"] == 512 and rec["truncation"] == "flag":
                ids, types = r.tokenize(rec["query"], rec["doc"], return_type_ids=True)
                n += 1
                if not H.check(ids == rec["input_ids"] and types == rec["token_type_ids"],
                               "%s record %d: ids differ" % (pairs_file, rec["id"])):
                    break
        H.check(n >= 50, "only %d golden records at max_length 512" % n)
    if not options:
        return
    # every option reaches the library: the CLI with the same flags
    sub = records[:60]
    with rerank.Reranker(model, precision="int8", max_length=48, truncation="longest_first",
                         truncation_direction="left", layers=1, threads=1) as r:
        close_all(r.compute_score([[x["query"], x["doc"]] for x in sub]),
                  cli_scores(model, sub, "--precision", "int8", "--max-length", "48", "--truncation", "longest_first",
                             "--truncation-direction", "left", "--layers", "1"), "options")
        close_all(r.compute_score([[x["query"], x["doc"]] for x in sub], max_length=20),
                  cli_scores(model, sub, "--precision", "int8", "--max-length", "20", "--truncation", "longest_first",
                             "--truncation-direction", "left", "--layers", "1"), "max_length per call")
        info = r.info
        H.check(info["precision"] == "int8" and info["compute"] == "int8", "info %r" % info)


def test_scores_xlmr():
    compare_model(XLMR, "pairs-xlmr.jsonl", False)


def test_scores_bert():
    compare_model(BERT, "pairs-bert.jsonl", True)


def test_qwen3():
    """An LLM reranker through the package: the prompt's ids, the default and a custom instruction,
    scores equal to the CLI's and within 1e-4 of the float64 reference, family and recipe in info."""
    default = "Given a web search query, retrieve relevant passages that answer the query"
    records = [r for r in golden("pairs-qwen3.jsonl") if r["max_length"] == 8192 and r["instruction"] == default]
    records = records[:40]
    pairs = [[r["query"], r["doc"]] for r in records]
    with rerank.Reranker(QWEN3, threads=1) as r:
        H.check(r.info["family"] == "qwen3" and r.info["prompt"] == "qwen3-reranker", "info %r" % r.info)
        got = r.compute_score(pairs)
        close_all(got, cli_scores(QWEN3, records), "qwen3 compute_score")
        worst = max(abs(g - rec["scores"]["tiny-qwen3"]) for g, rec in zip(got, records))
        H.check(worst <= 1e-4, "qwen3: %.3g from the reference" % worst)
        for rec in records[:10]:
            if not H.check(r.tokenize(rec["query"], rec["doc"]) == rec["input_ids"], "qwen3 record %d: ids" % rec["id"]):
                break
    ins = "Given a question, find passages about the animal it names"
    with rerank.Reranker(QWEN3, threads=1, instruction=ins) as r:
        got = r.compute_score(pairs)
        close_all(got, cli_scores(QWEN3, records, "--instruction", ins), "qwen3 instruction")
        H.check(max(abs(a - b) for a, b in zip(got, (x["scores"]["tiny-qwen3"] for x in records))) > 1e-3,
                "qwen3: the instruction changed no score")


def test_tokenize_text():
    records = golden("tokenize-xlmr.jsonl")[:300]
    with rerank.Reranker(XLMR, threads=1) as r:
        for rec in records:
            if not H.check(r.tokenize(rec["text"]) == rec["ids"], "text %d: ids differ" % rec["id"]):
                break


# -- shapes --------------------------------------------------------------------------------------------

def test_long_docs():
    """rank(long_docs="chunk") gives `rerank score --long-docs chunk`'s scores and windows."""
    doc = " ".join(["the panda eats bamboo in the forest"] * 150 + ["a bear species endemic to China"])
    docs = [doc, "hi"]
    flags = ("--long-docs", "chunk", "--chunk-tokens", "100", "--chunk-overlap", "10", "--max-chunks-per-doc", "9")
    lines = "".join(json.dumps({"query": "what is a panda?", "doc": d}) + "\n" for d in docs)
    p = subprocess.run([os.path.join(ARGS.build, "rerank"), "score", "--model", XLMR, "--input", "-", "--threads",
                        "1"] + list(flags), input=lines.encode(), stdout=subprocess.PIPE, check=True)
    want = [json.loads(line) for line in p.stdout.decode().split("\n") if line]
    with rerank.Reranker(XLMR, threads=1) as r:
        got = r.rank("what is a panda?", docs, activation_fn="identity", long_docs="chunk", chunk_tokens=100,
                     chunk_overlap=10, max_chunks_per_doc=9)
        plain = r.rank("what is a panda?", docs, activation_fn="identity")
        cut = r.rank("what is a panda?", docs, activation_fn="identity", max_tokens_per_doc=5)
        try:
            r.rank("q", docs, long_docs="split")
            H.check(False, "long_docs='split' accepted")
        except ValueError:
            pass
        try:
            r.rank("q", docs, long_docs="chunk", chunk_tokens=10, chunk_overlap=10)
            H.check(False, "overlap = chunk_tokens accepted")
        except rerank.InvalidArgumentError:
            pass
    H.check(len(got) == 2, "rank long: %d results" % len(got))
    for g in got:
        w = want[g["corpus_id"]]
        H.check(abs(g["score"] - w["score"]) <= TOL, "doc %d: %r vs %r" % (g["corpus_id"], g["score"], w["score"]))
        for k in ("chunk", "chunks", "token_start", "token_end", "doc_tokens"):
            H.check(g[k] == w[k], "doc %d %s: %r vs %r" % (g["corpus_id"], k, g[k], w[k]))
    H.check(want[0]["chunks"] == 9 and want[0]["doc_tokens"] > 900, "CLI windows: %r" % want[0])
    H.check(all("chunk" not in x for x in plain + cut), "chunk fields without chunking")
    scores = {x["corpus_id"]: x["score"] for x in cut}
    H.check(abs(scores[1] - {x["corpus_id"]: x["score"] for x in plain}[1]) <= TOL, "a short doc is not cut")


def test_shapes():
    q, d1, d2 = "what is panda?", "hi", "The giant panda is a bear species endemic to China."
    with rerank.Reranker(XLMR) as r:
        one = r.compute_score([q, d2])
        H.check(type(one) is float, "compute_score([q, d]) is %s" % type(one).__name__)
        both = r.compute_score([[q, d1], (q, d2)])
        H.check(type(both) is list and len(both) == 2 and all(type(x) is float for x in both), repr(both))
        H.near(both[1], one, TOL, "single vs batch")
        one_list = r.compute_score(((q, d1),))
        H.check(type(one_list) is list and len(one_list) == 1, "a list of one pair gives a list: %r" % one_list)
        H.near(one_list[0], both[0], TOL, "list of one")
        H.check(r.compute_score([]) == [], "empty list")
        H.near(r.compute_score((q, d2)), one, TOL, "tuple pair")
        H.near(r.compute_score([b"what is panda?", d2.encode()]), one, TOL, "bytes texts")
        # predict: CrossEncoder's default activation for a one-label model without a config entry is sigmoid
        p = r.predict([q, d2])
        H.near(p, 1 / (1 + 2.718281828459045 ** -one), TOL, "predict sigmoid")
        ps = r.predict([[q, d1], [q, d2]])
        H.check(isinstance(ps, list) and len(ps) == 2, "no numpy in this venv: predict gives a list, got %r" % (ps,))
        H.check(r.predict([]) == [], "predict([])")
        H.near(r.predict([q, d2], activation_fn=lambda x: 2 * x), 2 * one, TOL, "callable activation")
        # CrossEncoder.predict's other keywords, in its positional order: apply_softmax (one score per
        # pair: nothing to normalize), convert_to_numpy, convert_to_tensor (torch, or a clear ImportError)
        H.check(r.predict([[q, d1], [q, d2]], 8, None, None, True, False) == ps, "apply_softmax is a no-op")
        try:
            import torch  # noqa: F401
        except ImportError:
            H.raises(ImportError, r.predict, [[q, d1]], convert_to_tensor=True, contains="needs torch")
        else:
            t = r.predict([[q, d1], [q, d2]], convert_to_tensor=True)
            H.check(isinstance(t, torch.Tensor) and t.tolist() == [float(torch.tensor(x)) for x in ps], repr(t))
        # rank
        res = r.rank(q, [d1, d2], return_documents=True)
        H.check([x["corpus_id"] for x in res] == sorted([0, 1], key=lambda i: -ps[i]), repr(res))
        H.check(all(set(x) == {"corpus_id", "score", "text"} for x in res), repr(res))
        H.check(res[0]["text"] == [d1, d2][res[0]["corpus_id"]], repr(res))
        top = r.rank(q, iter([d1, d2, d1]), top_k=1)
        H.check(len(top) == 1 and set(top[0]) == {"corpus_id", "score"}, repr(top))
        # the same document's score from another batch: equal up to the GEMM's summation order, which
        # may depend on the batch's rows (oneDNN's run-time-M GEMM on AVX2)
        H.near(top[0]["score"], res[0]["score"], TOL, "top_k=1 keeps the best score")
        H.check(top[0]["corpus_id"] == res[0]["corpus_id"] or top[0]["corpus_id"] == 2 and res[0]["corpus_id"] == 0, repr(top))
        tie = r.rank(q, [d1, d1, d1])
        H.check([x["corpus_id"] for x in tie] == [0, 1, 2], "ties keep document order: %r" % tie)
        H.check(r.rank(q, []) == [], "rank with no documents")
        info = r.info
        for key, want in (("family", "xlm-roberta"), ("model_type", "xlm-roberta"), ("precision", "fp32"),
                          ("compute", "fp32"), ("device", "cpu"), ("num_layers", 2), ("hidden_size", 32),
                          ("num_labels", 1), ("max_positions", 512), ("default_max_length", 512),
                          ("weights_dtype", "F32"), ("vocab_size", 250002)):
            H.check(info.get(key) == want, "info[%r] = %r, want %r" % (key, info.get(key), want))
        H.check(r.healthy, "healthy")
        H.check("xlm-roberta" in repr(r), repr(r))


def test_activation_from_config():
    """A model whose config.json names CrossEncoder's activation (ms-marco's Identity) predicts raw logits;
    a malformed config.json is a FormatError."""
    import shutil
    import tempfile
    tmp = tempfile.mkdtemp(prefix="rr-py-act-")
    try:
        for name in os.listdir(BERT):
            if name != "config.json":
                os.symlink(os.path.abspath(os.path.join(BERT, name)), os.path.join(tmp, name))
        with open(os.path.join(BERT, "config.json")) as f:
            config = json.load(f)
        config["sbert_ce_default_activation_function"] = "torch.nn.modules.linear.Identity"
        with open(os.path.join(tmp, "config.json"), "w") as f:
            json.dump(config, f)
        with rerank.Reranker(tmp) as r:
            raw = r.compute_score(["q", "d"])
            H.check(r.predict(["q", "d"]) == raw, "Identity from config: %r vs %r" % (r.predict(["q", "d"]), raw))
        config["sentence_transformers"] = {"activation_fn": "torch.nn.modules.activation.Sigmoid"}
        with open(os.path.join(tmp, "config.json"), "w") as f:
            json.dump(config, f)
        with rerank.Reranker(tmp) as r:
            H.near(r.predict(["q", "d"]), 1 / (1 + 2.718281828459045 ** -raw), TOL, "Sigmoid (newer key wins)")
        config["sentence_transformers"] = {"activation_fn": "torch.nn.modules.activation.GELU"}
        with open(os.path.join(tmp, "config.json"), "w") as f:
            json.dump(config, f)
        with rerank.Reranker(tmp) as r:
            H.raises(rerank.UnsupportedError, r.predict, ["q", "d"], contains="GELU")
            H.check(r.predict(["q", "d"], activation_fn="identity") == raw, "explicit activation still works")
        with open(os.path.join(tmp, "config.json"), "w") as f:
            f.write('{"architectures": [')
        H.raises(rerank.FormatError, rerank.Reranker, tmp, contains="config.json")
    finally:
        shutil.rmtree(tmp)


# -- errors --------------------------------------------------------------------------------------------

def test_errors():
    E = rerank
    H.raises(E.ModelIOError, E.Reranker, "/nonexistent/model", contains="/nonexistent/model")
    H.raises(E.ModelIOError, E.Reranker, "NoSuchOrg/no-such-model", contains="rerank pull NoSuchOrg/no-such-model")
    H.raises(E.InvalidArgumentError, E.Reranker, BERT, precision="fp64", contains="unknown precision 'fp64'")
    H.raises(TypeError, E.Reranker, BERT, precision=32)
    H.raises(ValueError, E.Reranker, BERT, threads=-1)
    H.raises(ValueError, E.Reranker, BERT, max_length=-5)
    H.raises(ValueError, E.Reranker, BERT, max_length=2 ** 31)
    H.raises(TypeError, E.Reranker, BERT, layers=1.5)
    H.raises(E.InvalidArgumentError, E.Reranker, BERT, layers=3, contains="layers = 3")
    H.raises(ValueError, E.Reranker, BERT, truncation="bogus", contains="longest_first")
    H.raises(ValueError, E.Reranker, BERT, truncation_direction="up")
    H.raises(E.InvalidArgumentError, E.Reranker, BERT, instruction="judge", contains="takes no instruction")
    H.raises(E.InvalidArgumentError, E.Reranker, BERT, device="tpu", contains="tpu")
    H.raises(E.UnsupportedError, E.Reranker, BERT, device="cuda:0")  # the CPU build has no CUDA
    H.raises(E.ModelIOError, E.Reranker, GOLDEN, contains="config.json")  # a directory without a model
    with E.Reranker(BERT) as r:
        ok = r.compute_score(["q", "d"])
        for bad in (b"\xff\xfe", b"ok \xc3", "\udc80", "\ud800x"):
            H.raises(E.InvalidUTF8Error, r.compute_score, ["q", bad], contains="not valid UTF-8")
            H.raises(E.InvalidUTF8Error, r.compute_score, [["q", "d"], ["q2", bad]], contains="pair 1")
            H.raises(E.InvalidUTF8Error, r.rank, bad, ["d"], contains="query is not valid UTF-8")
            H.raises(E.InvalidUTF8Error, r.tokenize, bad)
            H.raises(E.InvalidUTF8Error, r.tokenize, "q", bad)
        e = H.raises(E.RerankError, r.compute_score, ["q", b"\xff"])
        H.check(e is not None and e.status == 6 and e.status_name == "invalid_utf8" and isinstance(e, ValueError),
                "status fields: %r" % (vars(e) if e else None))
        H.raises(TypeError, r.compute_score, "what is panda?")
        H.raises(TypeError, r.compute_score, 42)
        H.raises(ValueError, r.compute_score, ["only a query"], contains="1 elements")
        H.raises(ValueError, r.compute_score, [["q", "d", "extra"]], contains="3 elements")
        H.raises(TypeError, r.compute_score, [["q", 1]])
        H.raises(TypeError, r.compute_score, [["q", "d"], "qd"])
        H.raises(TypeError, r.compute_score, [["q", None]])
        H.raises(TypeError, r.rank, "q", "one document as a string")
        H.raises(TypeError, r.rank, "q", [1, 2])
        H.raises(ValueError, r.rank, "q", ["d"], top_k=-1)
        H.raises(TypeError, r.rank, "q", ["d"], top_k=1.0)
        H.raises(TypeError, r.rank, "q", ["d"], top_k=True)

        class Int64:  # an integer type that is not int, as numpy's int64 (len(array), argmax)
            def __index__(self):
                return 1
        H.check(len(r.rank("q", ["d", "e"], top_k=Int64(), batch_size=Int64())) == 1, "top_k from __index__")
        H.raises(ValueError, r.compute_score, ["q", "d"], batch_size=0)
        H.raises(ValueError, r.compute_score, ["q", "d"], max_length=-1)
        H.raises(TypeError, r.predict, ["q", "d"], activation_fn=3)
        H.raises(E.UnsupportedError, r.predict, ["q", "d"], activation_fn="softplus")
        H.check(r.compute_score(["q", "d"]) == ok, "errors change nothing: the model scores the same")
    with E.Reranker(BERT, truncation="none") as r:
        H.raises(E.LimitError, r.compute_score, ["q", "word " * 600], contains="exceed")
        H.raises(E.LimitError, r.compute_score, [["q", "d"], ["q2", "word " * 600]], contains="pair 1")
        H.check(r.compute_score(["q", "d"]) == ok, "after a LimitError")
    env = dict(os.environ, RERANK_LIB="/nonexistent/librerank.so")
    out = subprocess.run([sys.executable, "-c", "import rerank\ntry:\n rerank.Reranker('x')\nexcept rerank."
                          "LibraryNotFoundError as e:\n print('LNF', e)"], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, check=False)
    text = out.stdout.decode()
    H.check(out.returncode == 0 and text.startswith("LNF") and "/nonexistent/librerank.so" in text, text)


# -- lifetime ------------------------------------------------------------------------------------------

def test_close():
    r = rerank.Reranker(BERT)
    H.check(not r.closed, "open")
    r.close()
    H.check(r.closed, "closed")
    r.close()  # idempotent
    for call in (lambda: r.compute_score(["q", "d"]), lambda: r.predict(["q", "d"]), lambda: r.rank("q", ["d"]),
                 lambda: r.tokenize("q"), lambda: r.info):
        H.raises(rerank.ClosedError, call, contains="closed")
    H.check("closed" in repr(r), repr(r))
    with rerank.Reranker(BERT) as r2:
        H.check(isinstance(r2.compute_score(["q", "d"]), float), "inside with")
    H.check(r2.closed, "with closes")
    try:
        with rerank.Reranker(BERT) as r3:
            raise KeyError("boom")
    except KeyError:
        pass
    H.check(r3.closed, "with closes on an exception")
    r4 = rerank.Reranker(BERT)
    ref = weakref.ref(r4)
    del r4
    gc.collect()
    H.check(ref() is None, "an unreferenced Reranker is collected")


def weight_maps(model):
    """How many mappings of model's safetensors file this process holds (each loaded model maps it once)."""
    target = os.path.realpath(os.path.join(model, "model.safetensors"))
    with open("/proc/self/maps") as f:
        return sum(1 for line in f if line.rstrip().endswith(target))


def rss_growth(make, n):
    for _ in range(3):
        make()
    gc.collect()
    base = rss_mib()
    for _ in range(n):
        make()
    gc.collect()
    return rss_mib() - base


def test_no_leak():
    """load + score + close (and load + score + drop) in a loop: every model's weights are unmapped and
    RSS stays flat. Held models show in both measures, so a leaked model per round would."""
    def closed():
        with rerank.Reranker(BERT, threads=1) as r:
            r.compute_score([["q", "d"], ["q2", "d2"]])

    def dropped():
        r = rerank.Reranker(BERT, threads=1)
        r.compute_score([["q", "d"], ["q2", "d2"]])

    n = 4 if ARGS.asan else 20
    grown_close = rss_growth(closed, n)
    H.check(weight_maps(BERT) == 0, "after load/close: %d mappings of the weights left" % weight_maps(BERT))
    grown_gc = rss_growth(dropped, n)
    H.check(weight_maps(BERT) == 0, "after load/drop: %d mappings of the weights left" % weight_maps(BERT))
    base = rss_mib()
    held = [rerank.Reranker(BERT, threads=1) for _ in range(4)]
    for r in held:
        r.compute_score([["q", "d"], ["q2", "d2"]])
    per_model = (rss_mib() - base) / len(held)
    H.check(weight_maps(BERT) == len(held), "%d models held, %d mappings" % (len(held), weight_maps(BERT)))
    del r
    held = None
    gc.collect()
    H.check(weight_maps(BERT) == 0, "dropping held models unmaps them: %d left" % weight_maps(BERT))
    print("  rss: %d rounds: close %+.2f MiB, gc %+.2f MiB; a held model adds %.2f MiB"
          % (n, grown_close, grown_gc, per_model), flush=True)
    if ARGS.asan:
        print("  SKIP rss flatness under ASan: freed memory stays in ASan's quarantine (the loops ran under ASan, "
              "which checks every free, and the weight mappings were counted)", flush=True)
        return
    H.check(per_model > 0.1, "a held model adds only %.2f MiB: RSS could not show a leak" % per_model)
    limit = max(1.0, n * per_model / 4)  # a quarter of what leaking every model would add
    H.check(grown_close < limit, "load/close x%d grew RSS by %.2f MiB (limit %.2f)" % (n, grown_close, limit))
    H.check(grown_gc < limit, "load/drop x%d grew RSS by %.2f MiB (limit %.2f)" % (n, grown_gc, limit))


# -- threads and the GIL -------------------------------------------------------------------------------

def test_gil_released():
    """While one thread is inside a long scoring call, a Python thread keeps running (ctypes drops the GIL).

    The call must be long enough for a stall to show. Its length is measured on the call itself, not on
    a probe before it (a first call pays for setup, so a probe long enough can precede a call too short:
    CI saw 0.19 s after a 0.3 s probe): the batch doubles until the watched call takes >= 0.3 s."""
    docs = [rec["doc"] for rec in golden("pairs-xlmr.jsonl")]
    with rerank.Reranker(XLMR, threads=1) as r:
        r.rank("what is panda?", docs)  # setup (primitives, scratch) paid here, outside the watched calls
        batch = docs
        while True:
            span, done = {}, threading.Event()

            def work():
                span["t0"] = time.perf_counter()
                r.rank("what is panda?", batch)
                span["t1"] = time.perf_counter()
                done.set()

            th = threading.Thread(target=work)
            gaps, iterations = [], 0
            last = time.perf_counter()
            th.start()
            while not done.is_set():
                now = time.perf_counter()
                if now - last > 0.002:
                    gaps.append((last, now))
                last = now
                iterations += 1
            th.join()
            t0, t1 = span["t0"], span["t1"]
            dur = t1 - t0
            if dur >= 0.3 or len(batch) >= 256 * len(docs):
                break
            batch = batch * 2
    # the longest stretch inside [t0, t1] in which this thread did not run
    longest = max([min(b, t1) - max(a, t0) for a, b in gaps if b > t0 and a < t1] or [0.0])
    print("  gil: scoring call %.3f s (%d pairs); this thread ran %d iterations, longest pause %.3f s"
          % (dur, len(batch), iterations, longest), flush=True)
    H.check(dur >= 0.2, "even %d pairs took only %.3f s: too short to show a stall" % (len(batch), dur))
    H.check(longest < 0.5 * dur, "the Python thread stalled %.3f s of a %.3f s scoring call: GIL held?" % (longest, dur))


def test_threads_two_models():
    """Two threads score concurrently on two models, and two more share one model: the same scores as serially."""
    xp = [[x["query"], x["doc"]] for x in golden("pairs-xlmr.jsonl")]
    bp = [[x["query"], x["doc"]] for x in golden("pairs-bert.jsonl")]
    with rerank.Reranker(XLMR, threads=1) as rx, rerank.Reranker(BERT, threads=1) as rb:
        want_x, want_b = rx.compute_score(xp), rb.compute_score(bp)
        jobs = [(rx, xp), (rb, bp), (rx, xp[::-1]), (rb, bp[:50])]
        results = [None] * len(jobs)
        barrier = threading.Barrier(len(jobs))

        def work(i):
            model, pairs = jobs[i]
            barrier.wait()
            results[i] = model.compute_score(pairs)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(len(jobs))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        close_all(results[0], want_x, "xlmr thread")
        close_all(results[1], want_b, "bert thread")
        close_all(results[2], want_x[::-1], "xlmr second thread")
        close_all(results[3], want_b[:50], "bert second thread")

        # close() while another thread scores: it waits for that call, then the model is gone
        started, out = threading.Event(), {}

        def long_call():
            started.set()
            try:
                out["scores"] = rx.compute_score(xp * 4)
            except rerank.ClosedError as e:
                out["closed"] = e

        t = threading.Thread(target=long_call)
        t.start()
        started.wait()
        time.sleep(0.01)
        rx.close()
        t.join()
        if "scores" in out:
            close_all(out["scores"], want_x * 4, "scores of a call close() waited for")
        else:  # close() won the race: the call raised ClosedError instead of touching a freed model
            H.check("closed" in out, "the call neither scored nor raised ClosedError")
        H.raises(rerank.ClosedError, rx.compute_score, xp[:1])


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--layout", required=True)
    ap.add_argument("--asan", action="store_true")
    ARGS = ap.parse_args()
    for test in (test_layout, test_scores_xlmr, test_scores_bert, test_qwen3, test_tokenize_text, test_long_docs, test_shapes,
                 test_activation_from_config, test_errors, test_close, test_no_leak, test_gil_released,
                 test_threads_two_models):
        H.run(test)
    return H.finish()


if __name__ == "__main__":
    sys.exit(main())
