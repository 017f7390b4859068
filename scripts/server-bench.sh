#!/usr/bin/env bash
# server-bench.sh — throughput through `rerank serve` against `rerank bench`
# on the same pairs, and latency under open-loop load (issue #4).
#
#   scripts/server-bench.sh --model DIR [--precision P] [--queries Q] [--docs D]
#       [--clients C] [--seconds S] [--max-length L] [--threads N] [--runs R]
#       [--warmup S] [--timeout S] [--build DIR] [--keep DIR]
#
# 1. pairs: the first Q queries of ../shared/eval/trec-dl (dl19, then dl20)
#    with their first D BM25 passages -> Q*D lines {"query", "doc"}
#    (defaults Q=32, D=8).
# 2. `rerank bench --input PAIRS` (scores each query's D passages in one call;
#    median of R runs, default 3) -> bench pairs/s.
# 3. `rerank serve` on a free loopback port, same model/precision/threads.
# 4. a closed-loop warm-up (--warmup, default 5 s), then build/loadgen with C
#    keep-alive clients (default 16) sending D-document requests back to back
#    for S seconds (default 60) -> saturated pairs/s and req/s; ratio to bench.
# 5. loadgen --rate at 50% and 90% of the saturated req/s for S seconds each
#    (fixed intervals; latency from the scheduled start) -> P50/P99.
# 6. a markdown table and the exact commands; SIGTERM to the server.
# Exit status: 0 if every step ran, every request got 200 and the server
# exited 0 on SIGTERM (the ratio itself does not change it), else 1; 2 for
# bad arguments. --keep DIR keeps the pairs file, logs and JSON outputs.
# Needs jq or python3 (to write the pairs file) and curl. Env: BUILD.
# Sizing: each open-loop run sends about S x (rate) requests, so P99 needs
# S >= 100 / (0.5 x saturated req/s); on 2 CPU cores the full-size model
# does a few pairs/s (a 16 x 8-pair round takes tens of seconds): use e.g.
# --seconds 600 there, and --timeout (per request, default 600 s) above the
# closed-loop latency.
set -uo pipefail

SELF_CMD="scripts/server-bench.sh $*"
MODEL=""; PREC=fp32; Q=32; D=8; C=16; S=60; MAXLEN=""; THREADS=""; RUNS=3; WARMUP=5; TIMEOUT=600
BUILD=${BUILD:-build}; KEEP=""
while [ $# -gt 0 ]; do
  case "$1" in -h|--help) ;; *) [ $# -ge 2 ] || { echo "server-bench: $1 needs a value (--help)" >&2; exit 2; };; esac
  case "$1" in
    --model) MODEL=$2;; --precision) PREC=$2;; --queries) Q=$2;; --docs) D=$2;; --clients) C=$2;;
    --seconds) S=$2;; --max-length) MAXLEN=$2;; --threads) THREADS=$2;; --runs) RUNS=$2;;
    --warmup) WARMUP=$2;; --timeout) TIMEOUT=$2;; --build) BUILD=$2;; --keep) KEEP=$2;;
    -h|--help) sed -n '2,29p' "$0"; exit 0;;
    *) echo "server-bench: unknown argument $1 (--help)" >&2; exit 2;;
  esac
  shift 2
done
die() { echo "server-bench: $*" >&2; exit 2; }     # bad arguments or setup
fatal() { echo "server-bench: FAIL: $*" >&2; exit 1; }
[ -n "$MODEL" ] || die "--model DIR is required (--help)"
for v in "$Q" "$D" "$C" "$RUNS" "$TIMEOUT" ${MAXLEN:+"$MAXLEN"} ${THREADS:+"$THREADS"}; do
  [[ "$v" =~ ^[0-9]+$ ]] || die "expected a whole number, got '$v'"
