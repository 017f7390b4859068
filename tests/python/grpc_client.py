"""grpc_client.py — TEI's gRPC API of `rerank serve --grpc-port`, from a real client.

Run by tests/test_grpc.c against a live server (tiny-xlmr, --api-key): Debian's
python3-grpcio, with stubs generated at test time from proto/*.proto by
python3-grpc-tools. Checks Rerank and RerankStream against the HTTP API's
scores, Info, health, bad messages, an unknown method, deadline expiry,
cancellation, a client that disconnects mid-stream, and the API key. With
--long (a server run with --long-docs chunk and a short --max-length): long
texts are scored in windows over gRPC as over HTTP. Prints "ok NAME" /
"not ok NAME: why" per check and exits 1 if any failed.
"""
import argparse
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request

FAILED = []


def check(name, cond, why=""):
    print(("ok " if cond else "not ok ") + name + ("" if cond else ": " + str(why)), flush=True)
    if not cond:
        FAILED.append(name)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--grpc", required=True)
    ap.add_argument("--http", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--proto", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--long", action="store_true")
    a = ap.parse_args()
    # stubs from our .proto files, generated now
    rc = subprocess.call([sys.executable, "-m", "grpc_tools.protoc", "-I" + a.proto, "--python_out=" + a.out,
                          "--grpc_python_out=" + a.out, os.path.join(a.proto, "tei.proto"),
                          os.path.join(a.proto, "health.proto")])
    check("generate_stubs", rc == 0, "grpc_tools.protoc exit %d" % rc)
    if rc:
        return 1
    sys.path.insert(0, a.out)
    import grpc
    import health_pb2
    import health_pb2_grpc
    import tei_pb2
    import tei_pb2_grpc

    target = "127.0.0.1:" + a.grpc
    auth = (("authorization", "Bearer " + a.key),)
    ch = grpc.insecure_channel(target)
    rr = tei_pb2_grpc.RerankStub(ch)

    def http(path, body=None):
        req = urllib.request.Request("http://127.0.0.1:%s%s" % (a.http, path),
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": "Bearer " + a.key, "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.read().decode()

    def metric(name):
        """The sum of a family's series (per-model labels with several models)."""
        vals = [float(line.rsplit(" ", 1)[1]) for line in http("/metrics").splitlines()
                if line.startswith(name + " ") or line.startswith(name + "{")]
        return sum(vals) if vals else None

    def code_of(f):
        try:
            f()
            return grpc.StatusCode.OK, ""
        except grpc.RpcError as e:
            return e.code(), e.details() or ""

    if a.long:
        long_checks(a, rr, tei_pb2, auth, http, metric, code_of)
        ch.close()
        print("RESULT grpc_client failed=%d" % len(FAILED))
        return 1 if FAILED else 0

    query = "what is a panda?"
    texts = ["hi", "The giant panda (Ailuropoda melanoleuca) is a bear species endemic to China.",
             "Der Große Panda ist eine Bärenart aus China.", "パンダは中国に生息するクマの一種です。", "",
             "pandas is a Python library for data analysis"]

    def by_index(ranks):
        return {r.index: r.score for r in ranks}

    # Rerank: the HTTP API's scores, best first, texts when asked
    for raw in (False, True):
        want = {r["index"]: r["score"] for r in json.loads(http("/rerank", {"query": query, "texts": texts,
                                                                             "raw_scores": raw}))}
        resp = rr.Rerank(tei_pb2.RerankRequest(query=query, texts=texts, raw_scores=raw, return_text=True),
                         metadata=auth, timeout=60)
        got = by_index(resp.ranks)
        scores = [r.score for r in resp.ranks]
        check("rerank_scores_raw=%s" % raw,
              len(resp.ranks) == len(texts) and all(abs(got[i] - want[i]) <= 1e-6 for i in want)
              and scores == sorted(scores, reverse=True)
              and all(r.text == texts[r.index] for r in resp.ranks),
              "%s vs %s" % (got, want))
        md = resp.metadata
        # TEI's queue and inference times too, within the total
        check("rerank_metadata", md.compute_tokens > 0 and md.total_time_ns > 0 and md.HasField("queue_time_ns")
              and md.inference_time_ns > 0
              and md.queue_time_ns + md.inference_time_ns + md.tokenization_time_ns <= md.total_time_ns, md)
        # TEI's compute_chars: the query's characters once per text, plus each text's
        chars = len(query) * len(texts) + sum(len(t) for t in texts)
        check("rerank_compute_chars", resp.metadata.compute_chars == chars
              and resp.metadata.tokenization_time_ns > 0, (resp.metadata, chars))
    resp = rr.Rerank(tei_pb2.RerankRequest(query=query, texts=texts), metadata=auth, timeout=60)
    check("rerank_no_text_unless_asked", all(not r.HasField("text") for r in resp.ranks))
    plain = by_index(resp.ranks)

    # metadata "model" picks a served model; an unknown one is NOT_FOUND
    want = {r["index"]: r["relevance_score"] for r in json.loads(http("/v1/rerank", {
        "model": "bert", "query": query, "documents": texts}))["results"]}
    resp = rr.Rerank(tei_pb2.RerankRequest(query=query, texts=texts), metadata=auth + (("model", "bert"),), timeout=60)
    got = by_index(resp.ranks)
    check("model_by_metadata", all(abs(got[i] - want[i]) <= 1e-6 for i in want)
          and any(abs(got[i] - plain[i]) > 1e-4 for i in plain), (got, want))
    try:
        rr.Rerank(tei_pb2.RerankRequest(query=query, texts=texts), metadata=auth + (("model", "nope"),), timeout=10)
        c, d = grpc.StatusCode.OK, ""
    except grpc.RpcError as e:
        c, d = e.code(), e.details()
    check("unknown_model", c == grpc.StatusCode.NOT_FOUND and "'bert'" in d and "'tiny-xlmr'" in d, (c, d))

    # RerankStream: one text per message, the first's options for all
    def stream(n=len(texts)):
        for i in range(n):
            if i == 0:
                yield tei_pb2.RerankStreamRequest(query=query, text=texts[i], return_text=True)
            else:
                yield tei_pb2.RerankStreamRequest(text=texts[i])
    resp = rr.RerankStream(stream(), metadata=auth, timeout=60)
    got = by_index(resp.ranks)
    check("rerank_stream", len(got) == len(texts) and all(abs(got[i] - plain[i]) <= 1e-6 for i in plain)
          and all(r.text == texts[r.index] for r in resp.ranks), got)

    # TEI clients repeat the query in every message: the same query is fine;
    # another one is refused (not scored against the first message's query)
    def stream_queries(q2):
        yield tei_pb2.RerankStreamRequest(query=query, text=texts[0])
        for t in texts[1:]:
            yield tei_pb2.RerankStreamRequest(query=q2, text=t)
    resp = rr.RerankStream(stream_queries(query), metadata=auth, timeout=60)
    got = by_index(resp.ranks)
    check("stream_query_each_message", len(got) == len(texts) and all(abs(got[i] - plain[i]) <= 1e-6 for i in plain),
          got)
    c, d = code_of(lambda: rr.RerankStream(stream_queries("python library"), metadata=auth, timeout=10))
    check("stream_query_mismatch", c == grpc.StatusCode.INVALID_ARGUMENT and '"query"' in d, (c, d))

    # truncation_direction (TEI's field 6): LEFT keeps a long text's end, as HTTP's "Left"
    long_text = "panda " * 600 + "the end of the text"
    for dname, dval in (("Right", tei_pb2.TRUNCATION_DIRECTION_RIGHT), ("Left", tei_pb2.TRUNCATION_DIRECTION_LEFT)):
        want = json.loads(http("/rerank", {"query": query, "texts": [long_text], "truncate": True,
                                           "truncation_direction": dname}))[0]["score"]
        resp = rr.Rerank(tei_pb2.RerankRequest(query=query, texts=[long_text], truncate=True,
                                               truncation_direction=dval), metadata=auth, timeout=60)
        sresp = rr.RerankStream(iter([tei_pb2.RerankStreamRequest(query=query, text=long_text, truncate=True,
                                                                  truncation_direction=dval)]),
                                metadata=auth, timeout=60)
        check("truncation_direction_" + dname, abs(resp.ranks[0].score - want) <= 1e-6
              and abs(sresp.ranks[0].score - want) <= 1e-6, (resp.ranks[0].score, sresp.ranks[0].score, want))
    right_default = json.loads(http("/rerank", {"query": query, "texts": [long_text] * 2, "truncate": True}))
    check("truncation_direction_matters", abs(right_default[0]["score"] - want) > 1e-6, (right_default, want))

    # a NUL inside a string: refused, not cut at the NUL (protobuf-c strings end there)
    c, d = code_of(lambda: rr.Rerank(tei_pb2.RerankRequest(query=query, texts=["a\x00b"], return_text=True),
                                     metadata=auth, timeout=10))
    check("nul_in_text", c == grpc.StatusCode.INVALID_ARGUMENT and "NUL" in d, (c, d))

    # Info and health
    info = tei_pb2_grpc.InfoStub(ch).Info(tei_pb2.InfoRequest(), metadata=auth, timeout=10)
    check("info", info.model_id == "tiny-xlmr" and info.model_type == tei_pb2.MODEL_TYPE_RERANKER
          and info.max_input_length == 512 and info.max_client_batch_size == 16 and info.version, info)
    # Info describes the model the metadata "model" picks, as Rerank scores with it
    info = tei_pb2_grpc.InfoStub(ch).Info(tei_pb2.InfoRequest(), metadata=auth + (("model", "bert"),), timeout=10)
    check("info_by_model", info.model_id == "bert", info)
    h = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=10)
    check("health_serving_without_key", h.status == health_pb2.HealthCheckResponse.SERVING, h)
    h = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service="tei.v1.Rerank"), timeout=10)
    check("health_service_rerank", h.status == health_pb2.HealthCheckResponse.SERVING, h)
    c, d = code_of(lambda: health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service="nope"),
                                                                timeout=10))
    check("health_unknown_service", c == grpc.StatusCode.NOT_FOUND, (c, d))

    # bad messages: not protobuf, empty texts, too many, bad UTF-8, too long without truncation
    raw_rerank = ch.unary_unary("/tei.v1.Rerank/Rerank")
    c, d = code_of(lambda: raw_rerank(b"\xff\xff\xff\xff", metadata=auth, timeout=10))
    check("bad_protobuf", c == grpc.StatusCode.INVALID_ARGUMENT and "malformed" in d, (c, d))
    c, d = code_of(lambda: rr.Rerank(tei_pb2.RerankRequest(query=query), metadata=auth, timeout=10))
    check("empty_texts", c == grpc.StatusCode.INVALID_ARGUMENT and "empty" in d, (c, d))
    c, d = code_of(lambda: rr.Rerank(tei_pb2.RerankRequest(query=query, texts=["x"] * 17), metadata=auth, timeout=10))
    check("too_many_texts", c == grpc.StatusCode.INVALID_ARGUMENT and "limit is 16" in d, (c, d))
    # query "q", texts ["\xff"] on the wire (a proto client would refuse to encode it)
    c, d = code_of(lambda: raw_rerank(b"\x0a\x01q\x12\x01\xff", metadata=auth, timeout=10))
    check("invalid_utf8", c == grpc.StatusCode.INVALID_ARGUMENT and "UTF-8" in d, (c, d))
    c, d = code_of(lambda: rr.Rerank(tei_pb2.RerankRequest(query=query, texts=["panda " * 2000], truncate=False),
                                     metadata=auth, timeout=10))
    check("too_long_untruncated", c == grpc.StatusCode.INVALID_ARGUMENT and "tokens" in d, (c, d))
    c, d = code_of(lambda: rr.Rerank(tei_pb2.RerankRequest(query=query, texts=["a" * 70000]), metadata=auth, timeout=10))
    check("text_too_large", c == grpc.StatusCode.INVALID_ARGUMENT and "bytes" in d, (c, d))
    c, d = code_of(lambda: ch.unary_unary("/tei.v1.Embed/Embed")(b"", metadata=auth, timeout=10))
    check("unknown_method", c == grpc.StatusCode.UNIMPLEMENTED, (c, d))
    c, d = code_of(lambda: rr.RerankStream(iter(()), metadata=auth, timeout=10))
    check("empty_stream", c == grpc.StatusCode.INVALID_ARGUMENT, (c, d))

    # API key
    c, d = code_of(lambda: rr.Rerank(tei_pb2.RerankRequest(query=query, texts=texts), timeout=10))
    check("no_key", c == grpc.StatusCode.UNAUTHENTICATED, (c, d))
    c, d = code_of(lambda: rr.Rerank(tei_pb2.RerankRequest(query=query, texts=texts),
                                     metadata=(("authorization", "Bearer wrong"),), timeout=10))
    check("wrong_key", c == grpc.StatusCode.UNAUTHENTICATED, (c, d))

    # deadline expiry, cancellation: the queued pairs leave the queue
    big = tei_pb2.RerankRequest(query=query, texts=["giant panda bamboo forest " * 60] * 16)
    c, d = code_of(lambda: rr.Rerank(big, metadata=auth, timeout=0.002))
    check("deadline_exceeded", c == grpc.StatusCode.DEADLINE_EXCEEDED, (c, d))
    futs = [rr.Rerank.future(big, metadata=auth, timeout=60) for _ in range(8)]
    time.sleep(0.05)
    for f in futs:
        f.cancel()
    cancelled = sum(1 for f in futs if f.cancelled())
    check("cancellation", cancelled >= 1, "%d of 8 cancelled" % cancelled)

    # a client that disconnects mid-stream (its channel closes under it)
    ch2 = grpc.insecure_channel(target)
    blocked = threading.Event()

    def half_stream():
        yield tei_pb2.RerankStreamRequest(query=query, text="first")
        yield tei_pb2.RerankStreamRequest(text="second")
        blocked.wait(30)
    fut = tei_pb2_grpc.RerankStub(ch2).RerankStream.future(half_stream(), metadata=auth, timeout=60)
    time.sleep(0.2)
    ch2.close()
    blocked.set()
    c, d = code_of(fut.result)
    check("disconnect_mid_stream", c != grpc.StatusCode.OK, (c, d))

    # after all that: the queue drains, the server answers both APIs the same
    end = time.time() + 20
    while time.time() < end and metric("rerank_queue_pairs") != 0:
        time.sleep(0.05)
    check("queue_drained", metric("rerank_queue_pairs") == 0, metric("rerank_queue_pairs"))
    resp = rr.Rerank(tei_pb2.RerankRequest(query=query, texts=texts), metadata=auth, timeout=60)
    got = by_index(resp.ranks)
    check("still_serving", all(abs(got[i] - plain[i]) <= 1e-6 for i in plain), got)
    # shared batcher: gRPC pairs are counted with HTTP's
    check("shared_metrics", (metric("rerank_pairs_scored_total") or 0) >= 4 * len(texts)
          and (metric("rerank_cancelled_requests_total") or 0) >= 1)
    m = http("/metrics")
    check("grpc_metrics", 'rerank_grpc_requests_total{method="/tei.v1.Rerank/Rerank",code="OK"}' in m
          and 'rerank_grpc_requests_total{method="/tei.v1.Rerank/Rerank",code="UNAUTHENTICATED"} 2' in m
          and 'rerank_grpc_requests_total{method="other",code="UNIMPLEMENTED"} 1' in m
          # the server sees an expired deadline, a cancel or a disconnect as CANCELLED
          and 'rerank_grpc_requests_total{method="/tei.v1.Rerank/Rerank",code="CANCELLED"}' in m
          and 'rerank_grpc_request_duration_seconds_count{method="/tei.v1.Info/Info"} 2' in m,
          [l for l in m.splitlines() if "grpc_requests_total" in l])
    ch.close()
    print("RESULT grpc_client failed=%d" % len(FAILED))
    return 1 if FAILED else 0


