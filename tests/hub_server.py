#!/usr/bin/env python3
"""hub_server.py — a fake Hugging Face Hub on 127.0.0.1 for tests/test_hub.c.

Standard library only. Serves the fixture models in the Hub's URL layout:

  HEAD/GET /{MODE}/{FIXTURE}/resolve/{main|COMMIT}/{FILE}

with the Hub's headers: X-Repo-Commit, ETag (git blob sha1) for small files;
for LFS files (*.safetensors and anything over 10 MB) a 302 to
http://localhost:PORT/cdn/... (another host name, like the Hub's CDN) with
X-Linked-Etag (sha256) and X-Linked-Size. The CDN honours Range.

MODE (the "organisation") selects behaviour:
  test       normal
  interrupt  the first GET without Range of each CDN file stops mid-body
  corrupt    CDN bodies have one byte flipped (sha256 mismatch)
  noopt      tokenizer_config.json / special_tokens_map.json answer 404
  private    resolve needs "Authorization: Bearer hf_test_token_123" (else 401)
  badshard   the sharded index names "../evil.safetensors"
  moved      every resolve URL answers 307 to /test/... (a renamed repo)
An endpoint with the path prefix /down (http://127.0.0.1:PORT/down) is a Hub
in an outage: every request answers 503.
FIXTURE is a directory under --root, or "<dir>-sharded": the same model with
model.safetensors split into two shards plus model.safetensors.index.json
(written under --work).

Every request is logged to --log as one line:
  METHOD HOST PATH range=RANGE auth=AUTH
Prints "PORT <n>" on stdout once listening.
"""
import argparse
import hashlib
import http.server
import json
import os
import struct
import sys
import threading
import urllib.parse

LFS_MIN = 10 * 1024 * 1024
OPTIONAL = {"tokenizer_config.json", "special_tokens_map.json"}
MODES = {"test", "interrupt", "corrupt", "noopt", "private", "badshard"}
TOKEN = "hf_test_token_123"

ARGS = None
LOCK = threading.Lock()
CACHE = {}          # path -> (bytes, sha256, gitsha1)
INTERRUPTED = set()  # (org, name, file) already cut once
PORT = 0


def blob(path):
    with LOCK:
        if path not in CACHE:
            with open(path, "rb") as f:
                data = f.read()
            git = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
            CACHE[path] = (data, hashlib.sha256(data).hexdigest(), git)
        return CACHE[path]


