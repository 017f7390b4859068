#!/usr/bin/env bash
# Run every test binary in BUILD/tests, then every tests/test_*.sh script
# (given BUILD as its argument; it prints "RESULT passed=N failed=M" like a
# binary), and print the totals as "N passed, N failed" (the line CI reads).
# Exit non-zero on any failure. TESTS="test_a test_b" limits the run to
# those (a script's name is without .sh).
#
# Each test runs under `timeout` (RR_TEST_TIMEOUT seconds, default 1200: the
# slowest, test_cuda_host under ASan, took 200 s on 2 cores) in a process group
# of its own, its output going to a file: a test that hangs fails with its
# output so far instead of stalling the whole run, and whatever it left
# running (a server, a child) is killed when it ends, so nothing holds the
# runner up.
set -u
BUILD=${1:-build}
TMO=${RR_TEST_TIMEOUT:-1200}
passed=0; failed=0; broken=()
log=$(mktemp "${TMPDIR:-/tmp}/rr-test.XXXXXX")
pid=""
trap 'rm -f "$log"' EXIT
# the test's group does not get the terminal's Ctrl-C: pass it on
trap '[ -n "$pid" ] && kill -TERM -- "-$pid" 2>/dev/null; exit 130' INT TERM
for t in "$BUILD"/tests/test_* "$(dirname "$0")"/test_*.sh; do
  case "$t" in *.d|*.o) continue;; *.sh) [ -f "$t" ] || continue;; *) [ -x "$t" ] || continue;; esac
  name=$(basename "$t" .sh)
  if [ -n "${TESTS:-}" ] && ! grep -qw "$name" <<<"$TESTS"; then continue; fi
  echo "== $name"
  t0=$SECONDS
  case "$t" in
    *.sh) timeout -k 10 "$TMO" bash "$t" "$BUILD" >"$log" 2>&1 </dev/null & ;;
    *) timeout -k 10 "$TMO" "$t" >"$log" 2>&1 </dev/null & ;;
  esac
  pid=$!; wait "$pid"; rc=$?
  # timeout leads a process group of its own (its pid): end what is left of it
  if kill -0 -- "-$pid" 2>/dev/null; then
    echo "  $name left processes running; killed"; kill -KILL -- "-$pid" 2>/dev/null
  fi
  out=$(cat "$log")
  printf '%s\n' "$out" | grep -v '^ok ' | head -200
  echo "  ($((SECONDS - t0)) s)"
  line=$(printf '%s\n' "$out" | grep '^RESULT ' | tail -1)
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    echo "  $name timed out after ${TMO} s, or was killed (rc=$rc)"; failed=$((failed+1)); broken+=("$name"); continue
  fi
  if [ -z "$line" ]; then
    echo "  $name crashed or exited early (rc=$rc)"; failed=$((failed+1)); broken+=("$name"); continue
  fi
  p=$(sed -E 's/.*passed=([0-9]+).*/\1/' <<<"$line"); f=$(sed -E 's/.*failed=([0-9]+).*/\1/' <<<"$line")
  passed=$((passed+p)); failed=$((failed+f))
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then failed=$((failed+1)); broken+=("$name"); fi
  [ "$f" -gt 0 ] && broken+=("$name")
done
[ ${#broken[@]} -gt 0 ] && echo "failing: ${broken[*]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
