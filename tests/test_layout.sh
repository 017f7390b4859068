#!/usr/bin/env bash
# test_layout.sh — checks of the build and the source layout, run by tests/run.sh like a test binary.
#
# usage: tests/test_layout.sh BUILD_DIR   (from the repository root, after `make test` built BUILD_DIR)
#  - deps_point_one_way: scripts/check-deps.sh (no two files use each other's symbols, no type name with two
#    meanings, beyond scripts/deps-allow.txt);
#  - second_make_is_a_noop: with everything built, make has nothing to compile or link for `make test`;
#  - shared_library_links_core_only: librerank.so needs OpenMP but none of the server/CLI libraries;
#  - help_lists_every_target: `make help` names every .PHONY target of the Makefile.
set -u
BUILD=${1:-build}
passed=0; failed=0
ok() { echo "ok $1"; passed=$((passed + 1)); }
fail() { echo "not ok $1"; shift; printf '  %s\n' "$@" >&2; failed=$((failed + 1)); }
# A clean make of our own: not a sub-make of the `make test` that runs us.
mk() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make --no-print-directory "$@"; }
cuda=$(cat "$BUILD/cuda-mode.stamp" 2>/dev/null || echo 0)

if out=$(bash scripts/check-deps.sh "$BUILD" 2>&1); then ok deps_point_one_way
else fail deps_point_one_way "$(printf '%s\n' "$out" | grep -v '^allowed:')"; fi

if mk -q BUILD="$BUILD" CUDA="$cuda" test-bins 2>/dev/null; then ok second_make_is_a_noop
else fail second_make_is_a_noop "make would rebuild (make -n BUILD=$BUILD test-bins):" \
    "$(mk -n BUILD="$BUILD" CUDA="$cuda" test-bins 2>&1 | head -5)"; fi

so="$BUILD/librerank.so"
if [ ! -f "$so" ]; then fail shared_library_links_core_only "$so is not built"
else
    needed=$(readelf -d "$so" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
    if grep -qE 'microhttpd|curl|crypto|ssl' <<<"$needed" || ! grep -q 'gomp' <<<"$needed"; then
        fail shared_library_links_core_only "$so needs: $needed (want libgomp, no microhttpd/curl/crypto)"
    else ok shared_library_links_core_only; fi
fi

help=$(mk help BUILD="$BUILD" 2>&1)
missing=""
for t in $(sed -n 's/^\.PHONY:\([^#]*\).*/\1/p' Makefile); do
    case "$t" in *'$'*) continue;; esac # file targets declared phony, e.g. $(BUILD)/rerank.pc
    grep -qE "make $t( |$)" <<<"$help" || missing="$missing $t"
done
if [ -z "$missing" ]; then ok help_lists_every_target
else fail help_lists_every_target "make help does not mention:$missing"; fi

echo "RESULT passed=$passed failed=$failed"
[ "$failed" -eq 0 ]