def make_sharded(src_dir, out_dir, bad):
    """Split model.safetensors of src_dir into two shards in out_dir."""
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(src_dir, "model.safetensors"), "rb") as f:
        raw = f.read()
    (hlen,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + hlen])
    data = raw[8 + hlen:]
    names = sorted(k for k in header if k != "__metadata__")
    halves = [names[: len(names) // 2], names[len(names) // 2:]]
    weight_map = {}
    total = 0
    for i, part in enumerate(halves):
        fname = "model-%05d-of-%05d.safetensors" % (i + 1, len(halves))
        h, chunks, off = {}, [], 0
        for n in part:
            b, e = header[n]["data_offsets"]
            h[n] = dict(header[n], data_offsets=[off, off + (e - b)])
            chunks.append(data[b:e])
            off += e - b
            weight_map[n] = "../evil.safetensors" if bad and i == 1 else fname
        hj = json.dumps(h).encode()
        hj += b" " * ((8 - len(hj) % 8) % 8)
        with open(os.path.join(out_dir, fname), "wb") as f:
            f.write(struct.pack("<Q", len(hj)) + hj + b"".join(chunks))
        total += off
    with open(os.path.join(out_dir, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)


def repo_files(org, name):
    """{file: path} of a repo, or None."""
    base = name[: -len("-sharded")] if name.endswith("-sharded") else name
    src = os.path.join(ARGS.root, base)
    if org not in MODES or "/" in name or name.startswith(".") or not os.path.isdir(src):
        return None
    files = {f: os.path.join(src, f) for f in os.listdir(src)}
    if name.endswith("-sharded"):
        bad = org == "badshard"
        out = os.path.join(ARGS.work, ("bad-" if bad else "") + name)
        with LOCK:
            if not os.path.exists(os.path.join(out, "model.safetensors.index.json")):
                make_sharded(src, out, bad)
        del files["model.safetensors"]
        for f in os.listdir(out):
            files[f] = os.path.join(out, f)
    if org == "noopt":
        for f in OPTIONAL:
            files.pop(f, None)
    return files


def commit_of(org, name):
    return hashlib.sha1(("%s/%s" % (org, name)).encode()).hexdigest()


def is_lfs(fname, size):
    return fname.endswith(".safetensors") or size > LFS_MIN


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "FakeHub/1.0"

    def log_message(self, *a):
        pass

    def log_req(self):
        line = "%s %s %s range=%s auth=%s\n" % (
            self.command, self.headers.get("Host", "-"), self.path,
            self.headers.get("Range", "-").replace(" ", ""),
            self.headers.get("Authorization", "-").replace(" ", "_"))
        with LOCK:
            with open(ARGS.log, "a") as f:
                f.write(line)

    def do_HEAD(self):
        self.handle_req(True)

    def do_GET(self):
        self.handle_req(False)

    def reply(self, code, headers, body=b"", head=False):
        self.send_response(code)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head and body:
            self.wfile.write(body)

    def handle_req(self, head):
        self.log_req()
        path = urllib.parse.urlsplit(self.path).path
        parts = [urllib.parse.unquote(p) for p in path.split("/")]
        if parts[1] == "down":
            return self.reply(503, {"X-Error-Message": "Service Unavailable"}, b"", head)
        if len(parts) == 5 and parts[1] == "cdn":
            return self.cdn(parts[2], parts[3], parts[4], head)
        if len(parts) != 6 or parts[3] != "resolve":
            return self.reply(404, {"X-Error-Code": "EntryNotFound"}, b"not found", head)
        org, name, _, rev, fname = parts[1:6]
        if org == "moved":  # a renamed repo: relative redirect, no metadata
            loc = "/test/%s/resolve/%s/%s" % (name, urllib.parse.quote(rev, safe=""),
                                              urllib.parse.quote(fname))
            return self.reply(307, {"Location": loc}, b"", head)
        files = repo_files(org, name)
        if files is None or (org == "private" and
                             self.headers.get("Authorization") != "Bearer " + TOKEN):
            return self.reply(401, {"X-Error-Code": "RepoNotFound",
                                    "X-Error-Message": "Repository not found"}, b"", head)
        commit = commit_of(org, name)
        if rev not in ("main", commit):
            return self.reply(404, {"X-Error-Code": "RevisionNotFound"}, b"", head)
        if fname not in files:
            return self.reply(404, {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": commit},
                              b"Entry not found", head)
        data, sha, git = blob(files[fname])
        if is_lfs(fname, len(data)):
            loc = "http://localhost:%d/cdn/%s/%s/%s" % (PORT, org, name, urllib.parse.quote(fname))
            return self.reply(302, {"Location": loc, "X-Repo-Commit": commit,
                                    "X-Linked-Etag": '"%s"' % sha,
                                    "X-Linked-Size": str(len(data)),
                                    "ETag": '"%s"' % git}, b"", head)
        self.ranged(data, {"X-Repo-Commit": commit, "ETag": '"%s"' % git}, head)

    def ranged(self, data, headers, head, cut=False):
        rng = self.headers.get("Range")
        start = 0
        if rng:
            spec = rng.replace(" ", "")
            if not spec.startswith("bytes=") or "," in spec:
                return self.reply(416, {"Content-Range": "bytes */%d" % len(data)}, b"", head)
            a, _, b = spec[6:].partition("-")
            start = int(a)
            if start >= len(data):
                return self.reply(416, {"Content-Range": "bytes */%d" % len(data)}, b"", head)
        body = data[start:]
        self.send_response(206 if rng else 200)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Accept-Ranges", "bytes")
        if rng:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if head:
            return
        if cut:
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            try:
                self.connection.shutdown(2)
            except OSError:
                pass
            return
        self.wfile.write(body)

    def cdn(self, org, name, fname, head):
        if self.headers.get("Host", "").split(":")[0] != "localhost":
            return self.reply(400, {}, b"the CDN is reached as localhost", head)
        files = repo_files(org, name)
        if files is None or fname not in files:
            return self.reply(404, {}, b"", head)
        data, sha, git = blob(files[fname])
        cut = False
        if org == "corrupt":
            mid = len(data) // 2
            data = data[:mid] + bytes([data[mid] ^ 0xFF]) + data[mid + 1:]
        if org == "interrupt" and not head and not self.headers.get("Range"):
            key = (org, name, fname)
            with LOCK:
                cut = key not in INTERRUPTED
                INTERRUPTED.add(key)
        self.ranged(data, {"ETag": '"%s"' % sha}, head, cut)


def main():
    global ARGS, PORT
    p = argparse.ArgumentParser()
    p.add_argument("--root", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--port", type=int, default=0)
    ARGS = p.parse_args()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", ARGS.port), Handler)
    srv.daemon_threads = True
    PORT = srv.server_address[1]
    print("PORT %d" % PORT, flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