done
[[ "$S" =~ ^[0-9]+(\.[0-9]+)?$ && "$WARMUP" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "--seconds/--warmup: expected a number"
[ "$Q" -ge 1 ] && [ "$D" -ge 1 ] && [ "$C" -ge 1 ] || die "--queries, --docs and --clients must be >= 1"
# Paths given relative to the caller's directory (a Hub id ORG/NAME stays as is).
[ -e "$MODEL" ] && MODEL=$(realpath "$MODEL")
[ -n "$KEEP" ] && KEEP=$(realpath -m "$KEEP")
cd "$(dirname "$0")/.." || exit 2
DATA_DIR=../shared/eval/trec-dl
DATA=("$DATA_DIR/retrieve_results_dl19.json" "$DATA_DIR/retrieve_results_dl20.json")
for f in "${DATA[@]}"; do [ -f "$f" ] || die "$f not found"; done
command -v curl >/dev/null || die "curl is required"
if [ ! -x "$BUILD/rerank" ] || [ ! -x "$BUILD/loadgen" ]; then
  make -j2 BUILD="$BUILD" "$BUILD/rerank" "$BUILD/loadgen" >/dev/null || fatal "build failed"
fi
RERANK=$BUILD/rerank; LOADGEN=$BUILD/loadgen
if [ -n "$MAXLEN" ] && ! "$RERANK" bench --help 2>&1 | grep -q -- --max-length; then
  die "--max-length: rerank bench has no --max-length, so bench and server would not score the same pairs"
fi

if [ -n "$KEEP" ]; then mkdir -p "$KEEP" || exit 2; WORK=$KEEP; else WORK=$(mktemp -d /tmp/rr_srvbench_XXXXXX); fi
SRV_PID=""
cleanup() {
  [ -n "$SRV_PID" ] && kill -0 "$SRV_PID" 2>/dev/null && kill -KILL "$SRV_PID" 2>/dev/null
  [ -z "$KEEP" ] && rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 3' INT TERM
FAIL=0
fail() { echo "server-bench: FAIL: $*" >&2; FAIL=1; }
# jget FIELD JSON -> the value of a top-level scalar field of a one-line JSON object
jget() { sed -n "s/.*\"$1\": *\"\{0,1\}\([^,\"}]*\).*/\1/p" <<<"$2"; }
calc() { awk "BEGIN { printf \"%.${2:-2}f\", ($1) }"; }
CMDS=("$SELF_CMD   # writes PAIRS, then runs:")

# 1. pairs
PAIRS=$WORK/pairs.jsonl
if command -v jq >/dev/null; then
  jq -c -n --argjson q "$Q" --argjson d "$D" \
    '[inputs[] | select((.hits | length) >= $d)] | .[:$q][] | .query as $qq
     | (.hits | sort_by(.rank) | .[:$d][]) | {query: $qq, doc: .content}' "${DATA[@]}" >"$PAIRS"
elif command -v python3 >/dev/null; then
  python3 - "$Q" "$D" "${DATA[@]}" >"$PAIRS" <<'EOF'
import json, sys
q, d = int(sys.argv[1]), int(sys.argv[2])
rows = [r for f in sys.argv[3:] for r in json.load(open(f)) if len(r["hits"]) >= d][:q]
for r in rows:
    for h in sorted(r["hits"], key=lambda h: h["rank"])[:d]:
        print(json.dumps({"query": r["query"], "doc": h["content"]}, ensure_ascii=False))
EOF
else
  die "jq or python3 is needed to write the pairs file"
fi
NLINES=$(wc -l <"$PAIRS")
[ "$NLINES" -gt 0 ] && [ $((NLINES % D)) -eq 0 ] || fatal "could not write $PAIRS ($NLINES lines)"
QN=$((NLINES / D))
[ "$QN" -eq "$Q" ] || echo "server-bench: note: only $QN queries have >= $D passages; using $QN"
echo "server-bench: $NLINES pairs ($QN queries x $D passages) in $PAIRS"

# 2. rerank bench
BENCH_ARGS=(bench --model "$MODEL" --input "$PAIRS" --precision "$PREC" --runs "$RUNS")
[ -n "$THREADS" ] && BENCH_ARGS+=(--threads "$THREADS")
[ -n "$MAXLEN" ] && BENCH_ARGS+=(--max-length "$MAXLEN")
echo "server-bench: rerank bench ..."
CMDS+=("$RERANK ${BENCH_ARGS[*]}")
BENCH_JSON=$("$RERANK" "${BENCH_ARGS[@]}" 2>"$WORK/bench.err") || { cat "$WORK/bench.err" >&2; fatal "rerank bench failed"; }
echo "$BENCH_JSON" >"$WORK/bench.json"
BENCH_PPS=$(jget pairs_per_s "$BENCH_JSON")
[ -n "$BENCH_PPS" ] || fatal "no pairs_per_s in: $BENCH_JSON"
echo "server-bench: bench $BENCH_PPS pairs/s"

# 3. rerank serve
SRV_ARGS=(serve --model "$MODEL" --precision "$PREC" --host 127.0.0.1 --port 0 --no-access-log)
[ -n "$THREADS" ] && SRV_ARGS+=(--threads "$THREADS")
[ -n "$MAXLEN" ] && SRV_ARGS+=(--max-length "$MAXLEN")
CMDS+=("$RERANK ${SRV_ARGS[*]}")
"$RERANK" "${SRV_ARGS[@]}" 2>"$WORK/server.log" &
SRV_PID=$!
URL=""
for _ in $(seq 1 6000); do   # up to 10 minutes for a large model
  kill -0 "$SRV_PID" 2>/dev/null || break
  if grep -q "rerank: ready" "$WORK/server.log"; then
    PORT=$(sed -n 's/.*listening on http:\/\/[^:]*:\([0-9]*\).*/\1/p' "$WORK/server.log" | head -1)
    [ -n "$PORT" ] && curl -sf -o /dev/null --max-time 5 "http://127.0.0.1:$PORT/ready" && { URL=http://127.0.0.1:$PORT; break; }
  fi
  sleep 0.1
done
if [ -z "$URL" ]; then cat "$WORK/server.log" >&2; fatal "the server did not become ready"; fi
echo "server-bench: server pid $SRV_PID on $URL"

LG=("$LOADGEN" --url "$URL" --pairs "$PAIRS" --docs "$D" -c "$C" --timeout "$TIMEOUT" --pid "$SRV_PID" --json)
# loadgen NAME ARGS... -> sets J (its JSON line); checks errors and non-200s
loadgen() {
  local name=$1; shift
  echo "server-bench: loadgen $name ..."
  CMDS+=("${LG[*]} $*")
  J=$("${LG[@]}" "$@" 2>"$WORK/loadgen-$name.err"); local rc=$?
  echo "$J" >"$WORK/loadgen-$name.json"
  if [ "$rc" -ne 0 ] || [ -z "$(jget ok "$J")" ]; then
    cat "$WORK/loadgen-$name.err" >&2; fail "loadgen $name exited $rc: $J"; return 1
  fi
  [ "$(jget non_200 "$J")" = 0 ] || fail "loadgen $name: $(jget non_200 "$J") answers were not 200"
  [ "$(jget unsent "$J")" = 0 ] ||
    echo "server-bench: warning: loadgen $name: $(jget unsent "$J") scheduled requests never started (all $C busy)"
  return 0
}

# 4. warm-up, then saturated closed loop
[ "$(calc "$WARMUP > 0" 0)" = 1 ] && { loadgen warmup -d "$WARMUP" || true; }
SAT_PPS=""; SAT_RPS=""
if loadgen closed -d "$S"; then
  SAT=$J; SAT_PPS=$(jget pairs_per_s "$J"); SAT_RPS=$(jget req_per_s "$J")
fi
declare -A ROW=()
if [ -n "$SAT_RPS" ] && [ "$(calc "$SAT_RPS > 0" 0)" = 1 ]; then
  # 5. open loop at 50% and 90% of the saturated request rate
  for pct in 50 90; do
    rate=$(calc "$SAT_RPS * $pct / 100" 4)
    if loadgen "open$pct" -d "$S" --rate "$rate"; then ROW[$pct]=$J; fi
  done
else
  fail "no saturated request rate measured"
fi

# 6. stop the server, report
kill -TERM "$SRV_PID"; wait "$SRV_PID"; SRV_RC=$?; SRV_PID=""
[ "$SRV_RC" -eq 0 ] || fail "the server exited with $SRV_RC on SIGTERM"

RATIO=""
[ -n "$SAT_PPS" ] && RATIO=$(calc "$SAT_PPS / $BENCH_PPS" 3)
fmt() { [ -n "$1" ] && [ "$1" != null ] && calc "$1" "${2:-1}" || echo "-"; }
echo
echo "### rerank serve vs rerank bench: $(basename "$MODEL"), $PREC, $QN queries x $D docs, $C clients, ${S} s per run"
echo
echo "| run | offered req/s | req/s | pairs/s | ok | p50 ms | p90 ms | p99 ms | max ms |"
echo "|---|---|---|---|---|---|---|---|---|"
echo "| rerank bench (in-process, median of $RUNS) | | | $(fmt "$BENCH_PPS" 3) | | | | | |"
# row LABEL JSON: one table row from a loadgen JSON line
row() {
  local u; u=$(jget unsent "$2"); [ "${u:-0}" = 0 ] && u="" || u=" (+$u unsent)"
  printf '| %s | %s | %s | %s | %s%s | %s | %s | %s | %s |\n' "$1" "$(fmt "$(jget rate "$2")" 4)" \
    "$(fmt "$(jget req_per_s "$2")" 4)" "$(fmt "$(jget pairs_per_s "$2")" 3)" "$(jget ok "$2")" "$u" \
    "$(fmt "$(jget p50_ms "$2")" 0)" "$(fmt "$(jget p90_ms "$2")" 0)" "$(fmt "$(jget p99_ms "$2")" 0)" "$(fmt "$(jget max_ms "$2")" 0)"
}
[ -n "$SAT_PPS" ] && row "server, closed loop, $C clients" "$SAT"
for pct in 50 90; do
  [ -n "${ROW[$pct]:-}" ] && row "server, open loop, $pct% of saturated" "${ROW[$pct]}"
done
echo
if [ -n "$RATIO" ]; then
  verdict=$([ "$(calc "$RATIO >= 0.9" 0)" = 1 ] && echo "meets" || echo "is BELOW")
  echo "server / bench throughput: $RATIO ($verdict the 0.9 target)"
fi
echo "Latency of open-loop runs is measured from each request's scheduled start (fixed intervals)."
echo
echo "Commands (PAIRS = $PAIRS, written from ${DATA[*]}):"
for c in "${CMDS[@]}"; do echo "    ${c//$PAIRS/PAIRS}"; done
[ "$FAIL" = 0 ] && echo "server-bench: OK" || echo "server-bench: FAILED (see above)"
exit "$FAIL"
