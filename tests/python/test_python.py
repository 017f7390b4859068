"""test_python.py — test of the rerank Python package, run by build/tests/test_python (make test).

    test_python.py --build BUILD --layout JSON [--preload LIBASAN] [--make-args "SAN=asan OPT=-O1"]

Creates a fresh venv with this python (Debian's python3-venv), installs the package with the
README's command `pip install ./python` with no package index reachable, then runs checks.py in
the venv against BUILD/librerank.so (RERANK_LIB), the README's Python snippet and
examples/python/rerank_local.py (their scores against `BUILD/rerank score`), predict() with numpy,
and the library found through an install prefix (`make install` + `pip install --config-settings
prefix=...`, no RERANK_LIB). --preload: the ASan runtime, preloaded into every python that loads
a sanitized librerank. Prints "ok NAME" lines and the RESULT line tests/run.sh counts.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Harness  # noqa: E402

H = Harness()
ARGS = None
TMP = None
SHARED = os.environ.get("RERANK_SHARED") or "../shared"
TOL = 1e-6


def venv_python():
    return os.path.join(TMP, "venv", "bin", "python")


def pip_env():
    """No index, no find-links, no user pip config: what a machine without PyPI has."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_CONFIG_FILE=os.devnull,
               PYTHONDONTWRITEBYTECODE="1")
    return env


def lib_env(rerank_lib=True):
    """The environment of a python that loads librerank: RERANK_LIB, and the ASan runtime when sanitized."""
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env.pop("RERANK_LIB", None)
    if rerank_lib:
        env["RERANK_LIB"] = os.path.abspath(os.path.join(ARGS.build, "librerank.so"))
    if ARGS.preload:
        env["LD_PRELOAD"] = ARGS.preload
        # python's own allocations outlive exit by design: leak reports would all be python's
        env["ASAN_OPTIONS"] = ":".join(filter(None, [os.environ.get("ASAN_OPTIONS"), "detect_leaks=0"]))
    return env


