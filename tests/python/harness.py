"""harness.py — the Python side of tests/test.h (named checks, "ok NAME" / "not ok NAME" lines, a RESULT
line), and the C CLI's scores the Python tests compare with."""
import json
import os
import subprocess
import sys
import traceback


def cli_scores(build, model, jsonl, flags=(), env=None):
    """`BUILD/rerank score --model MODEL --input -` over jsonl ({"query", "doc"} lines): one score per line."""
    p = subprocess.run([os.path.join(build, "rerank"), "score", "--model", model, "--input", "-"] + list(flags),
                       input=jsonl.encode("utf-8"), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       check=False)
    if p.returncode:
        raise RuntimeError("rerank score failed (%d): %s" % (p.returncode, p.stderr.decode(errors="replace")))
    rows = [json.loads(line) for line in p.stdout.decode().split("\n") if line]
    lines = sum(1 for line in jsonl.split("\n") if line.strip())  # not splitlines(): texts may hold U+2028
    if [r["index"] for r in rows] != list(range(lines)):
        raise RuntimeError("rerank score printed indexes %s" % [r["index"] for r in rows])
    return [r["score"] for r in rows]


class Harness:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self._current = None

    def check(self, cond, msg=""):
        """Record a failure of the running test (it goes on, like CHECK_MSG)."""
        if not cond:
            self._current_failures += 1
            frame = traceback.extract_stack(limit=2)[0]
            print("  FAIL %s (%s:%d): %s" % (self._current, frame.filename.rsplit("/", 1)[-1], frame.lineno, msg),
                  file=sys.stderr, flush=True)
        return bool(cond)

    def near(self, a, b, tol, what=""):
        return self.check(abs(a - b) <= tol, "%s%.9g vs %.9g (tolerance %g)" % (what + ": " if what else "", a, b, tol))

    def raises(self, exc_type, fn, *args, contains=None, **kwargs):
        """fn(*args, **kwargs) must raise exc_type (and its message contain `contains`); returns the exception."""
        try:
            fn(*args, **kwargs)
        except exc_type as e:
            if contains is not None:
                self.check(contains in str(e), "%s: message %r lacks %r" % (exc_type.__name__, str(e), contains))
            return e
        except Exception as e:  # the wrong exception
            self.check(False, "expected %s, got %s: %s" % (exc_type.__name__, type(e).__name__, e))
            return None
        self.check(False, "expected %s, nothing raised" % exc_type.__name__)
        return None

    def run(self, fn, *args):
        self._current, self._current_failures = fn.__name__, 0
        try:
            fn(*args)
        except Exception:
            self._current_failures += 1
            print("  FAIL %s: unexpected exception\n%s" % (fn.__name__, traceback.format_exc()), file=sys.stderr,
                  flush=True)
        if self._current_failures:
            self.failed += 1
            print("not ok %s" % fn.__name__, flush=True)
        else:
            self.passed += 1
            print("ok %s" % fn.__name__, flush=True)

    def add(self, passed, failed):
        """Counts of a child run (its RESULT line)."""
        self.passed += passed
        self.failed += failed

    def finish(self):
        print("RESULT passed=%d failed=%d" % (self.passed, self.failed), flush=True)
        return 1 if self.failed else 0
