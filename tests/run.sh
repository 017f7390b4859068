#!/usr/bin/env bash
# Run every test binary in BUILD/tests and print the totals as
# "N passed, N failed" (the line CI reads). Exit non-zero on any failure.
# TESTS="test_a test_b" limits the run to those binaries.
set -u
BUILD=${1:-build}
passed=0; failed=0; broken=()
for t in "$BUILD"/tests/test_*; do
  [ -x "$t" ] || continue
  case "$t" in *.d|*.o) continue;; esac
  name=$(basename "$t")
  if [ -n "${TESTS:-}" ] && ! grep -qw "$name" <<<"$TESTS"; then continue; fi
  echo "== $name"
  out=$("$t" 2>&1); rc=$?
  printf '%s\n' "$out" | grep -v '^ok ' | head -200
  line=$(printf '%s\n' "$out" | grep '^RESULT ' | tail -1)
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