def run(cmd, env=None, input=None):
    p = subprocess.run(cmd, env=env, input=input, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    return p.returncode, p.stdout.decode("utf-8", "replace")


def cli_scores(model, jsonl_path):
    with open(jsonl_path, encoding="utf-8") as f:
        return harness.cli_scores(ARGS.build, model, f.read(), env=lib_env())


def scores_match(got, want, what):
    if not H.check(len(got) == len(want) and len(want) > 0, "%s: %d scores, want %d" % (what, len(got), len(want))):
        return
    worst = max(abs(a - b) for a, b in zip(got, want))
    H.check(worst <= TOL, "%s: max |diff| %.3g > %g" % (what, worst, TOL))


def test_pip_install():
    venv = os.path.join(TMP, "venv")
    rc, out = run([sys.executable, "-m", "venv", venv])
    if not H.check(rc == 0, "python3 -m venv failed (is python3-venv installed? scripts/install-deps.sh):\n" + out):
        return
    rc, out = run([venv_python(), "-m", "pip", "install", "./python"], env=pip_env())
    H.check(rc == 0 and "Successfully installed rerank-" in out, "pip install ./python failed:\n" + out)
    rc, out = run([venv_python(), "-c", "import rerank, sys; print(rerank.__file__); print(rerank.__version__)"],
                  env=pip_env())
    H.check(rc == 0 and os.path.join(venv, "lib") in out, "rerank not imported from the venv:\n" + out)
    with open("include/rerank.h") as f:
        header = re.search(r'#define RERANK_VERSION "([^"]+)"', f.read()).group(1)
    H.check(out.strip().endswith(header), "package version %r, header %s" % (out.strip(), header))


def test_checks():
    """checks.py in the venv: its own ok/not ok lines and counts join ours."""
    cmd = [venv_python(), "tests/python/checks.py", "--build", ARGS.build, "--layout", ARGS.layout]
    if ARGS.preload:
        cmd.append("--asan")
    p = subprocess.Popen(cmd, env=lib_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    result = []
    for raw in p.stdout:  # pass its lines on as they come, but the RESULT line (ours sums it)
        line = raw.decode("utf-8", "replace")
        m = re.match(r"RESULT passed=(\d+) failed=(\d+)$", line.rstrip("\n"))
        if m:
            result.append(m.groups())
        else:
            sys.stdout.write(line)
            sys.stdout.flush()
    p.wait()
    if not result:
        print("not ok checks.py (crashed or exited early, rc=%d)" % p.returncode, flush=True)
        H.add(0, 1)
        return
    passed, failed = map(int, result[-1])
    H.add(passed, failed + (1 if p.returncode and not failed else 0))


def readme_snippet():
    with open("README.md", encoding="utf-8") as f:
        text = f.read()
    section = text[text.index("\n### Python"):]
    m = re.search(r"```python\n(.*?)```", section, re.S)
    return m.group(1)


def test_readme_snippet():
    """The README's first Python snippet prints the fixture pairs' scores: the CLI's within 1e-6."""
    snippet = readme_snippet()
    rc, out = run([venv_python(), "-c", snippet], env=lib_env())
    if not H.check(rc == 0, "README snippet failed:\n%s\n%s" % (snippet, out)):
        return
    got = [json.loads(line)["score"] for line in out.splitlines()]
    want = cli_scores(os.path.join(SHARED, "fixtures/models/tiny-xlmr"),
                      os.path.join(SHARED, "fixtures/golden/pairs-xlmr.jsonl"))
    scores_match(got, want, "README snippet vs rerank score")


def test_example():
    model = os.path.join(SHARED, "fixtures/models/tiny-bert")
    docs = ["hi", "The giant panda is a bear species endemic to China.", "Pandas eat bamboo."]
    rc, out = run([venv_python(), "examples/python/rerank_local.py", "--model", model, "--query", "what is panda?",
                   "--json"] + docs, env=lib_env())
    if not H.check(rc == 0, "example failed:\n" + out):
        return
    ranking = json.loads(out)
    path = os.path.join(TMP, "example.jsonl")
    with open(path, "w") as f:
        for d in docs:
            f.write(json.dumps({"query": "what is panda?", "doc": d}) + "\n")
    want = cli_scores(model, path)
    H.check(sorted(r["corpus_id"] for r in ranking) == [0, 1, 2], out)
    scores_match([r["score"] for r in ranking], [want[r["corpus_id"]] for r in ranking], "example vs rerank score")
    H.check([r["corpus_id"] for r in ranking] == sorted(range(3), key=lambda i: -want[i]), "best first: " + out)
    H.check(all(r["text"] == docs[r["corpus_id"]] for r in ranking), out)
    rc, out = run([venv_python(), "examples/python/rerank_local.py", "--model", "/nonexistent", "--query", "q", "d"],
                  env=lib_env())
    H.check(rc == 1 and "rerank: /nonexistent" in out, "an error exits 1 with the library's message:\n" + out)


NUMPY_CHECK = r"""
import numpy as np, rerank, sys
r = rerank.Reranker(sys.argv[1])
pairs = [["what is panda?", "hi"], ["what is panda?", "The giant panda is a bear."]]
a = r.predict(pairs)
assert isinstance(a, np.ndarray) and a.dtype == np.float32 and a.shape == (2,), repr(a)
one = r.predict(pairs[1])
assert isinstance(one, np.float32) and abs(one - a[1]) <= 1e-6, repr(one)
lst = r.predict(pairs, convert_to_numpy=False)
assert isinstance(lst, list) and np.allclose(lst, a, atol=1e-6), repr(lst)
assert r.predict([]).shape == (0,)
print("numpy ok")
"""


def test_predict_numpy():
    """predict() gives a numpy float32 array where numpy is installed (Debian's python3-numpy, outside the venv)."""
    rc, out = run([sys.executable, "-c", "import numpy"])
    if rc:
        print("  SKIP test_predict_numpy: numpy is not installed for %s (python3-numpy)" % sys.executable, flush=True)
        return
    rc, site = run([venv_python(), "-c", "import rerank, os; print(os.path.dirname(os.path.dirname(rerank.__file__)))"])
    env = lib_env()
    env["PYTHONPATH"] = site.strip()
    rc, out = run([sys.executable, "-c", NUMPY_CHECK, os.path.join(SHARED, "fixtures/models/tiny-bert")], env=env)
    H.check(rc == 0 and "numpy ok" in out, out)


def test_asan_active():
    """Under --preload the library really runs sanitized inside python: a bad free is reported."""
    code = ("import ctypes, rerank._native as n\nlib = n.load_library()\nbuf = (ctypes.c_int32 * 4)()\n"
            "enc = n.Encoding(buf, buf, 4, 4)\nlib.rerank_encoding_free(ctypes.byref(enc))\nprint('not caught')")
    rc, out = run([venv_python(), "-c", code], env=lib_env())
    H.check(rc != 0 and "AddressSanitizer" in out and "not caught" not in out,
            "freeing a non-heap pointer was not reported (rc=%d):\n%s" % (rc, out[-2000:]))


def test_install_prefix():
    """`make install` to a prefix, `pip install --config-settings prefix=...`: found with no RERANK_LIB."""
    stage = os.path.join(TMP, "stage")
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    rc, out = run(["make", "-s", "install", "BUILD=" + ARGS.build, "DESTDIR=" + stage, "PREFIX=/opt/rerank"]
                  + ARGS.make_args.split(), env=env)
    if not H.check(rc == 0, "make install failed:\n" + out):
        return
    prefix = os.path.join(stage, "opt", "rerank")
    rc, out = run([venv_python(), "-m", "pip", "install", "--force-reinstall", "--config-settings",
                   "prefix=" + prefix, "./python"], env=pip_env())
    if not H.check(rc == 0, "pip install --config-settings prefix=... failed:\n" + out):
        return
    code = ("import rerank, sys\nr = rerank.Reranker(sys.argv[1])\nprint(rerank.library_path())\n"
            "print(r.compute_score(['what is panda?', 'The giant panda is a bear.']))")
    model = os.path.join(SHARED, "fixtures/models/tiny-bert")
    rc, out = run([venv_python(), "-c", code, model], env=lib_env(rerank_lib=False))
    if not H.check(rc == 0, out):
        return
    path, score = out.split("\n")[:2]
    H.check(path == os.path.join(prefix, "lib", "librerank.so.0.2"), "loaded %s" % path)
    rc, ref = run([venv_python(), "-c", code, model], env=lib_env())
    H.check(rc == 0 and ref.split("\n")[1] == score, "installed %s vs build %s" % (score, ref))
    rc, out = run([venv_python(), "-m", "pip", "install", "--config-settings", "prefix=relative/dir",
                   "--force-reinstall", "./python"], env=pip_env())
    H.check(rc != 0 and "must be an absolute path" in out, "a relative prefix is refused:\n" + out)


def main():
    global ARGS, TMP
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--layout", required=True)
    ap.add_argument("--preload", default="")
    ap.add_argument("--make-args", default="")
    ARGS = ap.parse_args()
    if ARGS.preload and not os.path.isfile(ARGS.preload):
        print("not ok test_python: the ASan runtime %r does not exist" % ARGS.preload)
        H.add(0, 1)
        return H.finish()
    TMP = tempfile.mkdtemp(prefix="rr-test-python-")
    try:
        H.run(test_pip_install)
        if H.failed:  # nothing else can run without the package
            return H.finish()
        test_checks()
        for test in (test_readme_snippet, test_example, test_predict_numpy, test_install_prefix):
            H.run(test)
        if ARGS.preload:
            H.run(test_asan_active)
    finally:
        if not os.environ.get("RR_KEEP_TMP"):
            shutil.rmtree(TMP, ignore_errors=True)
    return H.finish()


if __name__ == "__main__":
    sys.exit(main())