def long_checks(a, rr, tei_pb2, auth, http, metric, code_of):
    """A --long-docs chunk server: a text longer than the room the query
    leaves is scored in windows over gRPC too (TEI's messages cannot ask for
    it: the server's options hold), the best window's score as over HTTP."""
    query = "what do pandas eat?"
    long_text = " ".join("Sentence %d is about mountains, rivers and the weather." % i for i in range(12)) + \
        " Giant pandas eat bamboo shoots and leaves almost exclusively."
    texts = ["pandas", long_text]

    def scores(rows):
        return {r["index"]: r["score"] for r in rows}

    chunked = json.loads(http("/rerank", {"query": query, "texts": texts, "raw_scores": True}))
    cut = json.loads(http("/rerank", {"query": query, "texts": texts, "raw_scores": True, "long_docs": "truncate"}))
    docs0 = metric("rerank_documents_total") or 0
    resp = rr.Rerank(tei_pb2.RerankRequest(query=query, texts=texts, raw_scores=True), metadata=auth, timeout=60)
    got = {r.index: r.score for r in resp.ranks}
    want, trunc = scores(chunked), scores(cut)
    check("long_text_chunked", len(got) == 2 and all(abs(got[i] - want[i]) <= 1e-6 for i in want)
          and any(r["index"] == 1 and "chunk" in r for r in chunked), (got, chunked))
    # it matters: the truncated text scores otherwise
    check("long_text_not_truncated", abs(want[1] - trunc[1]) > 1e-6 and abs(got[1] - trunc[1]) > 1e-6, (got, trunc))
    # compute_tokens counts every window (more than one pair's max length of 48)
    check("long_compute_tokens", resp.metadata.compute_tokens > 48 + 10, resp.metadata)
    check("long_documents_counted", (metric("rerank_documents_total") or 0) == docs0 + 2,
          (docs0, metric("rerank_documents_total")))
    # more windows than the queue holds (4 texts of 10 windows, --max-chunks-per-doc's
    # default): refused, named, nothing queued or counted
    huge = " ".join("Filler sentence number %d without any pandas in it." % i for i in range(80))
    c, d = code_of(lambda: rr.Rerank(tei_pb2.RerankRequest(query=query, texts=[huge] * 4), metadata=auth, timeout=60))
    check("long_too_many_windows", c.name == "INVALID_ARGUMENT" and "windows" in d and "queue holds 32" in d, (c, d))
    check("long_refused_not_counted", (metric("rerank_documents_total") or 0) == docs0 + 2
          and metric("rerank_queue_pairs") == 0, metric("rerank_documents_total"))


if __name__ == "__main__":
    sys.exit(main())
