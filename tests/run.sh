#!/usr/bin/env bash
# Run every test binary in BUILD/tests, then every tests/test_*.sh script
# (given BUILD as its argument; it prints "RESULT passed=N failed=M" like a
# binary), and print the totals as "N passed, N failed" (the line CI reads).
# Exit non-zero on any failure. TESTS="test_a test_b" limits the run to
# those (a script's name is without .sh).
set -u
BUILD=${1:-build}
passed=0; failed=0; broken=()
for t in "$BUILD"/tests/test_* "$(dirname "$0")"/test_*.sh; do
  case "$t" in *.d|*.o) continue;; *.sh) [ -f "$t" ] || continue;; *) [ -x "$t" ] || continue;; esac
  name=$(basename "$t" .sh)
  if [ -n "${TESTS:-}" ] && ! grep -qw "$name" <<<"$TESTS"; then continue; fi
  echo "== $name"
  case "$t" in
    *.sh) out=$(bash "$t" "$BUILD" 2>&1); rc=$?;;
    *) out=$("$t" 2>&1); rc=$?;;
  esac
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
